"""Build profiles, the engine key and the build Job's command line."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from seedcoder.engines.buildcmd import (
    BuildPlan,
    ModelSource,
    build_command,
    make_plan,
    parse_build_args,
)
from seedcoder.engines.key import EngineInputs, canonical_json, engine_inputs_for, engine_key
from seedcoder.engines.profiles import (
    BuildLimits,
    get_profile,
    limits_for,
    load_profiles,
    parse_profiles,
    profile_for_product_label,
    resolve_precision,
)

from tests.engines.plans import build_image_for

MODEL = "ByteDance-Seed/Seed-Coder-8B-Base"
REV = "0123456789abcdef0123456789abcdef01234567"


def _plan(gpu: str = "H100", precision: str = "auto", **limits: int) -> BuildPlan:
    profile = get_profile(gpu)
    return make_plan(
        profile,
        model_name=MODEL,
        revision=REV,
        precision=precision,
        limits=limits_for(profile, **limits),
        source=ModelSource(kind="pvc", location="/models/seed-coder-8b-base"),
        cache_dir="/cache",
        build_image=build_image_for(profile),
    )


def _limits(**overrides: int) -> BuildLimits:
    return limits_for(get_profile("H100"), **overrides)


class TestProfiles:
    def test_the_six_gpu_kinds_are_known(self) -> None:
        assert set(load_profiles()) == {"H100", "A100", "L40S", "RTX4090", "L4", "CPU"}

    @pytest.mark.parametrize(
        ("gpu", "arch", "default", "runtime"),
        [
            ("H100", "sm90", "fp8", "tensorrt-llm"),
            ("A100", "sm80", "bf16", "tensorrt-llm"),
            ("L40S", "sm89", "fp8", "tensorrt-llm"),
            ("RTX4090", "sm89", "int4-awq", "tensorrt-llm"),
            ("L4", "sm89", "int4-awq", "tensorrt-llm"),
            ("CPU", "cpu", "gguf-q4_k_m", "llamacpp"),
        ],
    )
    def test_arch_default_precision_and_runtime(
        self, gpu: str, arch: str, default: str, runtime: str
    ) -> None:
        p = get_profile(gpu)
        assert (p.arch, p.default_precision, p.runtime) == (arch, default, runtime)

    def test_a100_allows_smoothquant_and_awq_but_not_fp8(self) -> None:
        a100 = get_profile("A100")
        assert {"int8-sq", "int4-awq", "bf16"} <= set(a100.supported_precisions)
        assert "fp8" not in a100.supported_precisions

    def test_unknown_gpu_error_names_it_and_the_known_ones(self) -> None:
        with pytest.raises(KeyError, match=r"'T4'.*A100, CPU, H100, L4, L40S, RTX4090"):
            get_profile("T4")

    def test_auto_resolves_to_the_default(self) -> None:
        assert resolve_precision(get_profile("H100"), "auto") == "fp8"
        assert resolve_precision(get_profile("A100"), "auto") == "bf16"

    def test_unsupported_precision_is_refused_by_name(self) -> None:
        with pytest.raises(ValueError, match=r"'fp8' cannot run on A100 \(sm80\)"):
            resolve_precision(get_profile("A100"), "fp8")

    def test_product_label_lookup(self) -> None:
        assert profile_for_product_label("NVIDIA-A100-SXM4-80GB") == get_profile("A100")
        assert profile_for_product_label("NVIDIA-T4") is None

    def test_a_profile_claiming_fp8_on_ampere_is_rejected(self) -> None:
        doc = """
profiles:
  A10:
    arch: sm86
    product_label: NVIDIA-A10
    runtime: tensorrt-llm
    default_precision: fp8
    supported_precisions: [fp8]
    trtllm_version: "1"
    tensorrt_version: "1"
    compute_capability: "8.6"
    products: [NVIDIA-A10]
    gpu_memory_gib: 24
    build_shm_gib: 16
    build_scratch_gib: 64
    cost_per_hour_usd: 1
    build_limits: {max_batch_size: 1, max_input_len: 1, max_output_len: 1, max_num_tokens: 1}
