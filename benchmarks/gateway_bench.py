"""Gateway overhead: TTFT and throughput direct to Triton vs through the gateway, same backend.

What runs: the real ``tritonserver``, the real gateway process
(``python -m seedcoder.gateway.main``) and a load generator in this process, against
two backends, one after the other:

* ``instant``: a load-free Triton Python-backend ``seedcoder`` model
  (``benchmarks/instant_backend/model.py``, benchmark only, never a test's model)
  with the same tensor contract and response sequence as the real model, which
  answers at once with fixed text. TTFT direct is then Triton + gRPC + client cost
  only, so gateway minus direct is the gateway's own cost (including its
  queueing when it is the busiest process on the machine).
* ``llamacpp``: the real llama.cpp model (Gemma 3 270M on the CPU), which serves one
  request at a time: at c=16/64 its TTFT is queueing inside the model; kept to
  show the overhead against a real model, with fewer requests.

Requests: streamed, ``max_tokens`` 4, fixed prompt, greedy, response cache off.
Direct: gRPC ``stream_infer`` with ``tritonclient.grpc.aio`` (one stream per
request, as the gateway does). Gateway: HTTP/SSE with a minimal raw HTTP/1.1 client
(a fresh connection per request), so that client cost does not count as gateway
overhead. TTFT is measured at the client: request sent -> first non-empty token.

Rounds: for each concurrency the direct and gateway phases alternate in rounds
(AB, BA, AB, ...: each round is one direct and one gateway phase of the same
number of requests, the order flipped every round), so a change in the machine's
load hits both paths alike. Per round: TTFT p50/p99 of each path, their
difference (overhead) and each path's requests/s; a row reports the median over
rounds. The gateway's CPU time per request (from /proc) and the load average are
recorded too. A sampling profile of the gateway under the instant backend
(pyinstrument) is written to ``gateway_profile.txt``.

Writes ``benchmarks/results/gateway.json``, ``gateway.md`` and ``gateway_profile.txt``.
Run: ``make bench-gateway`` (``python -m benchmarks.gateway_bench``); on a shared
machine ``nice -n 5`` it. Options: ``--only instant|llamacpp``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
from seedcoder.engines import pbtxt
from seedcoder.engines.contract import GENERATE_INPUTS, GENERATE_OUTPUTS, MODEL_NAME
from seedcoder.engines.llamacpp_repo import write_files
from seedcoder_dev.localstack.triton import TritonServer, gguf_model_path, write_llamacpp_repository

from tests.fixtures.gateway import GatewayProcess

HERE = Path(__file__).parent
RESULTS = HERE / "results"
INSTANT_MODEL = HERE / "instant_backend" / "model.py"
MODEL = "seed-coder-8b-base"
PROMPT = "def quicksort(items):\n    "
MAX_TOKENS = 4
# backend -> concurrency -> (rounds, requests per phase). Bounded: the whole run takes a few minutes
# on a 2-core machine (the llama.cpp model serves about a dozen of these short requests per second).
PLANS: dict[str, dict[int, tuple[int, int]]] = {
    "instant": {1: (10, 50), 16: (10, 128), 64: (10, 256)},
    "llamacpp": {1: (6, 8), 16: (4, 32), 64: (3, 128)},
}
BACKEND_TEXT = {
    "instant": "tritonserver 2.51 + load-free instant Python-backend model (benchmarks/instant_backend)",
    "llamacpp": "tritonserver 2.51 + llama.cpp, Gemma 3 270M Q4_K_M on CPU, 1 instance (serial)",
}
PROFILE_REQUESTS = (16, 2000)  # concurrency, requests: gateway profile under the instant backend
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with 40 values p99 is the largest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def group_cpu_seconds(pgid: int) -> float:
    """CPU time of every live process in process group ``pgid`` (tritonserver and its Python stubs)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def ms(seconds: float) -> float:
    return round(seconds * 1e3, 2)


