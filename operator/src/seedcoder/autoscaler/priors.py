"""What a replica of each GPU profile is expected to hold before anything is observed.

Why: the policy sizes pools in requests/s per replica at the TTFT SLO. It learns
that figure online (``capacity.py``), but it must start somewhere sensible and
must know, before the first request, which prompts a GPU cannot serve inside the
SLO at all (those go to a faster pool). The numbers are derived from the
benchmark's roofline latency model (calibrated on published TensorRT-LLM
figures, not measured on a GPU here) with Poisson arrivals and the Azure code
trace's prompt mix. Prices are not here: they come from the engine profiles.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

REFERENCE_SLO_MS = 300.0
"""The SLO the ``rps_at_slo`` figures were derived for."""
UNLOADED_SHARE_OF_SLO = 0.75
"""A prompt is servable by a GPU when its unloaded TTFT is within this share of the SLO."""


class CapacityPrior(BaseModel):
    """Expected behaviour of one replica of one GPU profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str
    precision: str
    rps_at_slo: float = Field(gt=0, description="Requests/s per replica at p95 TTFT = the reference SLO.")
    base_p95_ms: float = Field(gt=0, description="p95 TTFT of the mix on an unloaded replica.")
    prefill_ms_per_1k_tokens: float = Field(
        gt=0, description="Unloaded prefill time per 1,000 prompt tokens."
    )
    utilisation_at_slo: float = Field(default=0.6, gt=0, lt=1, description="Prefill duty cycle at the SLO.")
    max_prompt_tokens: int = Field(default=8192, gt=0, description="Longest prompt the engine accepts.")

    def servable_prompt_tokens(self, slo_ms: float) -> int:
        """Longest prompt this GPU serves inside ``slo_ms`` with room left for queueing."""
        limit = int(UNLOADED_SHARE_OF_SLO * slo_ms / self.prefill_ms_per_1k_tokens * 1000.0)
        return min(self.max_prompt_tokens, limit)

    def rps_for_slo(self, slo_ms: float) -> float:
        """The prior capacity rescaled to another SLO by the room left above the unloaded p95."""
        room = max(slo_ms - self.base_p95_ms, 0.1 * slo_ms)
        ref_room = max(REFERENCE_SLO_MS - self.base_p95_ms, 0.1 * REFERENCE_SLO_MS)
        return self.rps_at_slo * min(3.0, room / ref_room)


_PRIORS: dict[tuple[str, str], CapacityPrior] = {
    ("H100", "fp8"): CapacityPrior(
        gpu="H100", precision="fp8", rps_at_slo=14.0, base_p95_ms=150.0, prefill_ms_per_1k_tokens=19.5
    ),
    ("H100", "bf16"): CapacityPrior(
        gpu="H100", precision="bf16", rps_at_slo=6.0, base_p95_ms=225.0, prefill_ms_per_1k_tokens=29.0
    ),
    ("A100", "bf16"): CapacityPrior(
        gpu="A100", precision="bf16", rps_at_slo=5.0, base_p95_ms=150.0, prefill_ms_per_1k_tokens=75.0
    ),
    ("L40S", "fp8"): CapacityPrior(
        gpu="L40S", precision="fp8", rps_at_slo=4.0, base_p95_ms=200.0, prefill_ms_per_1k_tokens=45.0
    ),
    # 24 GB cards, INT4 AWQ (benchmarks/sizing.py, a model): 1.5 and 0.7 requests/s at p95 1 s with a
    # 2,048-token context; their unloaded prefill is above the 300 ms reference, so rps_at_slo is
    # the figure rps_for_slo scales back up (x3 at 1 s).
    ("RTX4090", "int4-awq"): CapacityPrior(
        gpu="RTX4090",
        precision="int4-awq",
        rps_at_slo=0.5,
        base_p95_ms=412.0,
        prefill_ms_per_1k_tokens=200.0,
    ),
    ("L4", "int4-awq"): CapacityPrior(
        gpu="L4", precision="int4-awq", rps_at_slo=0.23, base_p95_ms=561.0, prefill_ms_per_1k_tokens=275.0
    ),
    ("CPU", "gguf-q4_k_m"): CapacityPrior(
        gpu="CPU",
        precision="gguf-q4_k_m",
        rps_at_slo=0.05,
        base_p95_ms=5000.0,
        prefill_ms_per_1k_tokens=5000.0,
    ),
}
_DEFAULT_PRECISION = {
    "H100": "fp8",
    "A100": "bf16",
    "L40S": "fp8",
    "RTX4090": "int4-awq",
    "L4": "int4-awq",
    "CPU": "gguf-q4_k_m",
}


def prior_for(gpu: str, precision: str = "") -> CapacityPrior:
    """The prior of a GPU kind and precision; an unknown pair gets a cautious generic prior."""
    key = (gpu, precision or _DEFAULT_PRECISION.get(gpu, ""))
    if key in _PRIORS:
        return _PRIORS[key]
    same_gpu = [p for (g, _), p in _PRIORS.items() if g == gpu]
    if same_gpu:
        return min(same_gpu, key=lambda p: p.rps_at_slo)
    return CapacityPrior(
        gpu=gpu, precision=precision, rps_at_slo=2.0, base_p95_ms=250.0, prefill_ms_per_1k_tokens=60.0
    )