"""
        with pytest.raises(ValidationError, match="fp8 needs sm89"):
            parse_profiles(doc)

    def test_limits_beyond_the_models_positions_are_rejected(self) -> None:
        with pytest.raises(ValidationError, match="32768"):
            limits_for(get_profile("H100"), max_input_len=32768, max_output_len=1)

    def test_limit_overrides_keep_other_defaults(self) -> None:
        limits = limits_for(get_profile("H100"), max_batch_size=8)
        assert limits.max_batch_size == 8
        assert limits.max_input_len == get_profile("H100").build_limits.max_input_len
        assert limits.max_seq_len == limits.max_input_len + limits.max_output_len


class TestEngineKey:
    def _inputs(self) -> EngineInputs:
        p = get_profile("H100")
        return engine_inputs_for(p, MODEL, REV, "fp8", p.build_limits, build_image=build_image_for(p))

    def test_same_inputs_same_key(self) -> None:
        assert engine_key(self._inputs()) == engine_key(self._inputs())

    def test_key_is_a_dns_label(self) -> None:
        key = engine_key(self._inputs())
        assert len(key) == 16
        assert all(c in "0123456789abcdef" for c in key)

    def test_auto_and_the_explicit_default_share_one_engine(self) -> None:
        p = get_profile("H100")
        auto = engine_inputs_for(p, MODEL, REV, "auto", p.build_limits, build_image=build_image_for(p))
        assert engine_key(auto) == engine_key(self._inputs())

    @pytest.mark.parametrize(
        "change",
        [
            {"model_name": "other/model"},
            {"revision": "f" * 40},
            {"precision": "bf16"},
            {"arch": "sm89"},
            {"trtllm_version": "1.2.0"},
            {"tensorrt_version": "10.14.0"},
            {"limits": _limits(max_batch_size=32)},
            {"limits": _limits(max_input_len=4096)},
            {"limits": _limits(max_output_len=256)},
            {"limits": _limits(max_num_tokens=4096)},
            {"build_image": "registry.internal.example/seedcoder/seedcoder-triton-trtllm:0.1.1"},
            {"build_image": "sha256:" + "a" * 64},
            {"kv_cache_reuse": False},
            {"repository_source": "fedcba9876543210"},
        ],
    )
    def test_any_changed_input_gives_a_new_key(self, change: dict[str, object]) -> None:
        base = self._inputs()
        assert engine_key(base.model_copy(update=change)) != engine_key(base)

    def test_the_build_image_enters_the_key_by_digest_when_it_has_one(self) -> None:
        p = get_profile("H100")
        digest = "sha256:" + "b" * 64

        def key(image: str) -> str:
            return engine_key(engine_inputs_for(p, MODEL, REV, "fp8", p.build_limits, build_image=image))

        by_tag = key("ghcr.io/seedcoder/seedcoder-triton-trtllm:0.1.0")
        assert key("registry.internal.example/seedcoder/seedcoder-triton-trtllm:0.1.0") != by_tag
        assert key("ghcr.io/seedcoder/seedcoder-triton-trtllm:0.2.0") != by_tag
        # The same digest from a mirror is the same image: the engine is reused.
        assert key(f"ghcr.io/seedcoder/seedcoder-triton-trtllm:0.1.0@{digest}") == key(
            f"mirror.internal:5000/team/seedcoder-triton-trtllm@{digest}"
        )

    def test_canonical_json_is_sorted_and_compact(self) -> None:
        text = canonical_json(self._inputs())
        assert " " not in text
        assert text.index('"arch"') < text.index('"model_name"') < text.index('"schema"')


class TestBuildCommand:
    @pytest.mark.parametrize("gpu", ["H100", "A100", "L40S", "CPU"])
    def test_round_trip(self, gpu: str) -> None:
        plan = _plan(gpu)
        argv = build_command(plan)
        assert argv[:2] == ["seedcoder", "build-engine"]
        assert parse_build_args(argv) == plan
        assert parse_build_args(argv[2:]) == plan

    def test_round_trip_with_an_s3_source(self) -> None:
        p = get_profile("A100")
        plan = make_plan(
            p,
            model_name=MODEL,
            revision=REV,
            precision="int4-awq",
            limits=p.build_limits,
            source=ModelSource(kind="s3", location="s3://models/seed", endpoint="https://s3.vpce.internal"),
            cache_dir="/cache",
            build_image=build_image_for(p),
            termination_log="/tmp/term",
        )
        assert parse_build_args(build_command(plan)) == plan

    def test_output_dir_is_under_the_cache(self) -> None:
        plan = _plan()
        assert plan.output_dir == f"/cache/engines/{plan.key}"

    def test_a_tampered_key_is_refused(self) -> None:
        argv = build_command(_plan())
        argv[argv.index("--key") + 1] = "0" * 16
        with pytest.raises(ValueError, match="does not match its inputs"):
            parse_build_args(argv)

    def test_a_missing_argument_is_a_value_error(self) -> None:
        argv = build_command(_plan())
        i = argv.index("--revision")
        del argv[i : i + 2]
        with pytest.raises(ValueError, match="--revision"):
            parse_build_args(argv)

    def test_unknown_arguments_are_refused(self) -> None:
        with pytest.raises(ValueError, match="--bogus"):
            parse_build_args([*build_command(_plan()), "--bogus", "1"])

    def test_make_plan_refuses_fp8_on_a100(self) -> None:
        with pytest.raises(ValueError, match="'fp8' cannot run on A100"):
            _plan("A100", "fp8")

    @pytest.mark.parametrize(
        ("kind", "location", "endpoint"),
        [("pvc", "relative/path", None), ("s3", "/not/s3", None), ("huggingface", "org/repo", "https://x")],
    )
    def test_malformed_sources_are_refused(self, kind: str, location: str, endpoint: str | None) -> None:
        with pytest.raises(ValidationError):
            ModelSource.model_validate({"kind": kind, "location": location, "endpoint": endpoint})
