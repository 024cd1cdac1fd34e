"""Score a completion function on task sets; reports as JSON and as a markdown table.

``evaluate`` takes any ``complete(prefix, suffix) -> middle`` (the HTTP client
in production, so the whole serving path is what is measured) and returns a
``SetReport``: per-task results and the set's exact match, edit similarity and,
over the tasks that carry tests, pass@1 by execution in the sandbox.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from seedcoder.evaluation import metrics
from seedcoder.evaluation.sandbox import run_program
from seedcoder.evaluation.tasks import FimTask

Complete = Callable[[str, str], str]


@dataclass(frozen=True, slots=True)
class TaskResult:
    task_id: str
    generated: str
    exact_match: bool
    edit_similarity: float
    passed: bool | None  # None: the task has no test
    detail: str
    latency_s: float


@dataclass(frozen=True, slots=True)
class SetReport:
    name: str
    tasks: int
    exact_match: float
    edit_similarity: float
    pass_at_1: float | None
    tested: int
    median_latency_s: float
    results: tuple[TaskResult, ...]

    def summary(self) -> dict[str, Any]:
        """The set's scores without the per-task results."""
        out = asdict(self)
        del out["results"]
        return out


def evaluate(
    name: str,
    tasks: Sequence[FimTask],
    complete: Complete,
    *,
    run_tests: bool = True,
    test_timeout_s: float = 10.0,
) -> SetReport:
    """Ask ``complete`` for every task's middle and score it."""
    if not tasks:
        raise ValueError(f"task set {name!r} is empty")
    results: list[TaskResult] = []
    for task in tasks:
        started = time.perf_counter()
        generated = complete(task.prefix, task.suffix)
        latency = time.perf_counter() - started
        passed: bool | None = None
        detail = ""
        if run_tests and task.test is not None:
            outcome = run_program(task.program(generated), timeout_s=test_timeout_s)
            passed, detail = outcome.passed, outcome.detail
        results.append(
            TaskResult(
                task_id=task.task_id,
                generated=generated,
                exact_match=metrics.exact_match(generated, task.middle),
                edit_similarity=metrics.edit_similarity(generated, task.middle),
                passed=passed,
                detail=detail,
                latency_s=latency,
            )
        )
    tested = [1.0 if r.passed else 0.0 for r in results if r.passed is not None]
    return SetReport(
        name=name,
        tasks=len(results),
        exact_match=metrics.mean([1.0 if r.exact_match else 0.0 for r in results]) or 0.0,
        edit_similarity=metrics.mean([r.edit_similarity for r in results]) or 0.0,
        pass_at_1=metrics.mean(tested),
        tested=len(tested),
        median_latency_s=statistics.median(r.latency_s for r in results),
        results=tuple(results),
    )


def to_json(reports: Sequence[SetReport], **meta: Any) -> dict[str, Any]:
    """The whole run: metadata (endpoint, model, time) and each set with its per-task results."""
    return {**meta, "sets": [asdict(r) for r in reports]}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def to_markdown(reports: Sequence[SetReport], title: str = "FIM evaluation") -> str:
    """One row per task set."""
    lines = [
        f"### {title}",
        "",
        "| task set | tasks | exact match | edit similarity | pass@1 (tested) | median latency |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in reports:
        tested = f"{_pct(r.pass_at_1)} ({r.tested})"
        lines.append(
            f"| {r.name} | {r.tasks} | {_pct(r.exact_match)} | {r.edit_similarity:.3f} "
            f"| {tested} | {r.median_latency_s:.2f} s |"
        )
    return "\n".join(lines) + "\n"
