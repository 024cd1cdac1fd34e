"""Will an engine fit on its GPU? The memory budget of one Seed-Coder-8B engine at its limits.

Why: a 24 GB card holds Seed-Coder-8B in INT4 AWQ or FP8 with room for a useful
KV cache, but not in FP16 at the limits a team configures; a build that cannot fit
would burn GPU time and then fail to load (or serve one request at a time). The
budget is computed from the model's shape (``FACTS.md``: 32 layers, 8 KV heads of
128, untied 155,136-token embeddings) and the engine's limits, so the operator can
refuse the combination at admission and say by how much it misses.

The budget, in the order TensorRT-LLM spends the card's memory:

1. **weights**: the linear layers at the precision's width (INT4 AWQ adds one FP16
   scale per 128 weights), embeddings and LM head kept in FP16 (ModelOpt leaves them
   unquantised);
2. **activations**: TensorRT reserves, at load, the largest intermediate tensors of
   a ``max_num_tokens`` step (fused gate/up and SwiGLU output, QKV, two hidden
   buffers in FP16) plus ``max_batch_size`` rows of FP32 logits;
3. **runtime**: the CUDA context, cuBLAS/TensorRT workspaces and runtime buffers,
   :data:`RUNTIME_OVERHEAD_GIB` (an estimate, not a measurement);
4. **KV cache**: Triton's ``kv_cache_free_gpu_mem_fraction`` (0.9) of what is left.

The KV cache it needs: one request at the limits (``max_seq_len`` tokens) and the
rest of the in-flight batch (``max_batch_size - 1`` requests) at a typical code
completion, :data:`TYPICAL_PROMPT_TOKENS` plus ``max_output_len``: the scheduler
(``guaranteed_no_evict``) reserves each request's prompt plus its ``max_tokens``
before admitting it. A cache smaller than that is not useful: the batch the engine
was built for could never run.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from seedcoder.engines.profiles import BuildLimits, GpuProfile

GIB: Final = 1 << 30
MIB: Final = 1 << 20

# Seed-Coder-8B-Base (config.json; FACTS.md).
LAYERS: Final = 32
HIDDEN: Final = 4096
INTERMEDIATE: Final = 14336
HEADS: Final = 32
KV_HEADS: Final = 8
HEAD_DIM: Final = 128
VOCAB: Final = 155_136
LINEAR_PARAMS: Final = LAYERS * (
    HIDDEN * HEADS * HEAD_DIM * 2  # q, o
    + HIDDEN * KV_HEADS * HEAD_DIM * 2  # k, v
    + HIDDEN * INTERMEDIATE * 3  # gate, up, down
)
"""Parameters of the quantisable linear layers (6.98 B)."""
EMBEDDING_PARAMS: Final = 2 * VOCAB * HIDDEN
"""Input embeddings and the (untied) LM head (1.27 B), kept in FP16."""
NORM_PARAMS: Final = LAYERS * 2 * HIDDEN + HIDDEN

AWQ_GROUP: Final = 128
"""INT4 AWQ: one FP16 scale per group of 128 weights."""
WEIGHT_BYTES_PER_PARAM: Final[dict[str, float]] = {
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8-sq": 1.0,
    "int4-awq": 0.5 + 2.0 / AWQ_GROUP,
}
"""Bytes per linear-layer weight, by precision (scales of per-tensor/per-channel schemes are negligible)."""
KV_BYTES_PER_ELEMENT: Final[dict[str, int]] = {"fp8": 1}
"""FP8 engines keep an FP8 KV cache; every other precision an FP16 one (``trtllm_args``)."""

RUNTIME_OVERHEAD_GIB: Final = 1.0
"""CUDA context, cuBLAS/TensorRT workspaces and runtime buffers (an estimate)."""
KV_FREE_FRACTION: Final = 0.9
"""Triton's ``kv_cache_free_gpu_mem_fraction``: the KV cache takes this share of what is left."""
TYPICAL_PROMPT_TOKENS: Final = 2048
"""Mean prompt of the Azure LLM inference code trace (2023): 2,048 tokens over 8,819 requests."""


