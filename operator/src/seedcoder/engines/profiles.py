"""GPU build profiles: which runtime, precision and limits each GPU kind gets.

Why: the operator decides which engine a pool needs and the build program decides
what it may build; both must agree, and the engine key is derived from the same
facts. The profiles are data (``profiles.yaml`` beside this module), loaded into
frozen pydantic models so nothing downstream reads raw dicts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Runtime = Literal["tensorrt-llm", "llamacpp"]

TRTLLM_PRECISIONS: frozenset[str] = frozenset({"bf16", "fp16", "fp8", "int8-sq", "int4-awq"})
"""Precisions the TensorRT-LLM build program knows how to produce."""
LLAMACPP_PRECISIONS: frozenset[str] = frozenset({"gguf-q4_k_m", "gguf-q8_0", "gguf-f16"})
"""GGUF quantisations the llama.cpp runtime serves."""
CALIBRATED_PRECISIONS: frozenset[str] = frozenset({"fp8", "int8-sq", "int4-awq"})
"""Precisions ModelOpt quantises with calibration data (activation, KV or AWQ weight scales)."""
FP8_ARCHS: frozenset[str] = frozenset({"sm89", "sm90"})
"""FP8 needs Ada (sm89) or Hopper (sm90)."""


class BuildLimits(BaseModel):
    """Engine shape limits; part of the engine key (a change means a new engine)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int = Field(ge=1, le=1024, description="Requests batched in flight.")
    max_input_len: int = Field(ge=1, le=32768, description="Longest prompt, tokens.")
    max_output_len: int = Field(ge=1, le=32768, description="Most tokens generated per request.")
    max_num_tokens: int = Field(ge=1, le=262144, description="Tokens per engine step (context chunking).")

    @property
    def max_seq_len(self) -> int:
        """Prompt plus completion; Seed-Coder's positions stop at 32,768."""
        return self.max_input_len + self.max_output_len

    @model_validator(mode="after")
    def _fits_the_model(self) -> BuildLimits:
        if self.max_seq_len > 32768:
            raise ValueError(
                f"max_input_len + max_output_len = {self.max_seq_len} exceeds Seed-Coder's 32768 positions"
            )
        return self


class AlternativeRuntime(BaseModel):
    """A second runtime on the same nodes (llama.cpp with CUDA on consumer cards): its own precisions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runtime: Runtime
    default_precision: str
    supported_precisions: tuple[str, ...] = Field(min_length=1)
    llamacpp_version: str | None = None
    build_limits: BuildLimits


class GpuProfile(BaseModel):
    """Everything that is fixed for one GPU kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gpu: str = Field(description="GPU kind as written in a pool: H100, A100, L40S, RTX4090, L4, CPU.")
    arch: str = Field(description="Compute architecture an engine is tied to: sm90, sm80, sm89, cpu.")
    product_label: str | None = Field(
        description="The main nvidia.com/gpu.product of this kind (None: CPU, no GPU)."
    )
    compute_capability: str | None = Field(
        default=None,
        pattern=r"^[0-9]+\.[0-9]+$",
        description="major.minor of the architecture (GPU Feature Discovery's nvidia.com/gpu.compute.*).",
    )
    products: tuple[str, ...] = Field(
        default=(), description="Every nvidia.com/gpu.product value of this architecture's variants."
    )
    runtime: Runtime
    default_precision: str
    supported_precisions: tuple[str, ...] = Field(min_length=1)
    trtllm_version: str | None = None
    tensorrt_version: str | None = None
    llamacpp_version: str | None = None
    gpu_memory_gib: int = Field(ge=0)
    gpu_memory_mib: int | None = Field(
        default=None,
        ge=1,
        description="Memory of the main product as the driver reports it (GPU Feature Discovery's "
        "nvidia.com/gpu.memory, MiB); the memory budget uses it.",
    )
    gpu_memory_mib_range: tuple[int, int] | None = Field(
        default=None,
        description="(above, below) bounds on nvidia.com/gpu.memory (MiB) added to the compute-capability "
        "match: tells this kind from other cards of the same architecture (L40S, RTX 4090, L4 are all sm89).",
    )
    alternative: AlternativeRuntime | None = Field(
        default=None, description="Another runtime a pool of this GPU kind may choose (spec.pools[].runtime)."
    )
    build_shm_gib: int = Field(
        ge=1, le=256, description="Memory-backed /dev/shm of the build pod (torch workers, NCCL), GiB."
    )
    build_scratch_gib: int = Field(
        ge=1, le=1024, description="Scratch volume of the build pod (home, library caches), GiB."
    )
    cost_per_hour_usd: float = Field(gt=0, description="List price estimate per GPU-hour (on demand).")
    build_limits: BuildLimits

    @model_validator(mode="after")
    def _consistent(self) -> GpuProfile:
        known = TRTLLM_PRECISIONS if self.runtime == "tensorrt-llm" else LLAMACPP_PRECISIONS
        unknown = [p for p in self.supported_precisions if p not in known]
        if unknown:
            raise ValueError(f"{self.gpu}: precisions {unknown} are not {self.runtime} precisions")
        if self.default_precision not in self.supported_precisions:
            raise ValueError(f"{self.gpu}: default precision {self.default_precision} is not supported")
        if "fp8" in self.supported_precisions and self.arch not in FP8_ARCHS:
            raise ValueError(f"{self.gpu}: fp8 needs sm89 or newer, not {self.arch}")
        if self.runtime == "tensorrt-llm" and not (self.trtllm_version and self.tensorrt_version):
            raise ValueError(f"{self.gpu}: a tensorrt-llm profile needs trtllm_version and tensorrt_version")
        if self.product_label is not None and self.product_label not in self.products:
            raise ValueError(f"{self.gpu}: products must list the product_label {self.product_label}")
        if self.product_label is not None and self.compute_capability is None:
            raise ValueError(f"{self.gpu}: a GPU profile needs compute_capability")
        cc = self.compute_capability
        if cc is not None and self.arch != "sm" + cc.replace(".", ""):
            raise ValueError(f"{self.gpu}: compute capability {self.compute_capability} is not {self.arch}")
        if self.runtime == "llamacpp" and not self.llamacpp_version:
            raise ValueError(f"{self.gpu}: a llamacpp profile needs llamacpp_version")
        rng = self.gpu_memory_mib_range
        if rng is not None and not rng[0] < (self.gpu_memory_mib or rng[0] + 1) < rng[1]:
            raise ValueError(f"{self.gpu}: gpu_memory_mib {self.gpu_memory_mib} is outside its range {rng}")
        alt = self.alternative
        if alt is not None:
            if alt.runtime == self.runtime:
                raise ValueError(f"{self.gpu}: the alternative runtime must differ from {self.runtime}")
            self.with_runtime(alt.runtime)  # validates the derived profile
        return self

    @property
    def runtimes(self) -> tuple[Runtime, ...]:
        """The runtimes a pool of this kind may run: the profile's own first."""
        return (self.runtime,) if self.alternative is None else (self.runtime, self.alternative.runtime)

    def with_runtime(self, runtime: str | None) -> GpuProfile:
        """This kind's profile for ``runtime`` (None: the default runtime); the same nodes and arch."""
        if runtime is None or runtime == self.runtime:
            return self
        alt = self.alternative
        if alt is None or alt.runtime != runtime:
            raise ValueError(
                f"runtime {runtime!r} cannot run on {self.gpu}; runtimes: {', '.join(self.runtimes)}"
            )
        body = self.model_dump()
        body.update(
            runtime=alt.runtime,
            default_precision=alt.default_precision,
            supported_precisions=alt.supported_precisions,
            llamacpp_version=alt.llamacpp_version,
            trtllm_version=None,
            tensorrt_version=None,
            build_limits=alt.build_limits.model_dump(),
            alternative=None,
        )
        return GpuProfile.model_validate(body)


