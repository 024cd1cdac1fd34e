"""Retrieval benchmark: latency at 100k+ chunks, index build time and size, and quality.

Two parts, each written into ``benchmarks/results/retrieval.json`` (and the
table ``retrieval.md``) next to the other part's last figures:

* ``--part latency`` (CPU only, no model): SYNTHETIC code (``retrieval/synthetic.py``,
  deterministic, labelled) of 100k and 1M lines is indexed by the real indexing
  program (``seedcoder.retrieval.indexer.run``, what the index Job runs); build
  time and size are recorded for both. Retrieval latency is the time the gateway's
  ``Retriever.retrieve`` takes (query from the cursor, BM25 search, deduplication,
  placement) on the 1M-line index (over 100k chunks), for 2,000 cursors into that
  corpus, after a warm-up. Targets: p50 <= 3 ms, p99 <= 10 ms.
* ``--part quality`` (the demo model, Gemma 3 270M Q4_K_M on the real Triton with
  llama.cpp, through the real gateway): the tasks in ``retrieval/tasks.json`` call the
  invented ``vexilo`` library (``retrieval/library``). One gateway serves with the
  library's index (built by the indexing program), one without; three runs each
  (temperature 0.3, seeds 1-3). Exact match of the completed line, edit similarity
  (difflib ratio) and the needed name present; the run-to-run spread is max - min over
  the runs of one arm. Retrieval must win by more than the spread of either arm.
  Recall@k of the retriever for the needed definition, on the library index alone and
  with 100k lines of synthetic code mixed in as distractors.
"""

from __future__ import annotations

import difflib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from seedcoder.api.retrieval import RetrievalConfig, RetrievalSources
from seedcoder.retrieval.index import IndexReader
from seedcoder.retrieval.indexer import run as run_indexer
from seedcoder.retrieval.query import cursor_query
from seedcoder.retrieval.retriever import Retriever

from benchmarks.retrieval.synthetic import cursor_prefixes, write_tree

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LIBRARY = HERE / "retrieval" / "library"
TASKS = HERE / "retrieval" / "tasks.json"
SEEDS = (1, 2, 3)
TEMPERATURE = 0.3
MAX_TOKENS = 24
KS = (1, 4, 10)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[idx]


