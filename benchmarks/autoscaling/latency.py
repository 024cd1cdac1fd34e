"""The replica latency model of the autoscaling benchmark (roofline, iteration level).

Why: the benchmark needs a replica whose time-to-first-token responds to load the way
an in-flight-batching TensorRT-LLM engine does, without a GPU. The constants are
calibrated from published TensorRT-LLM figures (see ``docs`` in
``benchmarks/README.md``); none were measured on a GPU here.

    t_iter = t_fix + max(FLOPs / F_eff, Bytes / BW_eff)
"""

from __future__ import annotations

from dataclasses import dataclass

PARAMS = 8.0e9
"""Seed-Coder-8B parameters."""
LAYERS = 32
HIDDEN = 4096
ATTN_FLOPS_PER_TOKEN_CTX = 4.0 * LAYERS * HIDDEN
"""Attention FLOPs per (token, context token) pair."""


@dataclass(frozen=True)
class LatencyProfile:
    """One GPU/precision: effective compute and bandwidth, weights, KV size, engine limits."""

    name: str
    gpu: str
    precision: str
    f_eff: float
    bw_eff: float
    weight_bytes: float
    kv_bytes_per_token: float
    t_fix: float = 1e-3
    kv_capacity_tokens: int = 400_000
    max_batch: int = 64
    max_num_tokens: int = 8192

    def iteration_seconds(
        self,
        prefill_tokens: float,
        prefill_attn: float,
        prefill_kv_read: float,
        n_decode: int,
        decode_ctx: float,
    ) -> float:
        """Noise-free duration of one engine iteration.

        ``prefill_attn`` is the sum over prefill tokens of their context length;
        ``prefill_kv_read`` the KV tokens the prefill chunks read; ``decode_ctx`` the
        summed context of the decoding sequences (one token each).
        """
        flops = 2.0 * PARAMS * (prefill_tokens + n_decode) + ATTN_FLOPS_PER_TOKEN_CTX * (
            prefill_attn + decode_ctx
        )
        nbytes = self.weight_bytes + self.kv_bytes_per_token * (prefill_kv_read + decode_ctx)
        return self.t_fix + max(flops / self.f_eff, nbytes / self.bw_eff)

    def unloaded_ttft(self, prompt_tokens: int) -> float:
        """Time to first token of a lone request (chunked prefill, no queueing, no noise)."""
        done, total = 0, 0.0
        while done < prompt_tokens:
            chunk = min(self.max_num_tokens, prompt_tokens - done)
            attn = chunk * done + chunk * (chunk + 1) / 2.0
            total += self.iteration_seconds(chunk, attn, done + chunk, 0, 0.0)
            done += chunk
        return total


_GB = 1e9
_KIB = 1024.0
_HBM_FRACTION = 0.9
"""Share of GPU memory the engine may use (weights, activations, KV cache)."""
_ACTIVATIONS = 2.0 * _GB


def _kv_capacity(gpu_mem_gb: float, weights: float, kv_per_token: float) -> int:
    return int((gpu_mem_gb * _GB * _HBM_FRACTION - weights - _ACTIVATIONS) / kv_per_token)


PROFILES: dict[str, LatencyProfile] = {
    "h100-fp8": LatencyProfile(
        name="h100-fp8",
        gpu="H100",
        precision="fp8",
        f_eff=890e12,
        bw_eff=0.8 * 3.35e12,
        weight_bytes=9.0 * _GB,
        kv_bytes_per_token=64 * _KIB,
        kv_capacity_tokens=_kv_capacity(80, 9.0 * _GB, 64 * _KIB),
    ),
    "h100-bf16": LatencyProfile(
        name="h100-bf16",
        gpu="H100",
        precision="bf16",
        f_eff=594e12,
        bw_eff=0.8 * 3.35e12,
        weight_bytes=16.06 * _GB,
        kv_bytes_per_token=128 * _KIB,
        kv_capacity_tokens=_kv_capacity(80, 16.06 * _GB, 128 * _KIB),
    ),
    "a100-bf16": LatencyProfile(
        name="a100-bf16",
        gpu="A100",
        precision="bf16",
        f_eff=221e12,
        bw_eff=0.8 * 2.039e12,
        weight_bytes=16.06 * _GB,
        kv_bytes_per_token=128 * _KIB,
        kv_capacity_tokens=_kv_capacity(80, 16.06 * _GB, 128 * _KIB),
    ),
}
"""The three calibrated profiles (roofline constants from published figures; derived, not measured)."""
