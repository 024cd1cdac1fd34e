"""The build Job's command line, written by the operator and parsed by the build program.

Why one module: the operator turns a plan into container args and the build
program turns the args back into the same plan; keeping both directions here (with
a round-trip test) means the two can never drift. The program also recomputes the
engine key from the inputs and refuses a key that does not match them.
"""

from __future__ import annotations

import argparse
from typing import Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seedcoder.engines import layout
from seedcoder.engines.calibration import CalibrationSource
from seedcoder.engines.key import EngineInputs, EngineLora, engine_inputs_for, engine_key
from seedcoder.engines.profiles import BuildLimits, GpuProfile
from seedcoder.engines.report import BuildReport, parse_termination_message
from seedcoder.engines.trtllm_constraints import checked_trtllm_build_args

__all__ = [
    "DEFAULT_TERMINATION_LOG",
    "BuildPlan",
    "BuildReport",
    "ModelSource",
    "build_command",
    "make_plan",
    "parse_build_args",
    "parse_termination_message",
]

DEFAULT_TERMINATION_LOG = "/dev/termination-log"
SourceKind = Literal["pvc", "s3", "huggingface"]


class ModelSource(BaseModel):
    """Where the build reads the weights from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SourceKind
    location: str = Field(
        min_length=1,
        description="pvc: directory inside the build pod; s3: s3://bucket/prefix; huggingface: repo id.",
    )
    endpoint: str | None = Field(default=None, description="S3 endpoint (a VPC endpoint), s3 only.")

    @model_validator(mode="after")
    def _well_formed(self) -> ModelSource:
        if self.kind == "pvc" and not self.location.startswith("/"):
            raise ValueError(f"a pvc source is an absolute path in the build pod, got {self.location!r}")
        if self.kind == "s3" and not self.location.startswith("s3://"):
            raise ValueError(f"an s3 source is an s3:// URI, got {self.location!r}")
        if self.endpoint is not None and self.kind != "s3":
            raise ValueError("endpoint applies to s3 sources only")
        return self


class BuildPlan(BaseModel):
    """One engine build: what to build, from where, into which cache."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    gpu: str = Field(description="GPU kind of the target pool (selects the profile; not part of the key).")
    inputs: EngineInputs
    source: ModelSource
    cache_dir: str = Field(
        description="Mount path of the engine cache in the build pod (the operator uses layout.CACHE_MOUNT)."
    )
    termination_log: str = DEFAULT_TERMINATION_LOG

    @model_validator(mode="after")
    def _key_matches(self) -> BuildPlan:
        expected = engine_key(self.inputs)
        if self.key != expected:
            raise ValueError(f"engine key {self.key!r} does not match its inputs (expected {expected!r})")
        return self

    @property
    def output_dir(self) -> str:
        """``<cache>/engines/<key>``: the published artifact (:mod:`seedcoder.engines.layout`)."""
        return layout.artifact_dir(self.cache_dir, self.key)


def make_plan(
    profile: GpuProfile,
    *,
    model_name: str,
    revision: str,
    precision: str,
    limits: BuildLimits,
    source: ModelSource,
    cache_dir: str,
    build_image: str | None = None,
    termination_log: str = DEFAULT_TERMINATION_LOG,
    kv_cache_reuse: bool = True,
    calibration_source: CalibrationSource = "builtin",
    lora: EngineLora | None = None,
) -> BuildPlan:
    """The plan for ``profile``'s GPU (``precision`` may be ``auto``), built in ``build_image``.

    Raises ``ValueError`` for a precision the GPU cannot run and for TensorRT-LLM
    arguments that break one of TensorRT-LLM's own constraints (``trtllm_constraints``).
    """
    inputs = engine_inputs_for(
        profile,
        model_name,
        revision,
        precision,
        limits,
        build_image=build_image,
        kv_cache_reuse=kv_cache_reuse,
        calibration_source=calibration_source,
        lora=lora,
    )
    if inputs.runtime == "tensorrt-llm":
        checked_trtllm_build_args(inputs)
    return BuildPlan(
        key=engine_key(inputs),
        gpu=profile.gpu,
        inputs=inputs,
        source=source,
        cache_dir=cache_dir,
        termination_log=termination_log,
    )


