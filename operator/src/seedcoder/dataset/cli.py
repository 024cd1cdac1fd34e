"""``seedcoder dataset build``: turn the feedback folder into a versioned training snapshot.

    seedcoder dataset build --feedback /var/lib/seedcoder/feedback --out /data/datasets

Prints the manifest (JSON). Exit status: 0 written or unchanged, 2 bad
arguments or unreadable records.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from seedcoder.dataset.builder import BuildConfig, build_snapshot
from seedcoder.dataset.filters import FilterConfig


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedcoder dataset", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build a snapshot from feedback records")
    b.add_argument("--feedback", type=Path, required=True, help="the gateway's feedback folder")
    b.add_argument("--out", type=Path, required=True, help="folder holding the snapshots")
    b.add_argument("--held-out-fraction", type=float, default=0.1, help="share of files held out")
    b.add_argument("--near-duplicate-threshold", type=float, default=0.8, help="Jaccard estimate, (0, 1]")
    b.add_argument("--min-middle-chars", type=int, default=8, help="non-whitespace characters")
    b.add_argument("--max-sample-chars", type=int, default=16_384)
    b.add_argument("--no-edited", action="store_true", help="ignore edited completions")
    b.add_argument("--summary", type=Path, help="also write the manifest as compact JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not args.feedback.is_dir():
            raise ValueError(f"--feedback {args.feedback}: no such folder")
        config = BuildConfig(
            held_out_fraction=args.held_out_fraction,
            near_duplicate_threshold=args.near_duplicate_threshold,
            include_edited=not args.no_edited,
            filters=FilterConfig(
                min_middle_chars=args.min_middle_chars, max_sample_chars=args.max_sample_chars
            ),
        )
        snapshot = build_snapshot(args.feedback, args.out, config)
    except (ValueError, OSError) as exc:
        print(f"seedcoder dataset: {exc}", file=sys.stderr)
        return 2
    verb = "Wrote" if snapshot.created else "Kept unchanged"
    print(f"{verb} data set snapshot {snapshot.manifest['version']}", file=sys.stderr)
    print(json.dumps(snapshot.manifest, indent=2))
    if args.summary:
        compact = {k: v for k, v in snapshot.manifest.items() if k not in {"config", "format"}}
        args.summary.write_text(
            json.dumps({**compact, "created_now": snapshot.created}, separators=(",", ":"))
        )
    return 0
