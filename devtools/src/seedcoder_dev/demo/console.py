"""How the demo talks to a person: numbered steps, what each did, and how long it took.

Why a module: every step prints the same way, and the record of each step's
outcome (also written as JSON) is what the demo's test asserts on.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class StepRecord:
    """One step's outcome: its title, whether it succeeded, how long it took, what it found."""

    number: int
    title: str
    ok: bool = False
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Console:
    """Prints steps as they happen and keeps their records."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.steps: list[StepRecord] = []
        self._t0 = time.monotonic()

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def detail(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            print(f"    {line}", file=self.out, flush=True)

    @contextmanager
    def step(self, title: str) -> Iterator[StepRecord]:
        record = StepRecord(number=len(self.steps) + 1, title=title)
        self.steps.append(record)
        self.say(f"\n[{record.number}] {title}")
        t0 = time.monotonic()
        try:
            yield record
        except BaseException as exc:
            record.seconds = time.monotonic() - t0
            record.error = f"{type(exc).__name__}: {exc}"
            self.say(f"    FAILED after {record.seconds:.1f}s: {record.error}")
            raise
        record.seconds = time.monotonic() - t0
        record.ok = True
        self.say(f"    done in {record.seconds:.1f}s")

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def write_summary(self, path: Path, **extra: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "total_seconds": round(self.elapsed(), 1),
            "steps": [
                {
                    "number": s.number,
                    "title": s.title,
                    "ok": s.ok,
                    "seconds": round(s.seconds, 2),
                    "facts": s.facts,
                    "error": s.error,
                }
                for s in self.steps
            ],
            **extra,
        }
        path.write_text(json.dumps(data, indent=2, default=str) + "\n")