# ---------------------------------------------------------------------------- clients
def direct_inputs() -> list[Any]:
    def tensor(name: str, value: Any, dtype: str, np_type: Any) -> Any:
        t = grpcclient.InferInput(name, [1], dtype)
        t.set_data_from_numpy(np.array([value], dtype=np_type))
        return t

    return [
        tensor("text_input", PROMPT.encode(), "BYTES", np.object_),
        tensor("max_tokens", MAX_TOKENS, "INT32", np.int32),
        tensor("stream", True, "BOOL", np.bool_),
        tensor("temperature", 0.0, "FP32", np.float32),
    ]


async def direct_one(client: Any) -> float:
    """One streamed request straight to Triton with tritonclient's asyncio gRPC client."""
    t0 = time.perf_counter()
    ttft = None
    done = asyncio.Event()

    async def requests() -> Any:
        yield {"model_name": MODEL_NAME, "inputs": direct_inputs()}
        await done.wait()

    stream = client.stream_infer(requests())
    try:
        async for result, error in stream:
            if error is not None:
                raise RuntimeError(str(error))
            if ttft is None:
                out = result.as_numpy("text_output")
                if out is not None and any(out.reshape(-1)):
                    ttft = time.perf_counter() - t0
            final = result.get_response().parameters.get("triton_final_response")
            if final is not None and final.bool_param:
                break
    finally:
        done.set()
    return ttft if ttft is not None else time.perf_counter() - t0


REQUEST_BODY = json.dumps(
    {"model": MODEL, "prompt": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True}
).encode()


async def gateway_one(port: int, key: str) -> float:
    """One streamed completion over a fresh connection with a bare HTTP/1.1 client."""
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(REQUEST_BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + REQUEST_BODY)
    ttft = None
    buf = b""
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"gateway answered {status!r}: {await reader.read(2000)!r}")
        while True:
            data = await reader.read(65536)
            if not data:
                break
            buf += data
            if ttft is None and any(
                b'"text":"' in ev and b'"text":""' not in ev for ev in buf.split(b"\n\n")
            ):
                ttft = time.perf_counter() - t0
            if b"data: [DONE]" in buf[-64:]:
                break
    finally:
        writer.close()
    return ttft if ttft is not None else time.perf_counter() - t0


async def run_phase(
    make: Callable[[], Awaitable[float]], concurrency: int, total: int
) -> tuple[list[float], float]:
    sem = asyncio.Semaphore(concurrency)
    ttfts: list[float] = []

    async def one() -> None:
        async with sem:
            ttfts.append(await make())

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return ttfts, time.perf_counter() - t0


# ---------------------------------------------------------------------------- processes
def write_instant_repository(dest: Path) -> Path:
    """A repository with only ``seedcoder``: the benchmark's prompt never needs ``seedcoder_tokenize``."""
    config = "".join(
        [
            pbtxt.header(
                MODEL_NAME, "python", 0, "BENCHMARK ONLY: load-free instant model, not a real model."
            ),
            pbtxt.decoupled("Streaming: one response per token, the last flagged final."),
            pbtxt.tensors("input", GENERATE_INPUTS),
            pbtxt.tensors("output", GENERATE_OUTPUTS),
            pbtxt.instance_group(1, "KIND_CPU", "Answers inside execute; one instance is enough."),
            pbtxt.parameters([pbtxt.Param("max_tokens_limit", "512", "Largest max_tokens accepted.")]),
        ]
    )
    write_files(dest, {f"{MODEL_NAME}/config.pbtxt": config})
    (dest / MODEL_NAME / "1").mkdir(parents=True, exist_ok=True)
    shutil.copy2(INSTANT_MODEL, dest / MODEL_NAME / "1" / "model.py")
    return dest


def start_gateway(grpc_url: str, workdir: Path, key: str, profile: Path | None = None) -> GatewayProcess:
    """The gateway as a pod runs it (optionally under pyinstrument), with the benchmark's settings."""
    cfg = {
        "model_name": MODEL,
        "pools": [{"name": "cpu", "grpc_url": grpc_url, "gpu": "CPU"}],
        "max_context_tokens": 2000,
        "api_keys_dir": str(workdir / "keys"),
        "feedback_dir": str(workdir / "feedback"),
        "cache_max_entries": 0,
        "rate_limit_rps": 1e6,
        "rate_limit_burst": 1_000_000,
        "backend_timeout_s": 120,
    }
    profiler = ["-m", "pyinstrument", "--renderer", "pyisession", "-o", str(profile)] if profile else []
    gw = GatewayProcess(cfg, workdir, api_key=key, python_args=profiler)
    gw.start()
    return gw


