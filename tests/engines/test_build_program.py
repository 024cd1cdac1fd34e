"""The engine build program: stages, progress, idempotence, atomic publish, refusals.

The GPU step is injected (``EngineBuilder``); everything around it is the real
program writing a real cache directory. The llama.cpp path runs for real with the
Gemma GGUF (its "engine" is the GGUF file).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from seedcoder.engines.artifact import Artifact
from seedcoder.engines.build import EXIT_PERMANENT, main
from seedcoder.engines.buildcmd import BuildPlan, ModelSource, build_command, make_plan, parse_build_args
from seedcoder.engines.builders import BuildError, BuildJob, TrtllmEngineBuilder
from seedcoder.engines.key import EngineInputs, EngineLora, engine_key
from seedcoder.engines.llamacpp_repo import THREADS_ENV, resolve_threads
from seedcoder.engines.profiles import get_profile
from seedcoder.engines.report import BuildReport, parse_termination_message
from seedcoder.engines.trtllm_args import trtllm_build_args
from seedcoder.engines.trtllm_repo import repository_files_for
from seedcoder.engines.weights import sha256_file
from seedcoder.localstack.triton import TritonServer

from tests.engines.plans import build_image_for
from tests.engines.tritonio import StreamingClient, make_inputs


class FakeEngineBuilder:
    """Stands in for the GPU step only: writes engine bytes and records what it saw."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.jobs: list[BuildJob] = []
        self.seen_final_dir_during_build: bool | None = None

    def build(self, job: BuildJob) -> None:
        self.jobs.append(job)
        job.progress("build", 40, "Building.")
        final = Path(job.plan.output_dir)
        self.seen_final_dir_during_build = final.exists()
        assert job.engine_dir.parent.name.startswith(f".tmp-{job.plan.key}-")
        (job.engine_dir / "rank0.engine").write_bytes(b"\x00" * 4096)
        (job.engine_dir / "config.json").write_text(json.dumps({"key": job.plan.key}))
        job.progress("build", 85, "Built.")
        if self.fail:
            raise RuntimeError("GPU fell off the bus")


def _model_dir(tmp_path: Path) -> Path:
    src = tmp_path / "models" / "seed-coder-8b-base"
    src.mkdir(parents=True)
    (src / "config.json").write_text('{"architectures": ["LlamaForCausalLM"]}')
    (src / "tokenizer.json").write_text('{"model": {"type": "BPE"}}')
    (src / "tokenizer_config.json").write_text("{}")
    (src / "model-00001-of-00002.safetensors").write_bytes(os.urandom(2048))
    (src / "model-00002-of-00002.safetensors").write_bytes(os.urandom(1024))
    sums = "".join(f"{sha256_file(p)}  {p.name}\n" for p in sorted(src.glob("*.safetensors")))
    (src / "SHA256SUMS").write_text(sums)
    return src


def _plan(tmp_path: Path, gpu: str = "A100", precision: str = "bf16") -> BuildPlan:
    profile = get_profile(gpu)
    return make_plan(
        profile,
        model_name="ByteDance-Seed/Seed-Coder-8B-Base",
        revision="0123456789abcdef0123456789abcdef01234567",
        precision=precision,
        limits=profile.build_limits,
        source=ModelSource(kind="pvc", location=str(tmp_path / "models" / "seed-coder-8b-base")),
        cache_dir=str(tmp_path / "cache"),
        build_image=build_image_for(profile),
        termination_log=str(tmp_path / "termination-log"),
    )


def _run(plan: BuildPlan, builder: Any) -> tuple[int, list[BuildReport]]:
    out = io.StringIO()
    rc = main(build_command(plan), builder=builder, out=out)
    reports = [BuildReport.model_validate_json(line) for line in out.getvalue().splitlines()]
    return rc, reports


