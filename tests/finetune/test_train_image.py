"""The training image (seedcoder-train): what can be checked without building it.

Why: the image is several GB (torch with its CUDA wheels), so neither ``make images``
nor ``make test`` builds it (``make image-train`` does). What must still hold by
construction: one list of pins (pyproject.toml's ``finetune`` extra) that the image
and the CPU fine-tuning benchmark both install; the image is the seedcoder image of
the same version plus that extra, offline; the operator's training Jobs name it by
default, moved with the operator's registry; and the build puts the seedcoder image
first and never the serving images' llama.cpp or Triton wheels into it.
``tests/images/test_train_image.py`` checks the built image's contents when it exists.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from seedcoder import __version__
from seedcoder.finetune import plan
from seedcoder.finetune.train import REQUIREMENTS
from seedcoder.images import IMAGE_KINDS, REPOSITORIES, default_image
from seedcoder.operator.finetune.settings import FineTuneSettings

from benchmarks import finetune_env
from tests.finetune.test_plan import _ctx
from tests.fixtures.build_tool import build_images_module

ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = ROOT / "images" / "seedcoder-train.Containerfile"
TRAIN_REF = f"ghcr.io/seedcoder/seedcoder-train:{__version__}"


def _extra() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra: list[str] = project["optional-dependencies"]["finetune"]
    return extra


@pytest.fixture(scope="module")
def build_images() -> ModuleType:
    return build_images_module()


def test_the_finetune_extra_pins_what_training_imports_and_the_benchmark_installs_it() -> None:
    extra = _extra()
    names = {re.split(r"[=<>!~]", r, maxsplit=1)[0] for r in extra}
    assert {"torch", "transformers", "peft", "gguf", "sentencepiece", "protobuf", "numpy"} == names
    # the packages the training program needs are pinned exactly, and within its lowest versions
    for low in REQUIREMENTS:
        name, _, minimum = low.partition(">=")
        (pin,) = [r for r in extra if r.startswith(f"{name}==")]
        version = pin.partition("==")[2]
        assert tuple(map(int, version.split(".")[:2])) >= tuple(map(int, minimum.split(".")[:2])), pin
    # the benchmark reads the same list, in the same order (its cached environment is named by it)
    assert (finetune_env.TORCH, *finetune_env.TRAINING_PACKAGES) == tuple(extra)
    assert not set(finetune_env.TRAINING_PACKAGES) & set(finetune_env.TORCH_CPU_DEPENDENCIES)
    benchmark = (ROOT / "benchmarks" / "finetune_env.py").read_text()
    assert not re.search(r"\b(transformers|peft|torch)==\d", benchmark)


def test_the_image_is_the_seedcoder_image_plus_the_extra_installed_offline() -> None:
    text = CONTAINERFILE.read_text()
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, re.MULTILINE)
    assert base, "no ARG BASE_IMAGE with a default"
    assert base.group(1) == default_image("seedcoder").reference, "the train image extends the same version"
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["${BASE_IMAGE}"]
    install = " ".join(text.replace("\\\n", " ").split())
    assert '--no-index --no-cache-dir --find-links /wheels "seedcoder-operator[finetune]"' in install
    # the wheels are bind-mounted for the install, never copied into a layer
    assert "--mount=type=bind,source=wheels,target=/wheels" in text
    assert not re.search(r"^(COPY|ADD) ", text, re.MULTILINE)
    # no pin is repeated here: the extra is the one list
    assert not re.search(r"(torch|transformers|peft)==\d", text)
    assert "import torch, transformers, peft" in text
    # installs as root, runs as the pods' non-root user
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users == ["0:0", "1000:1000"]
    assert 'org.opencontainers.image.title="seedcoder-train"' in text


def test_the_train_image_is_a_known_kind_but_not_one_every_installation_uses() -> None:
    assert REPOSITORIES["seedcoder-train"] == "seedcoder/seedcoder-train"
    assert default_image("seedcoder-train").reference == TRAIN_REF
    assert "seedcoder-train" not in IMAGE_KINDS


def test_training_jobs_use_the_train_image_by_default() -> None:
    assert FineTuneSettings().training_image() == TRAIN_REF
    assert FineTuneSettings.from_env({}).training_image() == TRAIN_REF
    # the operator's registry moves it, as every other default image
    assert FineTuneSettings().training_image("registry.internal.example") == (
        f"registry.internal.example/seedcoder/seedcoder-train:{__version__}"
    )
    # an explicit reference (the chart's images.training) wins over both
    pinned = FineTuneSettings.from_env({"SEEDCODER_FINETUNE_TRAINING_IMAGE": "team.example/train:2"})
    assert pinned.training_image("registry.internal.example") == "team.example/train:2"
    # ... and is the training Job's image, while the other Jobs keep the product image
    ctx = _ctx(run="r1")
    assert plan.training_job(ctx, "v1")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        ctx.training_image
    )
    assert plan.dataset_job(ctx)["spec"]["template"]["spec"]["containers"][0]["image"] == ctx.image


def test_the_build_makes_the_seedcoder_image_first_and_stages_only_training_wheels(
    build_images: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    containerfile, ref, runtime_wheels = build_images.IMAGES["seedcoder-train"]
    assert (ROOT / "images" / containerfile) == CONTAINERFILE
    assert ref == TRAIN_REF
    assert runtime_wheels is False
    assert "seedcoder-train" not in build_images.DEFAULT_IMAGES, "several GB: never part of make images"
    assert build_images.build_order(["seedcoder-train"]) == ["seedcoder", "seedcoder-train"]
    assert build_images.build_order(["seedcoder-train", "seedcoder", "triton-cpu"]) == [
        "seedcoder",
        "seedcoder-train",
        "triton-cpu",
    ]
    assert build_images.build_order(["triton-cpu"]) == ["triton-cpu"]
    assert build_images.training_requirements() == _extra()
    # archived, but not for the local node to import at each start (no training Job runs there)
    listed = build_images.node_index(
        {"old/ref:1": "/a.tar", TRAIN_REF: "/stale.tar"},
        [
            {"name": "seedcoder", "reference": default_image("seedcoder").reference, "archive": "/s.tar"},
            {"name": "seedcoder-train", "reference": TRAIN_REF, "archive": "/t.tar"},
        ],
    )
    assert listed == {"old/ref:1": "/a.tar", default_image("seedcoder").reference: "/s.tar"}

    # the staged wheels, on a wheelhouse laid out as the build lays it out (no download)
    monkeypatch.setattr(build_images, "CACHE", tmp_path)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    training = tmp_path / "wheelhouse-training" / f"py{py}-{build_images.sha(*_extra(), py)}"
    deps = tmp_path / "wheelhouse" / "py-x"
    for folder, names in (
        (training, ["torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl", "peft-0.21.2-py3-none-any.whl"]),
        (deps, ["pip-25.3-py3-none-any.whl", "llama_cpp_python-0.3.36-cp311-cp311-linux_x86_64.whl",
                "nvidia_pytriton-0.7.0-py3-none-manylinux_2_35_x86_64.whl", "kopf-1.38.0-py3-none-any.whl"]),
    ):  # fmt: skip
        folder.mkdir(parents=True)
        for name in names:
            (folder / name).write_bytes(b"")
    own = tmp_path / "seedcoder_operator-0.1.0-py3-none-any.whl"
    staged = [w.name for w in build_images.image_wheels("seedcoder-train", deps, own)]
    assert staged == [
        "peft-0.21.2-py3-none-any.whl",
        "torch-2.15.0-cp311-cp311-manylinux_2_28_x86_64.whl",
        "pip-25.3-py3-none-any.whl",
        own.name,
    ]
    # the product image's context is unchanged: the main wheelhouse without the serving-only wheels
    product = [w.name for w in build_images.image_wheels("seedcoder", deps, own)]
    assert product == ["kopf-1.38.0-py3-none-any.whl", "pip-25.3-py3-none-any.whl", own.name]


def test_make_image_train_builds_it_and_make_images_does_not() -> None:
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^image-train:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe, "no image-train target"
    assert recipe.group(1).endswith("tools/build_images.py --only seedcoder-train")
    images = re.search(r"^images:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert images
    assert "seedcoder-train" not in images.group(1)
    assert "image-train" not in re.search(r"^deps:(.*)$", makefile, re.MULTILINE).group(1)  # type: ignore[union-attr]
