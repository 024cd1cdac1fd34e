"""``python -m benchmarks.autoscaling``: replay a trace against every policy and write the report.

Why a CLI: ``make bench-autoscaling`` runs it with defaults; anyone can replay
another trace with the same three columns (``--trace`` or ``SEEDCODER_TRACE``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks.autoscaling.bench import full_plan, quick_plan, run_all
from benchmarks.autoscaling.report import markdown, plot_pareto, plot_sweep, plot_timelines, write_json

REPO = Path(__file__).resolve().parents[2]
DEFAULT_TRACE = Path("..") / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_code_2023.csv"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.autoscaling", description=__doc__)
    ap.add_argument(
        "--trace",
        type=Path,
        default=None,
        help="CSV with TIMESTAMP, ContextTokens, GeneratedTokens (default: $SEEDCODER_TRACE or "
        f"{DEFAULT_TRACE} relative to the repository root)",
    )
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="output folder")
    ap.add_argument("--name", default="autoscaling", help="base name of the output files")
    ap.add_argument("--quick", action="store_true", help="one seed, short workloads (a smoke run for CI)")
    ap.add_argument(
        "--seeds", type=int, default=3, help="seeds of the full run (they vary the copies' offsets and noise)"
    )
    ap.add_argument(
        "--sweep", action="store_true", help="add the cold-start sweep (60 and 300 s) to the full run"
    )
    ap.add_argument(
        "--cache", type=Path, default=None, help="keep each finished (scenario, seed) here; reuse it"
    )
    ap.add_argument("--cached-only", action="store_true", help="report only what --cache already holds")
    ap.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (scenario, seed units)",
    )
    args = ap.parse_args(argv)
    trace_path = args.trace or Path(os.environ.get("SEEDCODER_TRACE", "") or REPO / DEFAULT_TRACE)
    if not trace_path.is_file():
        print(f"Trace not found: {trace_path} (pass --trace or set SEEDCODER_TRACE)", file=sys.stderr)
        return 2
    plan = quick_plan() if args.quick else full_plan(tuple(range(args.seeds)), sweep=args.sweep)
    t0 = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - t0:6.1f}s] {msg}", flush=True)

    scenarios = run_all(
        trace_path, trace_path.stem, plan, log, jobs=args.jobs, cache=args.cache, cached_only=args.cached_only
    )
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": "python -m benchmarks.autoscaling"
        + (" --quick" if args.quick else "")
        + (" --sweep" if args.sweep else ""),
        "trace": trace_path.name,
        "runtime_s": round(time.monotonic() - t0, 1),
        "jobs": args.jobs,
        "cpu_count": os.cpu_count(),
    }
    write_json(args.out / f"{args.name}.json", scenarios, meta)
    (args.out / f"{args.name}.md").write_text(markdown(scenarios, meta), encoding="utf-8")
    plot_timelines(scenarios, args.out / f"{args.name}_timeline.png")
    plot_pareto(scenarios, args.out / f"{args.name}_pareto.png")
    plot_sweep(scenarios, args.out / f"{args.name}_coldstart.png")
    log(f"Wrote {args.out / args.name}.json, .md and plots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