def test_builds_publishes_and_reports_progress(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    plan = _plan(tmp_path)
    builder = FakeEngineBuilder()
    rc, reports = _run(plan, builder)
    assert rc == 0
    final = Path(plan.output_dir)
    assert builder.seen_final_dir_during_build is False  # nothing at the final path until publish
    assert sorted(p.name for p in final.iterdir() if p.name != ".lock") == [
        "engine",
        "manifest.json",
        "tokenizer",
        "triton",
    ]
    assert not list(final.parent.glob(".tmp-*"))
    stages = [r.stage for r in reports]
    assert stages[0] == "plan"
    assert stages[-1] == "done"
    for expected in ("fetch", "verify", "build", "repository", "manifest", "publish"):
        assert expected in stages
    percents = [r.percent for r in reports]
    assert percents == sorted(percents)
    assert [r.state for r in reports[:-1]] == ["Running"] * (len(reports) - 1)
    last = reports[-1]
    assert last.state == "Succeeded"
    assert last.manifest is not None
    assert last.manifest.engine_bytes == 4096 + len(json.dumps({"key": plan.key}))
    assert not last.manifest.reused
    # the operator's view: the termination message holds the final report
    assert parse_termination_message((tmp_path / "termination-log").read_text()) == last
    manifest = json.loads((final / "manifest.json").read_text())
    assert manifest["key"] == plan.key
    assert manifest["inputs"]["tensorrt_version"] == "10.13.3.9"
    assert {w["path"] for w in manifest["weights"]} == {
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    }
    assert set(manifest["stage_seconds"]) == {"fetch", "verify", "build", "repository"}
    assert (final / "triton" / "tensorrt_llm" / "config.pbtxt").is_file()
    assert f"{final}/engine" in (final / "triton" / "tensorrt_llm" / "config.pbtxt").read_text()
    assert (final / "tokenizer" / "tokenizer.json").is_file()


def test_a_complete_artifact_is_never_rebuilt(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    plan = _plan(tmp_path)
    assert _run(plan, FakeEngineBuilder())[0] == 0
    manifest = Path(plan.output_dir) / "manifest.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    again = FakeEngineBuilder()
    rc, reports = _run(plan, again)
    assert rc == 0
    assert again.jobs == []
    assert reports[-1].manifest is not None
    assert reports[-1].manifest.reused
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before


def test_partial_artifacts_are_cleaned_and_redone(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    plan = _plan(tmp_path)
    artifact = Artifact(Path(plan.cache_dir), plan.key)
    abandoned = artifact.new_workdir()
    (abandoned / "engine").mkdir()
    (abandoned / "engine" / "half.engine").write_bytes(b"x")
    artifact.final_dir.mkdir(parents=True)  # a final directory without a manifest: incomplete
    (artifact.final_dir / "stale").write_text("old")
    other = Artifact(Path(plan.cache_dir), "f" * 16).new_workdir()  # another key's build: untouched
    rc, reports = _run(plan, FakeEngineBuilder())
    assert rc == 0
    assert any("Removed 2 partial" in r.message for r in reports)
    assert not abandoned.exists()
    assert not (artifact.final_dir / "stale").exists()
    assert artifact.is_complete()
    assert other.exists()


def test_a_failed_build_leaves_nothing_behind_and_reports_failure(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    plan = _plan(tmp_path)
    rc, reports = _run(plan, FakeEngineBuilder(fail=True))
    assert rc == 1
    assert reports[-1].state == "Failed"
    assert reports[-1].stage == "build"
    assert "GPU fell off the bus" in reports[-1].message
    assert not Path(plan.output_dir).exists()
    assert not list(Path(plan.cache_dir, "engines").glob(".tmp-*"))
    assert parse_termination_message((tmp_path / "termination-log").read_text()) == reports[-1]


def test_losing_a_publish_race_keeps_the_winner(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    plan = _plan(tmp_path)

    class RacingBuilder(FakeEngineBuilder):
        def build(self, job: BuildJob) -> None:
            super().build(job)
            # another Job publishes the same key while this one is still building
            assert _run(plan, FakeEngineBuilder())[0] == 0

    rc, reports = _run(plan, RacingBuilder())
    assert rc == 0
    assert "Another build published" in reports[-1].message
    assert Artifact(Path(plan.cache_dir), plan.key).is_complete()
    assert not list(Path(plan.cache_dir, "engines").glob(".tmp-*"))


def test_refuses_a_precision_the_gpu_cannot_run(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    good = _plan(tmp_path)
    inputs = good.inputs.model_copy(update={"precision": "fp8"})
    plan = good.model_copy(update={"inputs": inputs, "key": engine_key(inputs)})
    builder = FakeEngineBuilder()
    rc, reports = _run(plan, builder)
    assert rc == EXIT_PERMANENT
    assert reports[-1].state == "Failed"
    assert "'fp8' cannot run on A100 (sm80)" in reports[-1].message
    assert builder.jobs == []
    assert not Path(plan.cache_dir).exists()


def test_refuses_a_plan_for_another_architecture(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    good = _plan(tmp_path, "H100", "fp8")
    plan = BuildPlan.model_validate({**good.model_dump(), "gpu": "A100"})
    rc, reports = _run(plan, FakeEngineBuilder())
    assert rc == EXIT_PERMANENT
    assert "A100 is sm80/tensorrt-llm, but the plan is for sm90/tensorrt-llm" in reports[-1].message


def test_a_checksum_mismatch_fails_verification(tmp_path: Path) -> None:
    src = _model_dir(tmp_path)
    (src / "model-00002-of-00002.safetensors").write_bytes(b"corrupted")
    plan = _plan(tmp_path)
    rc, reports = _run(plan, FakeEngineBuilder())
    assert rc == EXIT_PERMANENT
    assert reports[-1].stage == "verify"
    assert "checksum mismatch for model-00002-of-00002.safetensors" in reports[-1].message


def test_an_unexpected_failure_may_be_retried_a_known_one_is_not(tmp_path: Path) -> None:
    """Exit 1 (unexpected, perhaps transient) is retried; exit 10 (same inputs fail again) is not."""
    _model_dir(tmp_path)
    rc, reports = _run(_plan(tmp_path), FakeEngineBuilder(fail=True))
    assert rc == 1
    assert "GPU fell off the bus" in reports[-1].message
    (tmp_path / "models" / "seed-coder-8b-base" / "config.json").unlink()
    rc, reports = _run(_plan(tmp_path), FakeEngineBuilder())
    assert rc == EXIT_PERMANENT
    assert "config.json" in reports[-1].message


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--key", "x"]) == 2
    assert "bad build-engine arguments" in capsys.readouterr().err


def test_fp8_with_a_missing_model_source_calibration_set_is_refused_with_the_format(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    good = _plan(tmp_path, "H100", "fp8")
    inputs = good.inputs.model_copy(update={"calibration": "modelSource"})
    plan = good.model_copy(update={"inputs": inputs, "key": engine_key(inputs)})
    rc, reports = _run(plan, TrtllmEngineBuilder())
    assert rc == EXIT_PERMANENT
    assert "needs calibration data" in reports[-1].message
    assert "load_dataset(dir, split='train')['text']" in reports[-1].message


def test_the_real_builder_says_tensorrt_llm_is_missing_here(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    rc, reports = _run(_plan(tmp_path, "A100", "bf16"), TrtllmEngineBuilder())
    assert rc == EXIT_PERMANENT
    assert "TensorRT-LLM is not importable" in reports[-1].message


class _Recorder:
    """Records constructor arguments; stands for a TensorRT-LLM class."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.plugin_config = SimpleNamespace()


@pytest.mark.parametrize(("gpu", "precision"), [("H100", "fp8"), ("A100", "bf16"), ("A100", "int4-awq")])
def test_llm_api_arguments(tmp_path: Path, gpu: str, precision: str) -> None:
    args = trtllm_build_args(_plan(tmp_path, gpu, precision).inputs)
    algos = {"FP8": "QuantAlgo.FP8", "W4A16_AWQ": "QuantAlgo.W4A16_AWQ"}
    llmapi = SimpleNamespace(
        BuildConfig=_Recorder,
        KvCacheConfig=_Recorder,
        QuantConfig=_Recorder,
        CalibConfig=_Recorder,
        QuantAlgo=algos,
    )
    kwargs = TrtllmEngineBuilder.llm_kwargs(args, llmapi, tmp_path / "calibration")
    bc = kwargs["build_config"]
    assert bc.kwargs == {
        "max_batch_size": 64,
        "max_input_len": 8192,
        "max_seq_len": 8704,
        "max_num_tokens": 8192,
        "max_beam_width": 1,
    }
    assert bc.plugin_config.use_paged_context_fmha is True
    assert bc.plugin_config.gemm_plugin == (None if precision == "fp8" else "auto")
    assert kwargs["kv_cache_config"].kwargs == {"enable_block_reuse": True}
    if precision == "bf16":
        assert "quant_config" not in kwargs
    else:
        q = kwargs["quant_config"].kwargs
        assert q["quant_algo"] == algos[args.quant_algo or ""]
        assert kwargs["calib_config"].kwargs["calib_dataset"] == str(tmp_path / "calibration")


@pytest.mark.slow
@pytest.mark.triton
def test_llamacpp_build_with_a_real_gguf_serves_on_triton(tmp_path: Path, gguf_model: Path) -> None:
    src = tmp_path / "models" / "seed-coder-8b-base"
    src.mkdir(parents=True)
    os.symlink(gguf_model, src / gguf_model.name)
    (src / "SHA256SUMS").write_text(
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  " + gguf_model.name + "\n"
    )
    plan = _plan(tmp_path, "CPU", "auto")
    assert plan.inputs.precision == "gguf-q4_k_m"
    rc, reports = _run(plan, None)
    assert rc == 0, reports[-1].message
    final = Path(plan.output_dir)
    assert (final / "engine" / "model.gguf").stat().st_size == gguf_model.stat().st_size
    config = (final / "triton" / "seedcoder" / "config.pbtxt").read_text()
    assert f"{final}/engine/model.gguf" in config
    assert (
        (final / "triton" / "seedcoder" / "1" / "model.py").read_text().startswith('"""Triton Python-backend')
    )
    assert reports[-1].manifest is not None
    assert reports[-1].manifest.runtime_version == "0.3.36"
    # the published repository serves as it is
    with TritonServer() as server:
        server.start(final / "triton", tmp_path / "triton-work")
        server.wait_ready(timeout=240, models=("seedcoder", "seedcoder_tokenize"))
        client = StreamingClient(server.grpc_url)
        out = client.generate(make_inputs("def add(a, b):\n", 4, stream=False))
        client.close()
    assert out.last.error is None
    assert out.last.output_token_count is not None
    assert 1 <= out.last.output_token_count <= 4
    shutil.rmtree(final)


def test_builder_errors_are_build_errors() -> None:
    assert issubclass(BuildError, RuntimeError)
    assert EngineInputs  # imported for the plan helpers


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "build-engine" in capsys.readouterr().out


def test_a_cpu_engine_repository_takes_threads_from_the_serving_pod(tmp_path: Path) -> None:
    """One CPU engine may serve pools of different sizes: no thread count is baked in."""
    src = tmp_path / "models" / "seed-coder-8b-base"
    src.mkdir(parents=True)
    (src / "seed-coder-q4_k_m.gguf").write_bytes(os.urandom(512))
    gguf = src / "seed-coder-q4_k_m.gguf"
    (src / "SHA256SUMS").write_text(f"{sha256_file(gguf)}  {gguf.name}\n")
    plan = _plan(tmp_path, "CPU", "auto")
    rc, reports = _run(plan, None)
    assert rc == 0, reports[-1].message
    config = (Path(plan.output_dir) / "triton" / "seedcoder" / "config.pbtxt").read_text()
    assert 'key: "n_threads"\n  value: { string_value: "auto" }' in config
    assert resolve_threads("auto", {THREADS_ENV: "3"}) == 3


@pytest.mark.parametrize(("gpu", "layers"), [("CPU", None), ("RTX4090", "-1"), ("L4", "-1")])
def test_a_gguf_engine_on_a_gpu_offloads_every_layer(tmp_path: Path, gpu: str, layers: str | None) -> None:
    """llama.cpp with CUDA (RTX 4090, L4 pools with runtime llamacpp) runs every layer on the GPU."""
    src = tmp_path / "models" / "seed-coder-8b-base"
    src.mkdir(parents=True)
    gguf = src / "seed-coder-q4_k_m.gguf"
    gguf.write_bytes(os.urandom(512))
    (src / "SHA256SUMS").write_text(f"{sha256_file(gguf)}  {gguf.name}\n")
    profile = get_profile(gpu, "llamacpp")
    plan = make_plan(
        profile,
        model_name="ByteDance-Seed/Seed-Coder-8B-Base",
        revision="0123456789abcdef0123456789abcdef01234567",
        precision="gguf-q4_k_m",
        limits=profile.build_limits,
        source=ModelSource(kind="pvc", location=str(src)),
        cache_dir=str(tmp_path / "cache"),
        build_image=build_image_for(profile),
        termination_log=str(tmp_path / "termination-log"),
    )
    assert plan.inputs.arch == profile.arch
    rc, reports = _run(plan, None)
    assert rc == 0, reports[-1].message
    config = (Path(plan.output_dir) / "triton" / "seedcoder" / "config.pbtxt").read_text()
    if layers is None:
        assert "n_gpu_layers" not in config
    else:
        assert f'key: "n_gpu_layers"\n  value: {{ string_value: "{layers}" }}' in config
        assert "seedcoder-triton-llamacpp-cuda" in plan.inputs.build_image


def test_refuses_a_plan_made_from_other_repository_sources(tmp_path: Path) -> None:
    _model_dir(tmp_path)
    good = _plan(tmp_path)
    inputs = good.inputs.model_copy(update={"repository_source": "f" * 16})
    plan = good.model_copy(update={"inputs": inputs, "key": engine_key(inputs)})
    builder = FakeEngineBuilder()
    rc, reports = _run(plan, builder)
    assert rc == EXIT_PERMANENT
    assert "different seedcoder versions" in reports[-1].message
    assert builder.jobs == []


@pytest.mark.parametrize("reuse", [True, False])
def test_kv_cache_reuse_reaches_the_llm_api_and_the_triton_repository(tmp_path: Path, reuse: bool) -> None:
    """spec.engine.kvCacheReuse is the one switch: build (KvCacheConfig) and serving (Triton) follow it."""
    p = get_profile("A100")
    plan = make_plan(
        p,
        model_name="m/x",
        revision="0123456789abcdef0123456789abcdef01234567",
        precision="bf16",
        limits=p.build_limits,
        source=ModelSource(kind="pvc", location="/models"),
        cache_dir="/cache",
        kv_cache_reuse=reuse,
    )
    assert parse_build_args(build_command(plan)) == plan
    args = trtllm_build_args(plan.inputs)
    llmapi = SimpleNamespace(BuildConfig=_Recorder, KvCacheConfig=_Recorder)
    kwargs = TrtllmEngineBuilder.llm_kwargs(args, llmapi, tmp_path)
    assert kwargs["kv_cache_config"].kwargs == {"enable_block_reuse": reuse}
    trt = repository_files_for(plan)["tensorrt_llm/config.pbtxt"]
    flag = "true" if reuse else "false"
    assert f'key: "enable_kv_cache_reuse"\n  value: {{ string_value: "{flag}" }}' in trt


def test_an_unwritable_cache_directory_fails_before_any_work_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only root filesystem: HF_HOME (datasets, Hub) would fail mid-calibration; fail first."""
    _model_dir(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("HF_HOME", str(blocker / "huggingface"))
    builder = FakeEngineBuilder()
    rc, reports = _run(_plan(tmp_path), builder)
    assert rc == EXIT_PERMANENT
    assert f"HF_HOME={blocker / 'huggingface'}" in reports[-1].message
    assert builder.jobs == []


def test_a_lora_engine_plan_travels_to_the_build_job_and_reaches_the_llm_api(tmp_path: Path) -> None:
    """NOT EXECUTED HERE (no GPU): the LoRA plugin arguments the build hands TensorRT-LLM."""
    p = get_profile("H100")
    lora = EngineLora(max_rank=32, target_modules=("q_proj", "v_proj", "down_proj"))
    plan = make_plan(
        p,
        model_name="m/x",
        revision="0123456789abcdef0123456789abcdef01234567",
        precision="bf16",
        limits=p.build_limits,
        source=ModelSource(kind="pvc", location="/models"),
        cache_dir="/cache",
        lora=lora,
    )
    assert "--lora" in build_command(plan)
    assert parse_build_args(build_command(plan)) == plan
    with pytest.raises(ValueError, match="--lora"):
        parse_build_args([*build_command(plan)[:-6], "--lora", '{"max_rank": 0}', *build_command(plan)[-6:]])
    args = trtllm_build_args(plan.inputs)

    class _Build(_Recorder):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.lora_config = SimpleNamespace()

    llmapi = SimpleNamespace(BuildConfig=_Build, KvCacheConfig=_Recorder)
    kwargs = TrtllmEngineBuilder.llm_kwargs(args, llmapi, tmp_path)
    bc = kwargs["build_config"]
    assert kwargs["enable_lora"] is True
    assert bc.plugin_config.lora_plugin == "auto"
    assert bc.lora_config.max_lora_rank == 32
    assert bc.lora_config.lora_target_modules == ["attn_q", "attn_v", "mlp_4h_to_h"]
    plain = trtllm_build_args(make_plan(
        p, model_name="m/x", revision="0123456789abcdef0123456789abcdef01234567", precision="bf16",
        limits=p.build_limits, source=ModelSource(kind="pvc", location="/models"), cache_dir="/cache",
    ).inputs)  # fmt: skip
    assert "enable_lora" not in TrtllmEngineBuilder.llm_kwargs(plain, llmapi, tmp_path)