def build(docs_root: Path, out: Path) -> dict[str, Any]:
    """Index ``docs_root/<name>`` folders with the indexing program; its manifest plus wall time."""
    sources = RetrievalSources.model_validate(
        {"docs": [{"name": p.name, "pvc": {"claimName": "x"}} for p in sorted(docs_root.iterdir())]}
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        manifest = run_indexer(sources, out, docs_root, Path(work))
    return {**manifest.to_json(), "wall_seconds": round(time.perf_counter() - started, 2)}


def part_latency(work: Path) -> dict[str, Any]:
    builds = {}
    for label, lines in (("100k_lines", 100_000), ("1M_lines", 1_000_000)):
        root = work / label / "docs"
        nfiles, nlines = write_tree(root / "synthetic", lines)
        m = build(root, work / label / "index")
        builds[label] = {"files": nfiles, "lines": nlines, "chunks": m["chunks"],
                         "build_seconds": m["wall_seconds"], "index_bytes": m["bytes"],
                         "index_mib": round(m["bytes"] / 2**20, 1)}  # fmt: skip
        print(json.dumps({label: builds[label]}), flush=True)
    index = work / "1M_lines" / "index"
    retriever = Retriever(RetrievalConfig(index_dir=str(index)))
    cursors = cursor_prefixes(1_000_000, 2200)
    for prefix in cursors[:200]:  # warm-up: page cache, first searcher
        retriever.retrieve(prefix, "", prefix, 6000)
    times, cpu, chunks_added = [], [], []
    load_before = os.getloadavg()[0]
    for prefix in cursors[200:]:
        started = time.thread_time()
        got = retriever.retrieve(prefix, "", prefix, 6000)
        cpu.append((time.thread_time() - started) * 1000)
        times.append(got.seconds * 1000)
        chunks_added.append(len(got.chunks))
    return {
        "synthetic": True,
        "builds": builds,
        "latency": {
            "index": "1M_lines",
            "chunks": builds["1M_lines"]["chunks"],
            "queries": len(times),
            "p50_ms": round(percentile(times, 50), 3),
            "p90_ms": round(percentile(times, 90), 3),
            "p99_ms": round(percentile(times, 99), 3),
            "max_ms": round(max(times), 3),
            "cpu_p50_ms": round(percentile(cpu, 50), 3),
            "cpu_p99_ms": round(percentile(cpu, 99), 3),
            "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "mean_chunks_added": round(statistics.mean(chunks_added), 2),
            "target_p50_ms": 3.0,
            "target_p99_ms": 10.0,
        },
    }


# ---------------------------------------------------------------------------- quality
def first_line(text: str) -> str:
    return text.split("\n", 1)[0].rstrip()


def score(task: dict[str, Any], completion: str) -> dict[str, Any]:
    line = first_line(completion).strip()
    expected = task["expected"].strip()
    return {
        "exact": line == expected,
        "edit_similarity": difflib.SequenceMatcher(None, line, expected).ratio(),
        "name": task["needed"].split(".")[-1] in line,
        "completion": line[:120],
    }


def recall(tasks: list[dict[str, Any]], index: Path) -> dict[str, float]:
    reader = IndexReader.open_current(index)
    found = {k: 0 for k in KS}
    for task in tasks:
        q = cursor_query(task["prompt"], "")
        hits = [h.chunk.symbol for h in reader.search(q.terms, max(KS), q.partial)]
        for k in KS:
            found[k] += task["needed"] in hits[:k]
    return {f"recall@{k}": round(found[k] / len(tasks), 3) for k in KS}


def complete(url: str, key: str, prompt: str, seed: int) -> str:
    body = {"model": "seed-coder-8b-base", "prompt": prompt, "max_tokens": MAX_TOKENS,
            "temperature": TEMPERATURE, "seed": seed, "stop": ["\n"]}  # fmt: skip
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    req = urllib.request.Request(url + "/v1/completions", data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=120) as resp:
        text: str = json.loads(resp.read())["choices"][0]["text"]
        return text


def metric_value(url: str, name: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def part_quality(work: Path) -> dict[str, Any]:
    from seedcoder_dev.localstack.triton import TritonServer, gguf_model_path, write_llamacpp_repository

    from tests.fixtures.gateway import GatewayProcess, gateway_config

    tasks: list[dict[str, Any]] = json.loads(TASKS.read_text())
    docs = work / "docs"
    docs.mkdir(parents=True)
    shutil.copytree(LIBRARY, docs / "vexilo")
    lib_manifest = build(docs, work / "index-library")
    write_tree(docs / "synthetic", 100_000)
    build(docs, work / "index-mixed")
    recalls = {"library": recall(tasks, work / "index-library"), "library_plus_100k_synthetic_lines":
               recall(tasks, work / "index-mixed")}  # fmt: skip
    print(json.dumps(recalls), flush=True)

    repo = write_llamacpp_repository(
        work / "repo", gguf_model_path(), n_threads=max(1, (os.cpu_count() or 2) // 2)
    )
    triton = TritonServer()
    triton.start(repo, work / "triton")
    gateways: dict[str, GatewayProcess] = {}
    try:
        triton.wait_ready(timeout=240, models=("seedcoder", "seedcoder_tokenize"))
        for arm, extra in (
            ("without", {}),
            ("with", {"retrieval": {"index_dir": str(work / "index-library")}}),
        ):
            gw_dir = work / f"gw-{arm}"
            cfg = gateway_config(triton.grpc_url, gw_dir, cache_max_entries=0, **extra)
            gateways[arm] = GatewayProcess(cfg, gw_dir)
            gateways[arm].start()
        rows: list[dict[str, Any]] = []
        for seed in SEEDS:
            for arm in ("without", "with"):  # alternate arms so that machine load hits both alike
                gw = gateways[arm]
                for task in tasks:
                    got = complete(gw.url, gw.api_key, task["prompt"], seed)
                    rows.append({"arm": arm, "seed": seed, "task": task["id"], **score(task, got)})
        retrieval_ms = metric_value(gateways["with"].url, "seedcoder_gateway_retrieval_seconds_sum")
        retrieval_n = metric_value(gateways["with"].url, "seedcoder_gateway_retrieval_seconds_count")
        tokens_added = metric_value(gateways["with"].url, "seedcoder_gateway_retrieval_added_tokens_total")
    finally:
        for gw in gateways.values():
            gw.stop()
        triton.stop()
    arms: dict[str, Any] = {}
    for arm in ("without", "with"):
        per_run = []
        for seed in SEEDS:
            rs = [r for r in rows if r["arm"] == arm and r["seed"] == seed]
            per_run.append({"exact_match": sum(r["exact"] for r in rs) / len(rs),
                            "edit_similarity": statistics.mean(r["edit_similarity"] for r in rs),
                            "name_accuracy": sum(r["name"] for r in rs) / len(rs)})  # fmt: skip
        arms[arm] = {
            m: {"mean": round(statistics.mean(p[m] for p in per_run), 3),
                "runs": [round(p[m], 3) for p in per_run],
                "spread": round(max(p[m] for p in per_run) - min(p[m] for p in per_run), 3)}
            for m in ("exact_match", "edit_similarity", "name_accuracy")
        }  # fmt: skip
    wins: dict[str, dict[str, Any]] = {}
    for m in ("exact_match", "edit_similarity", "name_accuracy"):
        w, wo = arms["with"][m], arms["without"][m]
        wins[m] = {
            "margin": round(w["mean"] - wo["mean"], 3),
            "spread": max(w["spread"], wo["spread"]),
            "worst_with_minus_best_without": round(min(w["runs"]) - max(wo["runs"]), 3),
        }
    for w in wins.values():
        w["wins_beyond_spread"] = w["margin"] > w["spread"] and w["worst_with_minus_best_without"] > 0
    return {
        "model": "Gemma 3 270M Q4_K_M (the demo model; llama.cpp on CPU under the real Triton)",
        "tasks": len(tasks),
        "runs_per_arm": len(SEEDS),
        "temperature": TEMPERATURE,
        "library_index": {"documents": lib_manifest["documents"], "chunks": lib_manifest["chunks"]},
        "arms": arms,
        "wins": wins,
        "recall": recalls,
        "gateway_retrieval_mean_ms": round(1000 * retrieval_ms / max(retrieval_n, 1), 3),
        "gateway_retrieval_tokens_added_per_request": round(tokens_added / max(retrieval_n, 1), 1),
        "completions": rows,
    }


# ---------------------------------------------------------------------------- output
def table(cols: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def markdown(data: dict[str, Any]) -> str:
    out = [
        "# Retrieval benchmark",
        "",
        f"Machine: {data['meta']['cpus']} CPUs (shared). "
        "Regenerate: `python -m benchmarks.retrieval_bench --part latency|quality`.",
        "",
    ]
    if lat := data.get("latency"):
        b, lt = lat["builds"], lat["latency"]
        out += ["## Latency and index size (SYNTHETIC code, deterministic generator)", ""]
        cols = ["corpus", "files", "lines", "chunks", "build s", "index MiB"]
        keys = ["files", "lines", "chunks", "build_seconds", "index_mib"]
        out += table(cols, [[k, *(v[c] for c in keys)] for k, v in b.items()])
        out += [
            "",
            "Retrieval added to a completion (`Retriever.retrieve`: query, BM25 search, deduplication, "
            f"placement) at {lt['chunks']} chunks, {lt['queries']} cursors:",
            "",
        ]
        keys = [
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "cpu_p50_ms",
            "cpu_p99_ms",
            "target_p50_ms",
            "target_p99_ms",
        ]
        out += [*table(keys, [[lt[k] for k in keys]]), ""]
        out += [
            "Wall-clock figures (the `*_ms` columns) are what a completion waits; `cpu_*` is the thread's "
            f"own CPU time. 1-minute load average before and after: {lt['loadavg_1m']} on "
            f"{data['meta']['cpus']} CPUs shared with other work.",
            "",
        ]
    if q := data.get("quality"):
        out += [
            "## Quality through the real gateway and the demo model",
            "",
            f"{q['model']}; {q['tasks']} tasks calling the invented `vexilo` library; "
            f"{q['runs_per_arm']} runs per arm at temperature {q['temperature']}.",
            "",
        ]
        rows = []
        for m, w in q["wins"].items():
            a, r = q["arms"]["without"][m], q["arms"]["with"][m]
            rows.append([m, f"{a['mean']} ({', '.join(map(str, a['runs']))})",
                         f"{r['mean']} ({', '.join(map(str, r['runs']))})", w["margin"], w["spread"],
                         "yes" if w["wins_beyond_spread"] else "NO"])  # fmt: skip
        cols = ["metric", "without retrieval (runs)", "with retrieval (runs)", "margin", "spread", "wins"]
        out += table(cols, rows)
        out += ["", "Retriever recall of the needed definition:", ""]
        out += table(["index", *(f"recall@{k}" for k in KS)],
                     [[n, *(r[f"recall@{k}"] for k in KS)] for n, r in q["recall"].items()])  # fmt: skip
        out += [
            "",
            f"Gateway-measured retrieval time: {q['gateway_retrieval_mean_ms']} ms mean per request; "
            f"{q['gateway_retrieval_tokens_added_per_request']} prompt tokens added per request.",
            "",
        ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    part = args[args.index("--part") + 1] if "--part" in args else "latency"
    if part not in ("latency", "quality"):
        print("usage: python -m benchmarks.retrieval_bench --part latency|quality", file=sys.stderr)
        return 2
    path = RESULTS / "retrieval.json"
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    with tempfile.TemporaryDirectory(prefix="seedcoder-retrieval-bench-") as tmp:
        data[part] = part_latency(Path(tmp)) if part == "latency" else part_quality(Path(tmp))
    data["meta"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    (RESULTS / "retrieval.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
