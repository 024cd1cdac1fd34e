"""The engine key: one short name for everything that makes two engines different.

Why: an engine only runs on the GPU architecture and TensorRT version that built
it, and is shaped by the model revision, precision and limits; the artifact also
holds the Triton repository generated from the packaged sources
(:mod:`seedcoder.engines.repo_source`). Hashing the
canonical JSON of exactly those inputs gives a deterministic name for the cache
directory and the build Job, so two resources (or two pools) that need the same
engine share one build, and any change of input builds a new one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedcoder.engines import calibration, repo_source
from seedcoder.engines.profiles import (
    CALIBRATED_PRECISIONS,
    BuildLimits,
    GpuProfile,
    Runtime,
    resolve_precision,
)
from seedcoder.images import default_image, identity, runtime_image_kind

KEY_SCHEMA = 2
"""Bump when the meaning of an input changes, so old cache entries are not reused."""
KEY_LENGTH = 16
"""Hex characters kept from the sha256: 64 bits, lower-case, a valid DNS label."""


PeftModule = Literal["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


class EngineLora(BaseModel):
    """TensorRT-LLM engines that serve LoRA adapters: the plugin's limits and the LoRA cache.

    Part of the key (a LoRA engine is another engine); None for engines without
    adapters and for llama.cpp, which loads GGUF adapters on any model.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_rank: int = Field(
        default=64, ge=1, le=256, description="Largest adapter rank served (max_lora_rank)."
    )
    target_modules: tuple[PeftModule, ...] = Field(
        default=("q_proj", "k_proj", "v_proj", "o_proj"),
        min_length=1,
        description="Layers adapters may touch (PEFT names); an adapter may use a subset.",
    )
    typical_rank: int = Field(
        default=16, ge=1, le=256, description="Rank most adapters have: sizes LoRA cache pages."
    )
    gpu_cache_fraction: float = Field(
        default=0.05, gt=0, le=0.5, description="GPU memory left after weights and KV cache for adapters."
    )
    host_cache_bytes: int = Field(
        default=1 << 30, ge=1 << 20, description="Host memory cache of adapters evicted from the GPU."
    )

    @model_validator(mode="after")
    def _ranks(self) -> EngineLora:
        if self.typical_rank > self.max_rank:
            raise ValueError(f"typical_rank {self.typical_rank} exceeds max_rank {self.max_rank}")
        if len(set(self.target_modules)) != len(self.target_modules):
            raise ValueError("target_modules lists a module twice")
        return self


class EngineInputs(BaseModel):
    """Every input that changes the bytes of an engine (and nothing else)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(min_length=1, description="Model id, e.g. ByteDance-Seed/Seed-Coder-8B-Base.")
    revision: str = Field(min_length=1, description="Pinned model revision (commit sha).")
    precision: str = Field(description="Resolved precision (never 'auto').")
    limits: BuildLimits
    arch: str = Field(description="GPU architecture: sm90, sm80, sm89, cpu.")
    runtime: Runtime = "tensorrt-llm"
    trtllm_version: str | None = None
    tensorrt_version: str | None = None
    llamacpp_version: str | None = None
    kv_cache_reuse: bool | None = Field(
        default=None,
        description="TensorRT-LLM only: KV-cache block reuse (build and repository); None for llama.cpp.",
    )
    calibration: str | None = Field(
        default=None,
        max_length=64,
        description="Calibration set of a quantised precision: builtin-<digest> or modelSource (else None).",
    )
    repository_source: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[0-9a-f]+$",
        description="Digest of the packaged sources that generate the Triton repository (repo_source).",
    )
    build_image: str = Field(
        min_length=1,
        description=(
            "The image that builds (and serves) the engine: its digest when the reference has one, "
            "else the reference (seedcoder.images.identity)."
        ),
    )
    lora: EngineLora | None = Field(
        default=None, description="TensorRT-LLM only: build with the LoRA plugin (None: no adapters)."
    )


def canonical_json(inputs: EngineInputs) -> str:
    """Sorted keys, no whitespace: the same inputs always give the same bytes."""
    payload = {"schema": KEY_SCHEMA, **inputs.model_dump(mode="json")}
    if payload.get("lora") is None:
        payload.pop("lora", None)  # engines without adapters keep the keys they had before LoRA existed
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def engine_key(inputs: EngineInputs) -> str:
    """First 16 hex characters of the sha256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(inputs).encode("ascii")).hexdigest()[:KEY_LENGTH]


def engine_inputs_for(
    profile: GpuProfile,
    model_name: str,
    revision: str,
    precision: str,
    limits: BuildLimits,
    *,
    build_image: str | None = None,
    kv_cache_reuse: bool = True,
    calibration_source: calibration.CalibrationSource = "builtin",
    lora: EngineLora | None = None,
) -> EngineInputs:
    """The inputs of the engine ``profile``'s GPU needs; ``precision`` may be ``auto``.

    ``build_image`` is the full reference of the build image (default: the
    project's image for the profile's runtime); only its identity (digest, else
    reference) enters the key.
    """
    trtllm = profile.runtime == "tensorrt-llm"
    resolved = resolve_precision(profile, precision)
    calibrated = trtllm and resolved in CALIBRATED_PRECISIONS
    return EngineInputs(
        model_name=model_name,
        revision=revision,
        precision=resolved,
        calibration=calibration.key_value(calibration_source) if calibrated else None,
        limits=limits,
        arch=profile.arch,
        runtime=profile.runtime,
        trtllm_version=profile.trtllm_version,
        tensorrt_version=profile.tensorrt_version,
        llamacpp_version=profile.llamacpp_version,
        build_image=identity(
            build_image or default_image(runtime_image_kind(profile.runtime, profile.arch)).reference
        ),
        kv_cache_reuse=kv_cache_reuse if trtllm else None,
        lora=lora if trtllm else None,
        repository_source=repo_source.repository_source_digest(),
    )