def build_command(plan: BuildPlan) -> list[str]:
    """Container command and args of the build Job."""
    i, lim = plan.inputs, plan.inputs.limits
    argv = ["seedcoder", "build-engine", "--key", plan.key, "--gpu", plan.gpu]
    argv += ["--model-name", i.model_name, "--revision", i.revision, "--precision", i.precision]
    argv += ["--arch", i.arch, "--runtime", i.runtime, "--build-image", i.build_image]
    for flag, value in (
        ("--trtllm-version", i.trtllm_version),
        ("--tensorrt-version", i.tensorrt_version),
        ("--llamacpp-version", i.llamacpp_version),
    ):
        if value is not None:
            argv += [flag, value]
    argv += ["--max-batch-size", str(lim.max_batch_size), "--max-input-len", str(lim.max_input_len)]
    argv += ["--max-output-len", str(lim.max_output_len), "--max-num-tokens", str(lim.max_num_tokens)]
    if i.kv_cache_reuse is not None:
        argv += ["--kv-cache-reuse", "true" if i.kv_cache_reuse else "false"]
    if i.calibration is not None:
        argv += ["--calibration", i.calibration]
    if i.lora is not None:
        argv += ["--lora", i.lora.model_dump_json()]
    argv += ["--repository-source", i.repository_source]
    argv += ["--source-kind", plan.source.kind, "--source", plan.source.location]
    if plan.source.endpoint is not None:
        argv += ["--s3-endpoint", plan.source.endpoint]
    argv += ["--cache-dir", plan.cache_dir, "--termination-log", plan.termination_log]
    return argv


class _Parser(argparse.ArgumentParser):
    """An argument parser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise ValueError(f"bad build-engine arguments: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="seedcoder build-engine", exit_on_error=False, add_help=False)
    for flag in (
        "--key",
        "--gpu",
        "--model-name",
        "--revision",
        "--precision",
        "--arch",
        "--runtime",
        "--build-image",
    ):
        p.add_argument(flag, required=True)
    p.add_argument("--repository-source", required=True)
    p.add_argument("--kv-cache-reuse", choices=["true", "false"])
    p.add_argument("--calibration")
    p.add_argument("--lora", help="EngineLora as JSON: build with the LoRA plugin")
    for flag in ("--trtllm-version", "--tensorrt-version", "--llamacpp-version", "--s3-endpoint"):
        p.add_argument(flag)
    for flag in ("--max-batch-size", "--max-input-len", "--max-output-len", "--max-num-tokens"):
        p.add_argument(flag, type=int, required=True)
    p.add_argument("--source-kind", required=True, choices=["pvc", "s3", "huggingface"])
    p.add_argument("--source", required=True)
    p.add_argument("--cache-dir", required=True)
    p.add_argument("--termination-log", default=DEFAULT_TERMINATION_LOG)
    return p


def _lora(raw: str) -> EngineLora:
    try:
        return EngineLora.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(f"bad build-engine arguments: --lora: {exc}") from None


def parse_build_args(argv: list[str]) -> BuildPlan:
    """The inverse of :func:`build_command` (without its first two words, or with them).

    Raises ``ValueError`` with a readable message on any bad or missing argument.
    """
    if argv[:2] == ["seedcoder", "build-engine"]:
        argv = argv[2:]
    try:
        ns, extra = _parser().parse_known_args(argv)
    except argparse.ArgumentError as exc:
        raise ValueError(f"bad build-engine arguments: {exc}") from None
    if extra:
        raise ValueError(f"unknown build-engine arguments: {' '.join(extra)}")
    limits = BuildLimits(
        max_batch_size=ns.max_batch_size,
        max_input_len=ns.max_input_len,
        max_output_len=ns.max_output_len,
        max_num_tokens=ns.max_num_tokens,
    )
    inputs = EngineInputs(
        model_name=ns.model_name,
        revision=ns.revision,
        precision=ns.precision,
        limits=limits,
        arch=ns.arch,
        runtime=ns.runtime,
        trtllm_version=ns.trtllm_version,
        tensorrt_version=ns.tensorrt_version,
        llamacpp_version=ns.llamacpp_version,
        build_image=ns.build_image,
        kv_cache_reuse=None if ns.kv_cache_reuse is None else ns.kv_cache_reuse == "true",
        repository_source=ns.repository_source,
        calibration=ns.calibration,
        lora=None if ns.lora is None else _lora(ns.lora),
    )
    source = ModelSource(kind=ns.source_kind, location=ns.source, endpoint=ns.s3_endpoint)
    return BuildPlan(
        key=ns.key,
        gpu=ns.gpu,
        inputs=inputs,
        source=source,
        cache_dir=ns.cache_dir,
        termination_log=ns.termination_log,
    )
