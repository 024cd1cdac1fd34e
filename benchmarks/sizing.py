"""``python -m benchmarks.sizing``: developers per card at the TTFT SLO, from the latency model.

Why: a team choosing between an RTX 4090, an L4 and a data-centre GPU needs one
number: how many developers one card serves inside the SLO. This is a **model, not
a measurement**: it runs the autoscaling benchmark's roofline replica model
(``benchmarks/autoscaling/latency.py``, calibrated on published TensorRT-LLM
figures) with one replica under Poisson arrivals whose prompt and output lengths are
resampled from the Azure code trace, finds the highest request rate whose p95 TTFT
meets the SLO, and divides it by the request rate of one developer.

The 24 GB cards' constants are derived the same way as the calibrated profiles'
(effective compute about half the dense FP16 tensor peak for W4A16 kernels, 80 %
of the memory bandwidth, weights and KV capacity from ``seedcoder.engines.memory``);
the H100 FP8 profile runs in the same sweep as the baseline. Writes
``results/sizing.json`` and ``results/sizing.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from seedcoder.engines import memory
from seedcoder.engines.profiles import get_profile

from benchmarks.autoscaling.fleet import Fleet, PoolConfig
from benchmarks.autoscaling.latency import PROFILES, LatencyProfile
from benchmarks.autoscaling.workload import Workload, read_trace

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TRACE = Path("..") / "shared" / "data" / "traces" / "AzureLLMInferenceTrace_code_2023.csv"

DEVELOPER_RPS = 1.0 / 10.0
"""One actively coding developer: a completion request every 10 s on average (IDE clients
ask on each typing pause, after a debounce; an assumption, not a measurement)."""


def developers(rps: float) -> int:
    """Whole developers a card serves at ``rps`` requests/s (rounded down)."""
    return math.floor(round(rps, 3) / DEVELOPER_RPS + 1e-9)


LM_HEAD_BYTES = memory.VOCAB * memory.HIDDEN * 2
"""Read every iteration in FP16 (the input embedding is only indexed, not streamed)."""


def _int4_awq_bytes_per_iteration() -> float:
    return memory.LINEAR_PARAMS * memory.WEIGHT_BYTES_PER_PARAM["int4-awq"] + LM_HEAD_BYTES


def _consumer(name: str, gpu: str, fp16_dense_flops: float, bandwidth: float) -> LatencyProfile:
    profile = get_profile(gpu)
    mb = memory.budget(profile, "int4-awq", profile.build_limits)
    return LatencyProfile(
        name=name,
        gpu=gpu,
        precision="int4-awq",
        f_eff=0.5 * fp16_dense_flops,
        bw_eff=0.8 * bandwidth,
        weight_bytes=_int4_awq_bytes_per_iteration(),
        kv_bytes_per_token=float(mb.kv_bytes_per_token),
        kv_capacity_tokens=mb.kv_budget_tokens,
        max_batch=profile.build_limits.max_batch_size,
        max_num_tokens=profile.build_limits.max_num_tokens,
    )


def consumer_profiles() -> dict[str, LatencyProfile]:
    """RTX 4090 (165 TFLOPS dense FP16 tensor with FP32 accumulate, 1,008 GB/s) and L4 (121 TFLOPS,
    300 GB/s), INT4 AWQ: NVIDIA's published peaks, derated as above."""
    return {
        "rtx4090-int4-awq": _consumer("rtx4090-int4-awq", "RTX4090", 165e12, 1008e9),
        "l4-int4-awq": _consumer("l4-int4-awq", "L4", 121e12, 300e9),
    }


def poisson_workload(rate: float, seconds: float, prompt: np.ndarray, gen: np.ndarray, seed: int) -> Workload:
    """Poisson arrivals at ``rate``/s, lengths resampled from the trace."""
    rng = np.random.default_rng(seed)
    n = max(1, int(rate * seconds))
    t = np.cumsum(rng.exponential(1.0 / rate, n))
    idx = rng.integers(0, len(prompt), n)
    return Workload(
        name=f"poisson-{rate:.3f}",
        t=t.tolist(),
        prompt=prompt[idx].tolist(),
        gen=gen[idx].tolist(),
        duration=float(t[-1]),
    )


