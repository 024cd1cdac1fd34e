"""The llama.cpp CUDA image variant: what can be checked without building it.

Why: its base (NVIDIA's CUDA runtime) and its CUDA build of llama.cpp cannot be had
on a machine without a registry or a GPU, so ``make images`` does not build it. The
Containerfile must still be right by construction: a pinned CUDA base whose version
matches the wheel builder's, the Python the project needs, the same Triton layout as
the CPU image, a check that refuses a CPU llama.cpp in the real image, and a stand-in
build (``make images``, or ``tools/build_images.py --only triton-llamacpp-cuda``) that differs from the
real one only in its base, its llama.cpp wheel and ``REQUIRE_CUDA=0``, and says so in
its label.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest
from seedcoder.engines.profiles import get_profile, load_profiles
from seedcoder.images import IMAGE_KINDS, default_image, runtime_image_kind
from seedcoder.operator.objects.image_choice import choose
from seedcoder.operator.settings import OperatorSettings

from tests.fixtures.build_tool import build_images_module

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
RUNTIME = IMAGES / "triton-llamacpp-cuda.Containerfile"
WHEEL = IMAGES / "llamacpp-cuda-wheel.Containerfile"


@pytest.fixture(scope="module")
def build_images() -> ModuleType:
    return build_images_module()


def _arg(text: str, name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", text, re.MULTILINE)
    assert match, f"no ARG {name} with a default"
    return match.group(1)


def _instructions(text: str) -> list[str]:
    """Instruction keywords in order (continuation lines and comments left out)."""
    out, continued = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            out.append(stripped.split()[0])
        continued = stripped.endswith("\\")
    return out


def test_the_runtime_base_is_a_pinned_cuda_runtime_with_the_python_the_project_needs() -> None:
    text = RUNTIME.read_text()
    base = _arg(text, "BASE_IMAGE")
    match = re.fullmatch(r"docker\.io/nvidia/cuda:(\d+\.\d+\.\d+)-runtime-ubuntu(\d+\.\d+)", base)
    assert match, f"not a pinned CUDA runtime tag: {base}"
    # Ubuntu 24.04 ships Python 3.12; 22.04's 3.10 is below the project's requires-python (3.11)
    assert match.group(2) == "24.04"
    assert "pin it by digest in your registry" in text
    # the wheel is built against the same CUDA release as the runtime it runs on
    devel = _arg(WHEEL.read_text(), "CUDA_DEVEL_IMAGE")
    assert devel == f"docker.io/nvidia/cuda:{match.group(1)}-devel-ubuntu{match.group(2)}"


def test_the_wheel_is_built_with_cuda_for_the_profiles_architecture() -> None:
    text = WHEEL.read_text()
    assert "-DGGML_CUDA=on" in text
    assert "--no-index" in text, "the wheel build needs no network (the sdist is in the context)"
    arches = set(_arg(text, "CUDA_ARCHITECTURES").split(";"))
    for gpu in ("RTX4090", "L4"):
        profile = get_profile(gpu, "llamacpp")
        assert profile.compute_capability is not None
        assert profile.compute_capability.replace(".", "") in arches, gpu
    assert _arg(text, "LLAMA_CPP_PYTHON") == get_profile("RTX4090", "llamacpp").llamacpp_version


def test_the_runtime_image_has_the_cpu_images_layout_and_refuses_a_cpu_llama_cpp() -> None:
    text = RUNTIME.read_text()
    cpu = (IMAGES / "triton-cpu.Containerfile").read_text()
    # same two stages, same install and Triton layout as the CPU image
    assert _instructions(text).count("FROM") == _instructions(cpu).count("FROM") == 2
    for line in (
        '--no-cache-dir --find-links /wheels "seedcoder-operator[llamacpp]"',
        'cp "$src/python_backend_stubs/$py/triton_python_backend_stub" /opt/tritonserver/backends/python/;',
        "COPY --from=install /opt/tritonserver /opt/tritonserver",
        "USER 1000:1000",
        "EXPOSE 8000 8001 8002",
    ):
        assert line in text, line
        assert line in cpu, line
    assert _arg(text, "REQUIRE_CUDA") == "1", "the real image must check for a CUDA llama.cpp"
    assert '[ ! -e "$lib/libggml-cuda.so" ]' in text
    assert 'org.opencontainers.image.title="seedcoder-triton-llamacpp-cuda"' in text


def test_the_stand_in_differs_only_in_base_wheel_and_require_cuda(build_images: ModuleType) -> None:
    base = "localhost/seedcoder-base:bookworm-0123"
    args = build_images.build_arguments("triton-llamacpp-cuda", base, "rev", "inputs")
    assert ["--build-arg", f"BASE_IMAGE={base}"] == args[:2]
    assert "REQUIRE_CUDA=0" in args
    labels = [args[i + 1] for i, a in enumerate(args) if a == "--label"]
    stand_in = [label for label in labels if label.startswith("org.seedcoder.stand-in=")]
    assert stand_in
    assert "not NVIDIA's CUDA runtime" in stand_in[0]
    assert "CPU build" in stand_in[0]
    # the other images keep their arguments: no REQUIRE_CUDA, a stand-in label only on TensorRT-LLM
    cpu = build_images.build_arguments("triton-cpu", base, "rev", "inputs")
    assert "REQUIRE_CUDA=0" not in cpu
    assert not any(a.startswith("org.seedcoder.stand-in") for a in cpu)
    trt = build_images.build_arguments("triton-trtllm", base, "rev", "inputs")
    assert "org.seedcoder.stand-in=base is a local Debian bookworm, not NVIDIA's Triton" in trt
    # tagged as a stand-in, never as the default reference; with the llama.cpp and Triton wheels
    containerfile, ref, runtime_wheels = build_images.IMAGES["triton-llamacpp-cuda"]
    assert (IMAGES / containerfile).is_file()
    assert ref.endswith("-standin")
    assert ref.startswith("localhost/")
    assert ref != default_image("triton-llamacpp-cuda").reference
    assert runtime_wheels is True
    # `make images` builds it too, as a labelled stand-in beside the product's three images
    assert set(build_images.DEFAULT_IMAGES) == {*IMAGE_KINDS, "triton-llamacpp-cuda"}


def test_llama_cpp_pools_on_gpus_build_and_serve_with_the_cuda_image() -> None:
    assert runtime_image_kind("llamacpp", "cpu") == "triton-cpu"
    for gpu, profile in load_profiles().items():
        if profile.alternative is not None:
            alt = profile.with_runtime("llamacpp")
            assert runtime_image_kind(alt.runtime, alt.arch) == "triton-llamacpp-cuda", gpu
    assert default_image("triton-llamacpp-cuda").repository == "seedcoder/seedcoder-triton-llamacpp-cuda"
    mirrored = choose(OperatorSettings(image_registry="registry.internal.example"))
    assert mirrored.for_runtime("llamacpp", "sm89") == (
        f"registry.internal.example/seedcoder/seedcoder-triton-llamacpp-cuda:{default_image('seedcoder').tag}"
    )
    pinned = choose(OperatorSettings(triton_llamacpp_cuda_image="team.example/llama-cuda:1"))
    assert pinned.for_runtime("llamacpp", "sm89") == "team.example/llama-cuda:1"
    assert pinned.for_runtime("llamacpp", "cpu") == pinned.triton_cpu