def parse_profiles(text: str) -> dict[str, GpuProfile]:
    """Parse a profiles document (the YAML format of ``profiles.yaml``)."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise ValueError("a profiles document needs a top-level 'profiles' mapping")
    return {name: GpuProfile.model_validate({"gpu": name, **body}) for name, body in data["profiles"].items()}


@cache
def load_profiles() -> dict[str, GpuProfile]:
    """The packaged profiles, keyed by GPU kind (loaded once; the models are frozen)."""
    text = resources.files("seedcoder.engines").joinpath("profiles.yaml").read_text(encoding="utf-8")
    return parse_profiles(text)


def get_profile(gpu: str, runtime: str | None = None) -> GpuProfile:
    """The profile of one GPU kind (for ``runtime``, default its own); a clear error names the unknown
    kind and the known ones (KeyError) or the runtimes the kind has (ValueError)."""
    profiles = load_profiles()
    try:
        profile = profiles[gpu]
    except KeyError:
        known = ", ".join(sorted(profiles))
        raise KeyError(f"no build profile for GPU {gpu!r}; known GPUs: {known}") from None
    return profile.with_runtime(runtime)


def profile_for_product_label(label: str) -> GpuProfile | None:
    """The profile one of whose ``nvidia.com/gpu.product`` values is ``label``, if any."""
    for profile in load_profiles().values():
        if label in profile.products:
            return profile
    return None


def resolve_precision(profile: GpuProfile, requested: str) -> str:
    """``auto`` becomes the profile's default; an unsupported precision is refused by name."""
    if requested == "auto":
        return profile.default_precision
    if requested not in profile.supported_precisions:
        raise ValueError(
            f"precision {requested!r} cannot run on {profile.gpu} ({profile.arch}); "
            f"supported: {', '.join(profile.supported_precisions)}"
        )
    return requested


def limits_for(
    profile: GpuProfile,
    *,
    max_batch_size: int | None = None,
    max_input_len: int | None = None,
    max_output_len: int | None = None,
    max_num_tokens: int | None = None,
) -> BuildLimits:
    """The profile's default limits with the resource's overrides applied (``None`` keeps a default)."""
    overrides = {
        "max_batch_size": max_batch_size,
        "max_input_len": max_input_len,
        "max_output_len": max_output_len,
        "max_num_tokens": max_num_tokens,
    }
    base = profile.build_limits.model_dump()
    base.update({k: v for k, v in overrides.items() if v is not None})
    return BuildLimits.model_validate(base)