def stop(gw: GatewayProcess) -> None:
    gw.stop(signal.SIGINT, timeout=30)  # SIGINT: pyinstrument writes its session on the way out


# ---------------------------------------------------------------------------- measuring
async def measure(
    backend_name: str, grpc_url: str, port: int, pid: int, triton_pgid: int, key: str
) -> list[dict[str, Any]]:
    client = grpcclient.InferenceServerClient(grpc_url)
    rows = []

    def direct() -> Awaitable[float]:
        return direct_one(client)

    def gateway() -> Awaitable[float]:
        return gateway_one(port, key)

    try:
        for c, warm in ((2, 4), (16, 32)) if backend_name == "instant" else ((2, 2),):
            await run_phase(direct, c, warm)
            await run_phase(gateway, c, warm)
        for c, (rounds, n) in PLANS[backend_name].items():
            load0 = os.getloadavg()[0]
            per_round: list[dict[str, float]] = []
            gw_cpu = {"direct": 0.0, "gateway": 0.0}
            client_cpu, triton_cpu = dict(gw_cpu), dict(gw_cpu)
            for r in range(rounds):
                res: dict[str, tuple[list[float], float]] = {}
                for path in ("direct", "gateway") if r % 2 == 0 else ("gateway", "direct"):
                    g0, o0, t0 = cpu_seconds(pid), cpu_seconds(os.getpid()), group_cpu_seconds(triton_pgid)
                    res[path] = await run_phase(direct if path == "direct" else gateway, c, n)
                    gw_cpu[path] += cpu_seconds(pid) - g0
                    client_cpu[path] += cpu_seconds(os.getpid()) - o0
                    triton_cpu[path] += group_cpu_seconds(triton_pgid) - t0
                (d, d_wall), (g, g_wall) = res["direct"], res["gateway"]
                per_round.append(
                    {
                        "d50": pct(d, 50), "d99": pct(d, 99), "g50": pct(g, 50), "g99": pct(g, 99),
                        "o50": pct(g, 50) - pct(d, 50), "o99": pct(g, 99) - pct(d, 99),
                        "drps": n / d_wall, "grps": n / g_wall, "ratio": d_wall / g_wall,
                    }
                )  # fmt: skip

            def med(k: str, rounds_: list[dict[str, float]] = per_round) -> float:
                return statistics.median(x[k] for x in rounds_)

            def spread(k: str, rounds_: list[dict[str, float]] = per_round) -> list[float]:
                return [ms(min(x[k] for x in rounds_)), ms(max(x[k] for x in rounds_))]

            total = rounds * n
            row = {
                "backend": backend_name,
                "concurrency": c,
                "rounds": rounds,
                "requests_per_phase": n,
                "direct_ttft_ms_p50": ms(med("d50")),
                "direct_ttft_ms_p99": ms(med("d99")),
                "gateway_ttft_ms_p50": ms(med("g50")),
                "gateway_ttft_ms_p99": ms(med("g99")),
                "overhead_ms_p50": ms(med("o50")),
                "overhead_ms_p99": ms(med("o99")),
                "overhead_ms_p50_range": spread("o50"),
                "overhead_ms_p99_range": spread("o99"),
                "direct_rps": round(med("drps"), 2),
                "gateway_rps": round(med("grps"), 2),
                "throughput_ratio": round(med("ratio"), 3),
                "gateway_cpu_ms_per_request": round(gw_cpu["gateway"] / total * 1e3, 3),
                "gateway_cpu_ms_per_request_idle_check": round(gw_cpu["direct"] / total * 1e3, 3),
                "loadgen_cpu_ms_per_request_direct": round(client_cpu["direct"] / total * 1e3, 3),
                "loadgen_cpu_ms_per_request_gateway": round(client_cpu["gateway"] / total * 1e3, 3),
                "triton_cpu_ms_per_request_direct": round(triton_cpu["direct"] / total * 1e3, 3),
                "triton_cpu_ms_per_request_gateway": round(triton_cpu["gateway"] / total * 1e3, 3),
                "loadavg_1m_start": round(load0, 2),
                "loadavg_1m_end": round(os.getloadavg()[0], 2),
            }  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        await client.close()
    return rows


