"""Accepted completions from this repository's own Python code, recorded through the real gateway.

What a developer does in an IDE, replayed: for a hole in one of the project's
files the IDE sends the text before the cursor (with the usual ``# path:``
header line that IDE clients put first) and the text after it to
``/v1/completions``; the developer then keeps the code that belongs there and
the IDE reports it on ``/v1/feedback`` as ``edited`` with ``edited_text``, the
code kept (the data set builder's "the better middle"). The gateway remembers
each completion's prompt, so its feedback records carry prefix, suffix and the
kept middle exactly as it received them; ``seedcoder dataset build`` turns them
into the SPM training set and held-out FIM tasks, split by file.

Holes are short, so that training on two CPU cores stays in minutes: the rest of
a line from a point inside it, or one whole line, with at most ``PREFIX_LINES``
lines before it and ``SUFFIX_LINES`` after it. Which lines, and where in them,
is fixed by a seeded generator: the same repository gives the same holes.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PREFIX_LINES = 8
SUFFIX_LINES = 3
MAX_LINE_CHARS = 90


@dataclass(frozen=True, slots=True)
class Hole:
    path: str  # relative to the repository root
    prefix: str
    suffix: str
    middle: str


def _candidate(line: str) -> bool:
    text = line.strip()
    return (
        12 <= len(text) <= MAX_LINE_CHARS
        and not text.startswith(("#", '"""', "'''", "@"))
        and text not in {"else:", "try:", "finally:", "pass", "return"}
    )


def holes_in_file(source: str, path: str, rng: random.Random, per_file: int) -> list[Hole]:
    """Up to ``per_file`` holes in one file (lines chosen by ``rng``)."""
    lines = source.splitlines(keepends=True)
    candidates = [i for i, line in enumerate(lines) if _candidate(line) and line.endswith("\n")]
    chosen = sorted(rng.sample(candidates, min(per_file, len(candidates))))
    holes = []
    for i in chosen:
        line = lines[i]
        before = "".join(lines[max(0, i - PREFIX_LINES) : i])
        after = "".join(lines[i + 1 : i + 1 + SUFFIX_LINES])
        indent = len(line) - len(line.lstrip())
        if rng.random() < 0.5:  # the cursor inside the line: the rest of it is the hole
            body = line[indent:].rstrip("\n")
            cut = indent + rng.randint(1, max(1, len(body) // 2))
            head, middle = line[:cut], line[cut:]
        else:  # the cursor at the start of an empty line: the whole line is the hole
            head, middle = "", line
        holes.append(Hole(path, f"# path: {path}\n" + before + head, after, middle))
    return holes


def repository_holes(root: Path, package: str, per_file: int, seed: int = 0) -> list[Hole]:
    """Holes in every Python file of ``root/package`` with something to fill (sorted by path)."""
    rng = random.Random(seed)
    holes: list[Hole] = []
    for file in sorted((root / package).rglob("*.py")):
        source = file.read_text(encoding="utf-8")
        if file.name == "__init__.py" or source.count("\n") < 30:
            continue
        holes += holes_in_file(source, file.relative_to(root).as_posix(), rng, per_file)
    return holes


def _post(url: str, api_key: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return int(response.status), json.loads(response.read())


def record(gateway_url: str, api_key: str, model: str, holes: list[Hole]) -> Iterator[str]:
    """For each hole: one completion request (one token: the answer is not used), then the
    developer's feedback with the kept code. Yields the completion ids."""
    for hole in holes:
        body = {
            "model": model,
            "prompt": hole.prefix,
            "suffix": hole.suffix,
            "max_tokens": 1,
            "temperature": 0,
        }
        _, completion = _post(gateway_url + "/v1/completions", api_key, body)
        completion_id = str(completion["id"])
        feedback = {"id": completion_id, "outcome": "edited", "edited_text": hole.middle}
        status, answer = _post(gateway_url + "/v1/feedback", api_key, feedback)
        if status != 201:
            raise RuntimeError(f"feedback for {completion_id} answered {status}: {answer}")
        yield completion_id
