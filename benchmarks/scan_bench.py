"""Completion scanning: detection on the labelled corpus, and the latency it adds to a completion.

Two parts, one run:

* **Corpus** (``tests/scan/corpus/*.yaml``): recall per CWE and per language on
  the insecure completions, false-positive rate per language and the rules that
  fired on safe look-alikes. Writes ``results/scan_corpus.{json,md}``; a test
  (``tests/scan/test_corpus.py``) recomputes the figures and fails if the
  committed file disagrees or a target is missed.
* **Latency**: an 8k-token context (32 KB: 24 KB before the cursor, 8 KB after,
  built from real code of each language: this repository's Python, the corpus'
  other languages repeated) and a 256-token completion (about 1 KB, 25 lines) at
  a random line, scanned as the gateway does for one candidate. Compared in the
  same run with two baselines: the whole file scanned without a window (what the
  window saves) and the streamed path (one scan per released line, summed per
  completion). Also with API allow/deny lists configured (imports resolved over
  the whole prefix). Writes ``results/scan_latency.{json,md}``.

Run: ``make bench-scan`` (``python -m benchmarks.scan_bench``).
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seedcoder.scan.lang import guess_language
from seedcoder.scan.scanner import ApiLists, Scanner
from seedcoder_dev.scan_corpus import Case, evaluate, load_corpus

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).parent / "results"
CORPUS = ROOT / "tests" / "scan" / "corpus"
PREFIX_BYTES = 24 * 1024
SUFFIX_BYTES = 8 * 1024
COMPLETION_BYTES = 1024  # ~256 tokens of code
ITERATIONS = 300
TARGET_P50_MS = 2.0
TARGET_P99_MS = 10.0


def _code(language: str, cases: list[Case]) -> str:
    if language == "python":
        files = sorted((ROOT / "operator" / "src" / "seedcoder").rglob("*.py"))
        text = "\n".join(p.read_text() for p in files)
    else:
        text = "\n".join(c.prefix + c.completion + c.suffix for c in cases if c.language == language)
    while len(text) < 4 * (PREFIX_BYTES + SUFFIX_BYTES):
        text += "\n" + text
    return text


def _sample(code: str, rng: random.Random) -> tuple[str, str, str]:
    lines = code.splitlines(keepends=True)
    i = rng.randrange(len(lines) // 4, 3 * len(lines) // 4)
    before = "".join(lines[:i])[-PREFIX_BYTES:]
    completion, j = "", i
    while len(completion) < COMPLETION_BYTES:
        completion += lines[j]
        j += 1
    after = "".join(lines[j:])[:SUFFIX_BYTES]
    return before, completion, after


def _streamed(scanner: Scanner, prefix: str, completion: str, suffix: str) -> None:
    sent, lang = "", guess_language(prefix, suffix)
    lines = completion.splitlines(keepends=True)
    for k, line in enumerate(lines):
        scanner.scan(prefix + sent, line, suffix if k == len(lines) - 1 else "", lang)
        sent += line


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU (this thread) milliseconds of one call."""
    c0, t0 = time.thread_time(), time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000


def _pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return round(ms[min(len(ms) - 1, int(q * len(ms)))], 3)


def _stats(timings: list[tuple[float, float]]) -> dict[str, float]:
    wall = [w for w, _ in timings]
    cpu = [c for _, c in timings]
    return {
        "p50_ms": round(statistics.median(wall), 3),
        "p99_ms": _pct(wall, 0.99),
        "max_ms": round(max(wall), 3),
        "cpu_p50_ms": round(statistics.median(cpu), 3),
        "cpu_p99_ms": _pct(cpu, 0.99),
    }


