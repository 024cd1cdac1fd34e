"""``seedcoder evaluate``: score an OpenAI-compatible endpoint on FIM task sets.

    seedcoder evaluate --endpoint http://gateway:8000/v1 --model seed-coder-8b-base \
        --tasks public --tasks held-out=/data/snapshot/heldout.jsonl \
        --json report.json --markdown report.md

``--tasks`` is ``public`` (the packaged regression set), a JSONL path, or
``NAME=PATH``. ``--compare-model`` scores a second model (an adapter,
``seed-coder-8b-base:team-a``) on the same tasks; ``--summary`` writes the
scores alone as compact JSON (the evaluation Job points it at its termination
message, where the operator reads it). The API key is read from ``--api-key-file`` or the environment
variable ``SEEDCODER_API_KEY`` and never printed. Exit status: 0 scored,
2 bad arguments or task file, 1 the endpoint failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from seedcoder.evaluation.client import CompletionsClient, EndpointError
from seedcoder.evaluation.harness import SetReport, evaluate, to_json, to_markdown
from seedcoder.evaluation.public import public_tasks
from seedcoder.evaluation.tasks import FimTask, TaskFileError, load_tasks


def _task_set(spec: str) -> tuple[str, list[FimTask]]:
    if spec == "public":
        return "public", public_tasks()
    name, sep, path = spec.partition("=")
    if not sep:
        name, path = Path(spec).stem, spec
    if not name or not path:
        raise TaskFileError(f"--tasks {spec!r}: expected public, PATH or NAME=PATH")
    return name, load_tasks(path)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedcoder evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--endpoint", required=True, help="base URL of the API, e.g. http://gateway:8000/v1")
    p.add_argument("--model", required=True, help="model name sent in each request")
    p.add_argument("--compare-model", help="a second model scored on the same tasks (e.g. an adapter)")
    p.add_argument("--tasks", action="append", required=True, help="public, PATH or NAME=PATH (repeatable)")
    p.add_argument("--api-key-file", type=Path, help="file holding the API key (else $SEEDCODER_API_KEY)")
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--limit", type=int, default=0, help="only the first N tasks of each set (0: all)")
    p.add_argument("--request-timeout", type=float, default=60.0, help="seconds per completion request")
    p.add_argument("--test-timeout", type=float, default=10.0, help="seconds per sandboxed test run")
    p.add_argument("--no-tests", action="store_true", help="skip pass@1 (do not execute any code)")
    p.add_argument("--json", type=Path, help="write the full report (per-task results) here")
    p.add_argument("--markdown", type=Path, help="write the summary table here")
    p.add_argument("--summary", type=Path, help="write the scores (no per-task results) as compact JSON here")
    p.add_argument(
        "--wait-ready",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long until every model answers (a rollout in progress); 0: do not wait",
    )
    return p


def wait_ready(
    clients: list[CompletionsClient],
    seconds: float,
    *,
    interval_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Ask each model for one token until it answers; raise the last error after ``seconds``.

    Why: the evaluation Job may start while the gateway rolls out with the model it
    scores (a staged adapter, an engine candidate) or while that model loads; an
    answer, not a probe of some other endpoint, is what says it can be scored.
    """
    deadline = clock() + seconds
    for client in clients:
        probe = replace(client, max_tokens=1)
        while True:
            try:
                probe.complete("def ", "\n")
                break
            except EndpointError as exc:
                if clock() >= deadline:
                    raise EndpointError(
                        f"model {client.model} not answering after {seconds:g}s: {exc}"
                    ) from exc
                print(f"seedcoder evaluate: waiting for {client.model}: {exc}", file=sys.stderr)
                sleep(interval_s)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.limit < 0:
            raise ValueError(f"--limit must be 0 or more, got {args.limit}")
        if args.wait_ready < 0:
            raise ValueError(f"--wait-ready must be 0 or more seconds, got {args.wait_ready}")
        sets = [_task_set(spec) for spec in args.tasks]
        key = (
            args.api_key_file.read_text().strip()
            if args.api_key_file
            else os.environ.get("SEEDCODER_API_KEY")
        )
        models = [args.model] + ([args.compare_model] if args.compare_model else [])
        clients = [
            CompletionsClient(
                args.endpoint, m, key, max_tokens=args.max_tokens, timeout_s=args.request_timeout
            )
            for m in models
        ]
    except (TaskFileError, ValueError, OSError) as exc:
        print(f"seedcoder evaluate: {exc}", file=sys.stderr)
        return 2
    runs: list[tuple[str, list[SetReport]]] = []
    try:
        if args.wait_ready > 0:
            wait_ready(clients, args.wait_ready)
        for client in clients:
            reports: list[SetReport] = []
            for name, tasks in sets:
                chosen = tasks[: args.limit] if args.limit else tasks
                run_tests, timeout = not args.no_tests, args.test_timeout
                reports.append(
                    evaluate(name, chosen, client.complete, run_tests=run_tests, test_timeout_s=timeout)
                )
            runs.append((client.model, reports))
    except EndpointError as exc:
        print(f"seedcoder evaluate: {exc}", file=sys.stderr)
        return 1
    table = "\n".join(to_markdown(reports, title=f"FIM evaluation of {model}") for model, reports in runs)
    for path in (args.json, args.markdown, args.summary):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if args.json:
        doc = {
            "endpoint": args.endpoint,
            "finished": time.time(),
            "runs": [{"model": model, **to_json(reports)} for model, reports in runs],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(table)
    if args.summary:
        summary = {"runs": [{"model": m, "sets": {r.name: r.summary() for r in reps}} for m, reps in runs]}
        args.summary.write_text(json.dumps(summary, separators=(",", ":")))
    print(table, end="")
    return 0
