#!/usr/bin/env python3
"""Writes the built-in INT8/INT4 calibration set from this repository's own source code.

Why this source: ModelOpt calibrates activation scales (SmoothQuant) and AWQ weight
scales on sample text; for a code model that text should be code. This
repository's files are Apache-2.0 (LICENSE), so the set can ship with the
package; it mixes Python, shell, YAML, Markdown, JSON and Dockerfiles, the
languages of the files an IDE sends here. Output: one JSON object per line with
a "text" field, the format TensorRT-LLM's calibration loader reads with
datasets.load_dataset(<dir>, split="train")["text"].

Usage: python3 tools/make-calibration-set.py   (rewrites
operator/src/seedcoder/engines/calibration/code.jsonl; deterministic)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "operator/src/seedcoder/engines/calibration/code.jsonl"
SUFFIXES = {".py", ".sh", ".yaml", ".md", ".json", ".txt"}
SAMPLES = 256
CHARS = 4000  # about 1,000 to 1,500 tokens: calib_max_seq_length is 2,048


def main() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = sorted(
        p
        for p in tracked.stdout.split()
        if (Path(p).suffix in SUFFIXES or Path(p).name.startswith("Dockerfile"))
        and "golden" not in p
        and "calibration" not in p
        and not p.startswith("benchmarks/results")
    )
    chunks: list[str] = []
    for rel in files:
        text = (ROOT / rel).read_text(encoding="utf-8", errors="replace")
        for start in range(0, len(text), CHARS):
            chunk = text[start : start + CHARS]
            if len(chunk.strip()) >= 400:
                chunks.append(chunk)
    step = max(1, len(chunks) // SAMPLES)
    picked = chunks[::step][:SAMPLES]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for chunk in picked:
            f.write(json.dumps({"text": chunk}, ensure_ascii=False) + "\n")
    print(f"wrote {len(picked)} samples from {len(files)} files to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