def latency(cases: list[Case]) -> dict[str, Any]:
    rng = random.Random(15)
    fast = Scanner()
    lists = Scanner(api=ApiLists(deny_modules=("requests", "child_process"), deny_calls=("os.system",)))
    whole = Scanner(before=10**9, after=10**9)
    out: dict[str, Any] = {}
    for language in ("python", "javascript", "java", "go"):
        code = _code(language, cases)
        samples = [_sample(code, rng) for _ in range(ITERATIONS)]
        for s in samples[:20]:  # warm up (regex compilation caches, allocator)
            fast.scan(*s)
        variants: dict[str, Callable[[tuple[str, str, str]], object]] = {
            "window (gateway)": lambda s: fast.scan(*s),
            "window + API lists": lambda s: lists.scan(*s),
            "streamed, per line (sum)": lambda s: _streamed(fast, *s),
            "baseline: whole file": lambda s: whole.scan(*s),
        }
        out[language] = {
            name: _stats([_timed(lambda s=s, fn=fn: fn(s)) for s in samples]) for name, fn in variants.items()
        }
    gate = [out[lang]["window (gateway)"] for lang in out]
    out["meets_target_wall"] = all(
        g["p50_ms"] <= TARGET_P50_MS and g["p99_ms"] <= TARGET_P99_MS for g in gate
    )
    out["meets_target_cpu"] = all(
        g["cpu_p50_ms"] <= TARGET_P50_MS and g["cpu_p99_ms"] <= TARGET_P99_MS for g in gate
    )
    return out


def _corpus_md(r: dict[str, Any]) -> str:
    rows = [
        "# Completion scanner: labelled corpus",
        "",
        f"{r['cases']} completions in context: {r['insecure']} insecure, {r['safe']} safe look-alikes "
        "(`tests/scan/corpus/`). Targets: recall >= 95 %, false positives <= 5 %.",
        "",
        "| slice | recall | insecure found | false-positive rate | safe flagged |",
        "|---|---|---|---|---|",
    ]
    keys = sorted(set(r["recall"]) | set(r["false_positive_rate"]))
    for k in keys:
        rec = r["recall"].get(k)
        fp = r["false_positive_rate"].get(k)
        recall = f"{rec['rate']:.1%} | {rec['hits']}/{rec['total']}" if rec else "- | -"
        false = f"{fp['rate']:.1%} | {fp['hits']}/{fp['total']}" if fp else "- | -"
        rows.append(f"| {k} | {recall} | {false} |")
    rows += ["", "False positives by rule: " + (json.dumps(r["false_positives_by_rule"]) or "none"), ""]
    rows += ["Missed: " + (", ".join(r["missed"]) or "none"), "", "Safe cases flagged: "]
    rows += [", ".join(r["false_alarms"]) or "none", ""]
    return "\n".join(rows)


def _latency_md(r: dict[str, Any], machine: str) -> str:
    rows = [
        "# Completion scanner: latency added per completion",
        "",
        f"8k-token context (24 KB before the cursor, 8 KB after), 256-token completion (~1 KB), "
        f"{ITERATIONS} random positions per language; {machine}. Target: p50 <= {TARGET_P50_MS} ms, "
        f"p99 <= {TARGET_P99_MS} ms for the gateway's scan. Met in wall-clock time: "
        f"**{r['meets_target_wall']}**; in CPU time: **{r['meets_target_cpu']}**.",
        "",
        "Wall-clock figures include waiting for a CPU on a shared machine; CPU figures are the scan's own "
        "cost (thread CPU time).",
        "",
        "| language | variant | p50 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for lang, variants in r.items():
        if lang.startswith("meets_target"):
            continue
        for name, s in variants.items():
            rows.append(
                f"| {lang} | {name} | {s['p50_ms']} | {s['p99_ms']} | {s['max_ms']} "
                f"| {s['cpu_p50_ms']} | {s['cpu_p99_ms']} |"
            )
    return "\n".join(rows) + "\n"


def main() -> None:
    RESULTS.mkdir(exist_ok=True)
    cases = load_corpus(CORPUS)
    corpus = evaluate(cases)
    (RESULTS / "scan_corpus.json").write_text(json.dumps(corpus, indent=2) + "\n")
    (RESULTS / "scan_corpus.md").write_text(_corpus_md(corpus))
    cpus = os.cpu_count()
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, {cpus} CPUs"
    )
    lat = latency(cases)
    (RESULTS / "scan_latency.json").write_text(json.dumps({"machine": machine, **lat}, indent=2) + "\n")
    (RESULTS / "scan_latency.md").write_text(_latency_md(lat, machine))
    print((RESULTS / "scan_corpus.md").read_text())
    print((RESULTS / "scan_latency.md").read_text())


if __name__ == "__main__":
    main()