class MemoryBudget(BaseModel):
    """Where one engine's GPU memory goes, in GiB, and whether the KV cache it needs fits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str
    precision: str
    gpu_memory_gib: float = Field(description="Memory of one card (what the driver reports).")
    weights_gib: float
    activations_gib: float
    runtime_gib: float
    kv_bytes_per_token: int
    free_gib: float = Field(
        description="Left after weights, activations and runtime (negative: they do not fit)."
    )
    kv_needed_gib: float = Field(description="One request at the limits plus the batch at typical length.")
    max_seq_len: int
    max_batch_size: int

    @property
    def kv_budget_gib(self) -> float:
        """What the KV cache gets: its share of what is left."""
        return max(0.0, self.free_gib) * KV_FREE_FRACTION

    @property
    def kv_budget_tokens(self) -> int:
        return max(0, int(self.kv_budget_gib * GIB) // self.kv_bytes_per_token)

    @property
    def sequences_at_limits(self) -> int:
        """Requests of ``max_seq_len`` tokens the KV cache holds at once."""
        return self.kv_budget_tokens // self.max_seq_len

    @property
    def shortfall_gib(self) -> float:
        """How much memory is missing (0 when it fits)."""
        return max(0.0, self.kv_needed_gib / KV_FREE_FRACTION - self.free_gib)

    @property
    def fits(self) -> bool:
        return self.shortfall_gib == 0.0

    def summary(self) -> str:
        """One line: the parts, the KV budget and the verdict."""
        parts = (
            f"{self.gpu} ({self.gpu_memory_gib:.1f} GiB), {self.precision}: "
            f"weights {self.weights_gib:.1f} GiB, "
            f"activations {self.activations_gib:.1f} GiB, runtime {self.runtime_gib:.1f} GiB, "
            f"KV cache {self.kv_budget_gib:.1f} GiB = {self.kv_budget_tokens} tokens "
            f"({self.kv_bytes_per_token // 1024} KiB each), {self.sequences_at_limits} requests of "
            f"{self.max_seq_len} tokens"
        )
        if self.fits:
            return f"{parts}; needs {self.kv_needed_gib:.1f} GiB of KV cache: fits"
        return (
            f"{parts}; needs {self.kv_needed_gib:.1f} GiB of KV cache for maxBatchSize "
            f"{self.max_batch_size}: does not fit, short by {self.shortfall_gib:.1f} GiB"
        )


def weight_bytes(precision: str) -> float:
    """Bytes of Seed-Coder-8B's weights in ``precision`` (a TensorRT-LLM precision)."""
    try:
        per_param = WEIGHT_BYTES_PER_PARAM[precision]
    except KeyError:
        raise ValueError(f"no weight size for precision {precision!r}") from None
    return LINEAR_PARAMS * per_param + (EMBEDDING_PARAMS + NORM_PARAMS) * 2.0


def kv_bytes_per_token(precision: str) -> int:
    """K and V of every layer for one token: 128 KiB in FP16, 64 KiB in FP8."""
    return 2 * LAYERS * KV_HEADS * HEAD_DIM * KV_BYTES_PER_ELEMENT.get(precision, 2)


def activation_bytes(limits: BuildLimits) -> float:
    """What TensorRT reserves for the intermediate tensors of the largest step."""
    per_token = 2 * (3 * INTERMEDIATE + (HEADS + 2 * KV_HEADS) * HEAD_DIM + 2 * HIDDEN)
    logits = limits.max_batch_size * VOCAB * 4
    return float(limits.max_num_tokens * per_token + logits)


def kv_tokens_needed(limits: BuildLimits) -> int:
    """One request at the limits, the rest of the batch at a typical completion's reservation."""
    typical = min(limits.max_seq_len, TYPICAL_PROMPT_TOKENS + limits.max_output_len)
    return limits.max_seq_len + (limits.max_batch_size - 1) * typical


def gpu_memory_gib(profile: GpuProfile) -> float:
    """The card's memory as the driver reports it (GPU Feature Discovery's label), else the nominal size."""
    if profile.gpu_memory_mib is not None:
        return profile.gpu_memory_mib / 1024
    return float(profile.gpu_memory_gib)


def budget(profile: GpuProfile, precision: str, limits: BuildLimits) -> MemoryBudget:
    """The memory budget of a TensorRT-LLM engine of ``precision`` with ``limits`` on ``profile``'s card."""
    total = gpu_memory_gib(profile)
    weights = weight_bytes(precision) / GIB
    activations = activation_bytes(limits) / GIB
    left = total - weights - activations - RUNTIME_OVERHEAD_GIB
    per_token = kv_bytes_per_token(precision)
    return MemoryBudget(
        gpu=profile.gpu,
        precision=precision,
        gpu_memory_gib=round(total, 3),
        weights_gib=round(weights, 3),
        activations_gib=round(activations, 3),
        runtime_gib=RUNTIME_OVERHEAD_GIB,
        kv_bytes_per_token=per_token,
        free_gib=round(left, 3),
        kv_needed_gib=round(kv_tokens_needed(limits) * per_token / GIB, 3),
        max_seq_len=limits.max_seq_len,
        max_batch_size=limits.max_batch_size,
    )
