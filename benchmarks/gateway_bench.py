"""Gateway overhead: TTFT and throughput direct to Triton vs through the gateway, same backend, one run.

What runs: the real ``tritonserver`` with the llama.cpp model (Gemma 3 270M on the
CPU), the real gateway process (``python -m seedcoder.gateway.main``), and a load
generator in this process. For each concurrency (1, 16, 64) a fixed number of
streamed requests (short ``max_tokens``, fixed prompt, greedy, response cache
off) goes first straight to Triton with gRPC ``stream_infer`` (``tritonclient.grpc.aio``,
one stream per request, as the gateway does), then through the gateway over HTTP/SSE with a
minimal raw HTTP/1.1 client (so that client cost does not count as gateway
overhead). TTFT is measured at the client: request sent -> first token.

``overhead_ms_pXX`` = gateway TTFT pXX - direct TTFT pXX. With a serial CPU
backend, requests at c=16/64 queue inside Triton, so those TTFTs are queueing
time and their difference is noisy; the gateway's own CPU time per request
(``gateway_cpu_ms_per_request``, from /proc) and the sampling profile of the gateway
(``gateway_profile.txt``, pyinstrument) show where the gateway's time goes independent of load.

Writes ``benchmarks/results/gateway.json``, ``gateway.md`` and ``gateway_profile.txt``.
Run: ``make bench-gateway`` (``python -m benchmarks.gateway_bench``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tritonclient.grpc.aio as grpcclient
from seedcoder.localstack.triton import TritonServer, free_port, gguf_model_path, write_llamacpp_repository

RESULTS = Path(__file__).parent / "results"
MODEL = "seed-coder-8b-base"
PROMPT = "def quicksort(items):\n    "
MAX_TOKENS = 4
PLAN = {1: 24, 16: 48, 64: 128}  # concurrency -> requests (bounded: a 2-core box takes minutes)
TICKS = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


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
        yield {"model_name": "seedcoder", "inputs": direct_inputs()}
        await done.wait()

    stream = client.stream_infer(requests())
    try:
        async for result, error in stream:
            if error is not None:
                raise RuntimeError(str(error))
            if ttft is None and result.as_numpy("text_output") is not None:
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
                b'"text":"' in ev and b'"text":""' not in ev for ev in data.split(b"\n\n")
            ):
                ttft = time.perf_counter() - t0  # each SSE event is sent as one chunk: never split
            if b"data: [DONE]" in buf[-64:]:
                break
    finally:
        writer.close()
    return ttft if ttft is not None else time.perf_counter() - t0


async def run_phase(make: Any, concurrency: int, total: int) -> tuple[list[float], float]:
    sem = asyncio.Semaphore(concurrency)
    ttfts: list[float] = []

    async def one() -> None:
        async with sem:
            ttfts.append(await make())

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return ttfts, time.perf_counter() - t0


# ---------------------------------------------------------------------------- processes
def start_gateway(
    grpc_url: str, workdir: Path, key: str, profile: Path | None = None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    (workdir / "keys").mkdir(parents=True, exist_ok=True)
    (workdir / "keys" / "bench").write_text(key)
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
    (workdir / "gateway.json").write_text(json.dumps(cfg))
    profiler = ["-m", "pyinstrument", "--renderer", "text", "--show-all", "-o", str(profile)]
    prefix = [sys.executable, *(profiler if profile else [])]
    args = ["--config", str(workdir / "gateway.json"), "--host", "127.0.0.1", "--port", str(port)]
    cmd = [*prefix, "-m", "seedcoder.gateway.main", *args, "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(workdir / "gateway.log").open("ab"))
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gateway did not become ready")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


async def measure(grpc_url: str, port: int, pid: int, key: str) -> list[dict[str, Any]]:
    backend = grpcclient.InferenceServerClient(grpc_url)
    rows = []
    # warm-up both paths
    await run_phase(lambda: direct_one(backend), 2, 4)
    await run_phase(lambda: gateway_one(port, key), 2, 4)
    for c, n in PLAN.items():
        load = os.getloadavg()[0]  # other work on the machine shows up here, not as gateway overhead
        own0 = cpu_seconds(os.getpid())
        d_ttft, d_wall = await run_phase(lambda: direct_one(backend), c, n)
        own1 = cpu_seconds(os.getpid())
        cpu0 = cpu_seconds(pid)
        g_ttft, g_wall = await run_phase(lambda: gateway_one(port, key), c, n)
        cpu1 = cpu_seconds(pid)
        row = {
            "concurrency": c,
            "requests": n,
            "direct_ttft_ms_p50": round(pct(d_ttft, 50) * 1e3, 2),
            "direct_ttft_ms_p99": round(pct(d_ttft, 99) * 1e3, 2),
            "gateway_ttft_ms_p50": round(pct(g_ttft, 50) * 1e3, 2),
            "gateway_ttft_ms_p99": round(pct(g_ttft, 99) * 1e3, 2),
            "overhead_ms_p50": round((pct(g_ttft, 50) - pct(d_ttft, 50)) * 1e3, 2),
            "overhead_ms_p99": round((pct(g_ttft, 99) - pct(d_ttft, 99)) * 1e3, 2),
            "direct_rps": round(n / d_wall, 2),
            "gateway_rps": round(n / g_wall, 2),
            "throughput_ratio": round((n / g_wall) / (n / d_wall), 3),
            "gateway_cpu_ms_per_request": round((cpu1 - cpu0) / n * 1e3, 3),
            "grpc_client_cpu_ms_per_request": round((own1 - own0) / n * 1e3, 3),
            "loadavg_1m_at_start": round(load, 2),
            "direct_ttft_ms_mean": round(statistics.fmean(d_ttft) * 1e3, 2),
            "gateway_ttft_ms_mean": round(statistics.fmean(g_ttft) * 1e3, 2),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    await backend.close()
    return rows


async def profile_load(port: int, key: str) -> None:
    await run_phase(lambda: gateway_one(port, key), 16, 48)


def write_markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    cols = [
        *("concurrency", "requests", "direct_ttft_ms_p50", "gateway_ttft_ms_p50", "overhead_ms_p50"),
        *("overhead_ms_p99", "direct_rps", "gateway_rps", "throughput_ratio", "gateway_cpu_ms_per_request"),
    ]
    lines = [
        "# Gateway overhead (direct Triton gRPC vs through the gateway)",
        "",
        f"Backend: {meta['backend']}. Requests: streamed, max_tokens={MAX_TOKENS}, greedy, cache off. "
        f"Machine: {meta['cpus']} CPUs shared by Triton, gateway and load generator.",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    lines += ["", "Targets at c=64: overhead p50 <= 1 ms, p99 <= 5 ms, gateway_rps >= 0.9 x direct_rps.", ""]
    return "\n".join(lines)


def run_all(grpc_url: str, work: Path) -> list[dict[str, Any]]:
    key = "sk-bench-0000"
    gw, port = start_gateway(grpc_url, work / "gw", key)
    try:
        rows = asyncio.run(measure(grpc_url, port, gw.pid, key))
    finally:
        stop(gw)
    prof = RESULTS / "gateway_profile.txt"
    gw, port = start_gateway(grpc_url, work / "gwprof", key, profile=prof)
    try:
        asyncio.run(profile_load(port, key))
    finally:
        stop(gw)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``--grpc-url HOST:PORT`` benchmarks an already running Triton instead of starting one."""
    args = sys.argv[1:] if argv is None else argv
    # A timeout's SIGTERM must still run the finally blocks that stop Triton and the gateway.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gwbench-") as tmp:
        work = Path(tmp)
        if args[:1] == ["--grpc-url"]:
            rows = run_all(args[1], work)
        else:
            repo = write_llamacpp_repository(work / "repo", gguf_model_path(), n_threads=2)
            triton = TritonServer()
            triton.start(repo, work / "triton")
            try:
                triton.wait_ready(timeout=240, models=("seedcoder", "seedcoder_tokenize"))
                rows = run_all(triton.grpc_url, work)
            finally:
                triton.stop()
    meta = {"backend": "tritonserver 2.51 + llama.cpp, Gemma 3 270M Q4_K_M on CPU", "cpus": os.cpu_count()}
    (RESULTS / "gateway.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    md = write_markdown(rows, meta)
    (RESULTS / "gateway.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
