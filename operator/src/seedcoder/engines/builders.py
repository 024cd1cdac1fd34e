"""Stages 3 and 4 of a build: quantise and build the engine, behind one small interface.

Why an interface: the TensorRT-LLM step needs an NVIDIA GPU and the TensorRT-LLM
image, which this project's tests do not have. Everything around it (plan,
arguments, files, resume, atomic publish, reporting) is tested with another
builder injected; :class:`TrtllmEngineBuilder` is the real one and is
**not executed here**. :class:`GgufEngineBuilder` (the llama.cpp runtime's
"engine" is the quantised GGUF file itself) runs everywhere, tests included.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from seedcoder.engines import calibration
from seedcoder.engines.buildcmd import BuildPlan
from seedcoder.engines.report import Stage
from seedcoder.engines.trtllm_args import TrtllmBuildArgs
from seedcoder.engines.trtllm_constraints import checked_trtllm_build_args

Progress = Callable[[Stage, int, str], None]
"""Reports a stage, its overall percent and a short message."""

CALIBRATION_DIR = calibration.MODEL_SOURCE_DIR
GGUF_FILE = "model.gguf"


class BuildError(RuntimeError):
    """The engine could not be built; the message says why and what to do."""


@dataclass(frozen=True)
class BuildJob:
    plan: BuildPlan
    model_dir: Path
    engine_dir: Path
    progress: Progress


class EngineBuilder(Protocol):
    def build(self, job: BuildJob) -> None:
        """Write the engine into ``job.engine_dir`` (which exists and is empty)."""


class TrtllmEngineBuilder:
    """ModelOpt quantisation and a TensorRT-LLM engine build through the LLM API.

    NOT EXECUTED HERE (no GPU): the calls follow TensorRT-LLM 1.x's LLM API
    (``LLM(model, build_config=BuildConfig(...), quant_config=QuantConfig(...))``,
    then ``llm.save``); quantisation runs inside ``LLM`` through ModelOpt.
    """

    def build(self, job: BuildJob) -> None:
        with tempfile.TemporaryDirectory(prefix="calibration-") as scratch:
            self._build(job, Path(scratch))

    def _build(self, job: BuildJob, scratch: Path) -> None:
        args = checked_trtllm_build_args(job.plan.inputs)
        calib_dir = job.model_dir / CALIBRATION_DIR
        if args.needs_calibration:
            if job.plan.inputs.calibration is None:
                raise BuildError(
                    f"precision {job.plan.inputs.precision} needs calibration data; the plan names none"
                )
            try:
                calib_dir = calibration.prepare(job.plan.inputs.calibration, job.model_dir, scratch)
            except calibration.CalibrationError as exc:
                raise BuildError(
                    f"precision {job.plan.inputs.precision} needs calibration data for ModelOpt: {exc}"
                ) from None
        job.progress("quantize" if args.needs_calibration else "build", 25, "Loading TensorRT-LLM.")
        llm_cls, llmapi = _import_trtllm()
        kwargs = self.llm_kwargs(args, llmapi, calib_dir)
        job.progress("build", 40, f"Building the {job.plan.inputs.arch} engine (quantisation included).")
        llm = llm_cls(model=str(job.model_dir), **kwargs)
        try:
            llm.save(str(job.engine_dir))
        finally:
            llm.shutdown()

    @staticmethod
    def llm_kwargs(args: TrtllmBuildArgs, llmapi: Any, calib_dir: Path) -> dict[str, Any]:
        build_config = llmapi.BuildConfig(
            max_batch_size=args.max_batch_size,
            max_input_len=args.max_input_len,
            max_seq_len=args.max_seq_len,
            max_num_tokens=args.max_num_tokens,
            max_beam_width=args.max_beam_width,
        )
        plugins = build_config.plugin_config
        plugins.use_paged_context_fmha = args.use_paged_context_fmha
        plugins.gemm_plugin = args.gemm_plugin
        plugins.tokens_per_block = args.tokens_per_block
        plugins.multiple_profiles = args.multiple_profiles
        kwargs: dict[str, Any] = {
            "dtype": args.dtype,
            "build_config": build_config,
            "kv_cache_config": llmapi.KvCacheConfig(enable_block_reuse=args.kv_cache_reuse),
        }
        if args.lora_plugin:  # adapters are not baked in: they come per request, by lora_task_id
            plugins.lora_plugin = "auto"
            build_config.lora_config.max_lora_rank = args.max_lora_rank
            build_config.lora_config.lora_target_modules = list(args.lora_target_modules)
            kwargs["enable_lora"] = True
        if args.needs_calibration:
            algo = llmapi.QuantAlgo
            kwargs["quant_config"] = llmapi.QuantConfig(
                quant_algo=algo[args.quant_algo] if args.quant_algo else None,
                kv_cache_quant_algo=algo[args.kv_cache_quant_algo] if args.kv_cache_quant_algo else None,
            )
            kwargs["calib_config"] = llmapi.CalibConfig(
                calib_dataset=str(calib_dir),
                calib_batches=args.calib_batches,
                calib_max_seq_length=args.calib_max_seq_length,
            )
        return kwargs


def _import_trtllm() -> tuple[Any, Any]:
    try:
        llmapi = importlib.import_module("tensorrt_llm.llmapi")
    except ImportError as exc:
        raise BuildError(
            f"TensorRT-LLM is not importable ({exc}); run the build in the TensorRT-LLM Triton image"
        ) from None
    try:  # 1.x: the TensorRT-engine LLM lives here (tensorrt_llm.LLM is the PyTorch backend)
        llm_cls = importlib.import_module("tensorrt_llm._tensorrt_engine").LLM
    except ImportError:
        llm_cls = importlib.import_module("tensorrt_llm").LLM
    return llm_cls, llmapi


class GgufEngineBuilder:
    """The llama.cpp runtime serves a quantised GGUF file: pick the one of this precision."""

    def build(self, job: BuildJob) -> None:
        tag = job.plan.inputs.precision.removeprefix("gguf-").lower()
        candidates = sorted(p for p in job.model_dir.rglob("*.gguf") if tag in p.name.lower())
        if len(candidates) != 1:
            found = ", ".join(p.name for p in job.model_dir.rglob("*.gguf")) or "none"
            raise BuildError(f"expected one {tag} GGUF file in {job.model_dir}, found: {found}")
        job.progress("build", 40, f"Copying {candidates[0].name}.")
        shutil.copyfile(candidates[0], job.engine_dir / GGUF_FILE)


def builder_for(plan: BuildPlan) -> EngineBuilder:
    return TrtllmEngineBuilder() if plan.inputs.runtime == "tensorrt-llm" else GgufEngineBuilder()
