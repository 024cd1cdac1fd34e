"""The training image's contents, when it has been built (``make image-train``).

Why skipped otherwise: the image is several GB and neither ``make images`` nor this
suite's ``images`` fixture builds it; these tests never build it either. When the
local image exists they check that it is what the operator's training Jobs expect:
the pins of pyproject.toml's ``finetune`` extra, torch's CUDA 13 wheels, the
``seedcoder finetune train`` program, and the seedcoder image's non-root user.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib

import pytest
from seedcoder import __version__
from seedcoder.images import default_image

from tests.images.conftest import PODMAN, REPO, ULIMITS, inspect, podman

pytestmark = pytest.mark.images

TRAIN = default_image("seedcoder-train").reference


def _built() -> bool:
    if shutil.which("podman") is None:
        return False
    probe = subprocess.run([*PODMAN, "image", "exists", TRAIN], capture_output=True, check=False, timeout=60)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def train_image() -> str:
    if not _built():
        pytest.skip(f"{TRAIN} is not built here (make image-train builds it; several GB)")
    return TRAIN


def _run(image: str, *cmd: str) -> subprocess.CompletedProcess[str]:
    return podman(
        "run", "--rm", *ULIMITS, "--network=none", "--read-only", "--user", "1000:1000", image, *cmd,
        check=False, timeout=300,
    )  # fmt: skip


def test_labels_and_user(train_image: str) -> None:
    info = inspect(train_image)
    labels = info["Config"]["Labels"]
    assert labels["org.opencontainers.image.title"] == "seedcoder-train"
    assert labels["org.opencontainers.image.version"] == __version__
    assert info["Config"]["User"] == "1000:1000"


def test_the_installed_versions_are_the_finetune_extras_pins(train_image: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extra = project["optional-dependencies"]["finetune"]
    probe = _run(
        train_image, "python3", "-c",
        "import json, importlib.metadata as m, torch;"
        "print(json.dumps({'dists': {d.metadata['Name'].lower(): d.version for d in m.distributions()},"
        " 'cuda': torch.version.cuda}))",
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    dists: dict[str, str] = found["dists"]
    for requirement in extra:
        name, op, version = re.split(r"(==|<)", requirement, maxsplit=1)
        assert name in dists, f"{name} is not installed"
        if op == "==":
            assert dists[name] == version, requirement
        else:
            got = tuple(int(p) for p in dists[name].split(".")[:2])
            assert got < tuple(int(p) for p in version.split(".")[:2]), requirement
    # torch is the CUDA 13 build, with the CUDA runtime's wheels beside it
    assert str(found["cuda"]).startswith("13."), found["cuda"]
    assert any(d.startswith("nvidia-cublas") for d in dists)
    # the serving images' packages are not here
    assert "llama-cpp-python" not in dists
    assert dists["seedcoder-operator"] == __version__


def test_the_training_program_starts_without_a_gpu(train_image: str) -> None:
    probe = _run(train_image, "seedcoder", "finetune", "train", "--help")
    assert probe.returncode == 0, probe.stderr
    assert "--base-model" in probe.stdout
    probe = _run(
        train_image, "python3", "-c",
        "import torch, transformers, peft; assert not torch.cuda.is_available(); print(torch.__version__)",
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
