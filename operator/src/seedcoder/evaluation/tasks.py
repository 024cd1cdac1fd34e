"""FIM tasks: the JSONL format both task sets share, read and written here.

One task per line: ``task_id``, ``prefix``, ``suffix``, ``middle`` (the expected
fill), optionally ``test`` (Python run after the filled program; it passes when
it exits 0) and ``origin`` (where the code came from and under which licence,
kept with every task built from someone's code). A bad line is an error naming
the file, the line and the field; nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class Origin(BaseModel):
    """Where a task's code came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repository: str | None = None
    path: str | None = None
    licence: str | None = Field(default=None, description="SPDX identifier of the code's licence.")


class FimTask(BaseModel):
    """One hole to fill: the model sees prefix and suffix and should write ``middle``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str = Field(min_length=1, max_length=256)
    prefix: str
    suffix: str
    middle: str = Field(min_length=1)
    test: str | None = Field(default=None, description="Python run after prefix+middle+suffix.")
    language: str = "python"
    origin: Origin | None = None

    def program(self, middle: str) -> str:
        """The filled file with the task's test appended (what the sandbox runs)."""
        return self.prefix + middle + self.suffix + "\n\n" + (self.test or "") + "\n"


class TaskFileError(ValueError):
    """A task file that cannot be used, naming the file, line and field."""


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "(line)"
    return f"field {field!r}: {first['msg']}"


def load_tasks(path: str | Path) -> list[FimTask]:
    """Every task in a JSONL file; raises ``TaskFileError`` on the first bad line or a repeated id."""
    file = Path(path)
    if not file.is_file():
        raise TaskFileError(f"{file}: no such task file")
    tasks: list[FimTask] = []
    seen: set[str] = set()
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise TaskFileError(f"{file}:{number}: not JSON ({exc})") from exc
        try:
            task = FimTask.model_validate(raw)
        except ValidationError as exc:
            raise TaskFileError(f"{file}:{number}: {_describe(exc)}") from exc
        if task.task_id in seen:
            raise TaskFileError(f"{file}:{number}: task_id {task.task_id!r} repeats an earlier line")
        seen.add(task.task_id)
        tasks.append(task)
    if not tasks:
        raise TaskFileError(f"{file}: no tasks")
    return tasks


def dump_tasks(tasks: Iterable[FimTask]) -> str:
    """JSONL text of ``tasks`` (stable key order, so equal sets hash equally)."""
    return "".join(
        json.dumps(t.model_dump(exclude_none=True), ensure_ascii=False, sort_keys=True) + "\n" for t in tasks
    )