def profile_report(session_path: Path) -> str:
    """The gateway's profile: busy time by component (innermost frame wins), flat self time, call tree."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.load(str(session_path))
    root = session.root_frame()
    assert root is not None
    buckets = [
        ("grpc (aio channel, stream setup/reads)", ("grpc/", "grpc\\", "_cygrpc")),
        ("protobuf / tritonclient", ("google/protobuf", "tritonclient")),
        ("uvicorn (HTTP parsing, socket writes)", ("uvicorn/",)),
        ("starlette (routing, request, middleware)", ("starlette/",)),
        ("pydantic", ("pydantic",)),
        ("json", ("/json/",)),
        ("prometheus_client (metrics)", ("prometheus_client",)),
        ("seedcoder gateway code", ("seedcoder/",)),
        ("asyncio (tasks, streams, timeouts)", ("asyncio/",)),
    ]
    sums: dict[str, float] = {}
    flat: dict[str, float] = {}
    idle = 0.0

    def is_loop(frame: Any) -> bool:
        return frame.function in ("run", "Runner.run") and "asyncio/runners.py" in (frame.file_path or "")

    def find_loop(frame: Any) -> Any:
        if is_loop(frame):
            return frame
        for ch in frame.children:
            hit = find_loop(ch)
            if hit is not None:
                return hit
        return None

    def walk(frame: Any, stack: list[Any]) -> None:
        nonlocal idle
        stack = [*stack, frame]
        own = frame.time - sum(ch.time for ch in frame.children)
        # pyinstrument keeps a function's self time in a synthetic "[self]" child: name it by its parent
        owner = stack[-2] if frame.is_synthetic and len(stack) > 1 else frame
        if own > 0 and is_loop(owner):
            idle += own  # uvloop's C run loop: waiting for I/O plus callbacks that run in C
        elif own > 0:
            label = "other"
            for f in reversed(stack):
                path = f.file_path or ""
                hit = next((name for name, keys in buckets if any(k in path for k in keys)), None)
                if hit is not None:
                    label = hit
                    break
            sums[label] = sums.get(label, 0.0) + own
            where = f"{owner.function}  {owner.file_path_short or ''}:{owner.line_no or ''}"
            flat[where] = flat.get(where, 0.0) + own
        for ch in frame.children:
            walk(ch, stack)

    serving = find_loop(root)
    if serving is None:
        return ConsoleRenderer(show_all=True, unicode=True, color=False).render(session)
    walk(serving, [])
    busy = sum(sums.values())
    lines = [
        "Gateway sampling profile (pyinstrument), instant backend, "
        f"{PROFILE_REQUESTS[1]} streamed requests at concurrency {PROFILE_REQUESTS[0]}.",
        f"Whole process {root.time:.2f} s; serving (asyncio run loop) {serving.time:.2f} s, of which Python "
        f"frames {busy:.2f} s and the loop's own C code (I/O wait, uvloop callbacks) {idle:.2f} s.",
        "",
        "Python time while serving, by component (a sample goes to the innermost frame of a listed package):",
    ]
    for label, t in sorted(sums.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {t:7.3f} s  {100 * t / busy:5.1f} %  {label}")
    lines += ["", "Top self time while serving (function, file:line):"]
    for where, t in sorted(flat.items(), key=lambda kv: -kv[1])[:40]:
        lines.append(f"  {t:7.3f} s  {100 * t / busy:5.1f} %  {where}")
    lines += ["", "=" * 100, "Call tree, whole process (library frames collapsed)", "=" * 100]
    tree = ConsoleRenderer(unicode=True, color=False).render(session)
    lines += tree.replace(str(session_path.parent), "<tmpdir>").splitlines()  # no machine paths in results
    return "\n".join(lines) + "\n"


def run_backend(name: str, triton: TritonServer, work: Path, key: str) -> list[dict[str, Any]]:
    gw = start_gateway(triton.grpc_url, work / f"gw-{name}", key)
    assert gw.proc is not None
    pgid = triton._proc.pid if triton._proc is not None else -1  # its own process group (start_new_session)
    try:
        return asyncio.run(measure(name, triton.grpc_url, gw.port, gw.proc.pid, pgid, key))
    finally:
        stop(gw)


def run_profile(grpc_url: str, work: Path, key: str) -> str:
    session = work / "gateway.pyisession"
    gw = start_gateway(grpc_url, work / "gw-profile", key, profile=session)
    try:

        async def load() -> None:
            await run_phase(lambda: gateway_one(gw.port, key), *PROFILE_REQUESTS)

        asyncio.run(load())
    finally:
        stop(gw)
    return profile_report(session)


def with_triton(repo: Path, workdir: Path, models: tuple[str, ...], fn: Callable[[TritonServer], Any]) -> Any:
    triton = TritonServer()
    triton.start(repo, workdir)
    try:
        triton.wait_ready(timeout=240, models=models)
        return fn(triton)
    finally:
        triton.stop()


# ---------------------------------------------------------------------------- output
def write_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    cols = [
        *(
            "backend",
            "concurrency",
            "rounds",
            "requests_per_phase",
            "direct_ttft_ms_p50",
            "gateway_ttft_ms_p50",
        ),
        *("overhead_ms_p50", "overhead_ms_p99", "direct_rps", "gateway_rps", "throughput_ratio"),
        *("gateway_cpu_ms_per_request", "loadavg_1m_start"),
    ]
    lines = [
        "# Gateway overhead (direct Triton gRPC vs through the gateway)",
        "",
        f"Requests: streamed, max_tokens={MAX_TOKENS}, greedy, cache off. Machine: {meta['cpus']} CPUs "
        "shared by Triton, gateway, load generator and whatever else runs. Direct and gateway phases "
        "alternate in rounds (AB, BA, ...); each figure is the median over rounds of that round's value.",
        "",
        *(f"- `{k}`: {v}" for k, v in meta["backends"].items()),
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    lines += [
        "",
        "Targets at c=64 (instant backend): overhead p50 <= 1 ms, p99 <= 5 ms, "
        "gateway_rps >= 0.9 x direct_rps.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    only = args[args.index("--only") + 1] if "--only" in args else None
    # A timeout's SIGTERM must still run the finally blocks that stop Triton and the gateway.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(parents=True, exist_ok=True)
    key = "sk-bench-0000"
    rows: list[dict[str, Any]] = []
    started = time.time()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="gwbench-") as tmp:
        work = Path(tmp)
        if only in (None, "instant"):
            repo = write_instant_repository(work / "repo-instant")

            def instant(triton: TritonServer) -> None:
                rows.extend(run_backend("instant", triton, work, key))
                (RESULTS / "gateway_profile.txt").write_text(run_profile(triton.grpc_url, work, key))

            with_triton(repo, work / "triton-instant", (MODEL_NAME,), instant)
        if only in (None, "llamacpp"):
            repo = write_llamacpp_repository(work / "repo-llamacpp", gguf_model_path(), n_threads=2)
            with_triton(
                repo,
                work / "triton-llamacpp",
                (MODEL_NAME, "seedcoder_tokenize"),
                lambda triton: rows.extend(run_backend("llamacpp", triton, work, key)),
            )
    meta = {
        "backends": {k: v for k, v in BACKEND_TEXT.items() if only in (None, k)},
        "cpus": os.cpu_count(),
        "nice": os.nice(0),
        "max_tokens": MAX_TOKENS,
        "loadavg_start": [round(x, 2) for x in load_start],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        "duration_s": round(time.time() - started, 1),
        "method": "per concurrency: rounds alternating direct/gateway phases (AB, BA, ...); figures are "
        "medians over rounds of per-round values; overhead = gateway - direct within a round",
    }
    (RESULTS / "gateway.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    md = write_markdown(rows, meta)
    (RESULTS / "gateway.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