def p95_ttft(profile: LatencyProfile, rate: float, prompt: np.ndarray, gen: np.ndarray, seed: int) -> float:
    """p95 TTFT (s) of one replica at ``rate``, the first tenth of the run left out as warm-up."""
    seconds = max(600.0, 3000.0 / rate)
    w = poisson_workload(rate, seconds, prompt, gen, seed)
    pool = PoolConfig("one", profile, 1, 1, 1.0)
    fleet = Fleet(w, [pool], 0.0, seed=seed, initial={"one": 1})
    fleet.run(None, 0.0, tail_s=600.0)
    ttft = np.asarray(fleet.ttft[len(w.t) // 10 :])
    ttft = np.where(np.isfinite(ttft), ttft, math.inf)
    return float(np.quantile(ttft, 0.95))


def capacity_at_slo(
    profile: LatencyProfile, slo_s: float, prompt: np.ndarray, gen: np.ndarray, seed: int = 0
) -> float:
    """The highest request rate (req/s, 2 % resolution) whose p95 TTFT stays within ``slo_s``; 0 if none."""
    lo, hi = 0.0, 0.05
    while p95_ttft(profile, hi, prompt, gen, seed) <= slo_s:
        lo, hi = hi, hi * 2
        if hi > 200:
            break
    if lo == 0.0 and p95_ttft(profile, 0.01, prompt, gen, seed) > slo_s:
        return 0.0
    lo = max(lo, 0.01)
    while hi - lo > 0.02 * lo:
        mid = (lo + hi) / 2
        if p95_ttft(profile, mid, prompt, gen, seed) <= slo_s:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class SizingRow:
    profile: str
    gpu: str
    precision: str
    slo_ms: int
    context_budget: int
    unloaded_ttft_ms_2048: float
    unloaded_p95_ms: float
    rps_at_slo: float
    developers_per_card: int
    kv_capacity_tokens: int


SWEEP: tuple[tuple[str, int, int], ...] = (
    ("h100-fp8", 300, 8192),
    ("rtx4090-int4-awq", 300, 8192),
    ("rtx4090-int4-awq", 1000, 8192),
    ("rtx4090-int4-awq", 500, 2048),
    ("rtx4090-int4-awq", 1000, 2048),
    ("l4-int4-awq", 1000, 2048),
    ("l4-int4-awq", 1500, 2048),
)
"""(profile, SLO p95 TTFT ms, the gateway's context budget in tokens): the budget trims prompts
around the cursor (``spec.gateway.maxContextTokens``), so the model clips the trace's prompts to it."""


def sizing(
    prompt: np.ndarray, gen: np.ndarray, sweep: tuple[tuple[str, int, int], ...] = SWEEP, seed: int = 0
) -> list[SizingRow]:
    """Every (profile, SLO, context budget) of the sweep: the H100 FP8 baseline and the two 24 GB cards."""
    profiles = {"h100-fp8": PROFILES["h100-fp8"], **consumer_profiles()}
    rows = []
    for name, slo, budget in sweep:
        prof = profiles[name]
        clipped = np.minimum(prompt, budget)
        unloaded = np.asarray([prof.unloaded_ttft(int(p)) for p in clipped])
        rps = capacity_at_slo(prof, slo / 1000.0, clipped, gen, seed)
        rows.append(
            SizingRow(
                profile=name,
                gpu=prof.gpu,
                precision=prof.precision,
                slo_ms=slo,
                context_budget=budget,
                unloaded_ttft_ms_2048=round(prof.unloaded_ttft(2048) * 1000, 1),
                unloaded_p95_ms=round(float(np.quantile(unloaded, 0.95)) * 1000, 1),
                rps_at_slo=round(rps, 3),
                developers_per_card=developers(rps),
                kv_capacity_tokens=prof.kv_capacity_tokens,
            )
        )
    return rows


def markdown(rows: list[SizingRow]) -> str:
    head = (
        "# Developers per card at the TTFT SLO (a model, not a measurement)\n\n"
        "Roofline replica model of `benchmarks/autoscaling/latency.py`, one replica, Poisson arrivals with "
        "the Azure code trace's prompt and output lengths; a developer sends one completion request every "
        f"{1 / DEVELOPER_RPS:.0f} s. Nothing here ran on a GPU.\n\n"
        "| profile | SLO p95 TTFT | context budget | unloaded TTFT, 2,048 tokens | unloaded p95 of the mix | "
        "requests/s at the SLO | developers per card | KV cache, tokens |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r.profile} | {r.slo_ms} ms | {r.context_budget:,} | {r.unloaded_ttft_ms_2048:.0f} ms | "
        f"{r.unloaded_p95_ms:.0f} ms | "
        f"{r.rps_at_slo:.2f} | {r.developers_per_card} | {r.kv_capacity_tokens:,} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sizing", description=__doc__.split("\n")[0])
    ap.add_argument("--trace", type=Path, default=None, help="CSV with ContextTokens, GeneratedTokens")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args(argv)
    trace_path = args.trace or Path(os.environ.get("SEEDCODER_TRACE", "") or REPO / DEFAULT_TRACE)
    if not trace_path.is_file():
        print(f"Trace not found: {trace_path} (pass --trace or set SEEDCODER_TRACE)", file=sys.stderr)
        return 2
    trace = read_trace(trace_path)
    rows = sizing(trace.prompt, trace.gen)
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": "model",
        "note": "roofline latency model, not measured on a GPU",
        "developer_requests_per_second": DEVELOPER_RPS,
        "trace": trace_path.name,
        "rows": [asdict(r) for r in rows],
    }
    (args.out / "sizing.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (args.out / "sizing.md").write_text(markdown(rows), encoding="utf-8")
    sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
