"""What each built image is: labels, user, no compilers, and a read-only, non-root start."""

from __future__ import annotations

import re
from typing import Any

import pytest
from seedcoder import __version__
from seedcoder.images import default_image

from tests.images.conftest import ULIMITS, inspect, podman

pytestmark = pytest.mark.images

OCI = "org.opencontainers.image."
ALL = ("seedcoder", "triton-cpu", "triton-trtllm", "triton-llamacpp-cuda")
STAND_INS = ("triton-trtllm", "triton-llamacpp-cuda")


def test_the_images_carry_the_products_default_references(images: dict[str, dict[str, Any]]) -> None:
    assert images["seedcoder"]["reference"] == default_image("seedcoder").reference
    assert images["triton-cpu"]["reference"] == default_image("triton-cpu").reference
    # The TensorRT-LLM image is a stand-in here (its NVIDIA base cannot be fetched):
    # it must never be mistaken for the real one.
    for name in STAND_INS:
        assert images[name]["reference"] != default_image(name).reference
        assert "standin" in images[name]["reference"]


@pytest.mark.parametrize("name", ALL)
def test_labels_and_user(images: dict[str, dict[str, Any]], name: str) -> None:
    info = inspect(images[name]["reference"])
    labels = info["Config"]["Labels"]
    assert labels[OCI + "version"] == __version__
    assert labels[OCI + "source"].startswith("https://")
    assert re.fullmatch(r"[0-9a-f]{40}", labels[OCI + "revision"]), labels[OCI + "revision"]
    assert labels[OCI + "title"] == default_image(name).repository.split("/")[-1]
    assert info["Config"]["User"] == "1000:1000"
    if name in STAND_INS:
        assert labels.get("org.seedcoder.stand-in"), f"{name} is a stand-in and must say so"


@pytest.mark.parametrize("name", ALL)
def test_no_compilers_in_the_final_image(images: dict[str, dict[str, Any]], name: str) -> None:
    probe = podman(
        "run", "--rm", *ULIMITS, "--network=none", "--entrypoint", "/bin/sh", images[name]["reference"],
        "-c", "for t in gcc cc c++ g++ clang make cmake; do command -v $t; done; true",
    )  # fmt: skip
    assert probe.stdout.strip() == "", f"compilers in {name}: {probe.stdout}"


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("seedcoder", ["seedcoder", "--help"]),
        ("seedcoder", ["python3", "-c", "import seedcoder.gateway.app, seedcoder.operator.main"]),
        # Kopf names the operator after the user: a uid without a passwd entry must work.
        ("seedcoder", ["python3", "-c", "import getpass; assert getpass.getuser()"]),
        ("triton-cpu", ["python3", "-c", "import llama_cpp, seedcoder.engines.llamacpp_repo"]),
        ("triton-cpu", ["sh", "-c", "tritonserver --help 2>&1 | grep -q -- --model-repository"]),
        # the scanner's and the retrieval index's native parts load in the image
        ("seedcoder", ["python3", "-c", "import seedcoder.scan.secrets, seedcoder.retrieval.indexer"]),
        ("seedcoder", ["seedcoder", "index", "--help"]),
        ("triton-trtllm", ["python3", "-c", "import seedcoder.engines.build"]),
        ("triton-llamacpp-cuda", ["python3", "-c", "import llama_cpp, seedcoder.engines.llamacpp_repo"]),
        ("triton-llamacpp-cuda", ["sh", "-c", "tritonserver --help 2>&1 | grep -q -- --model-repository"]),
    ],
)
def test_starts_read_only_as_an_arbitrary_non_root_user(
    images: dict[str, dict[str, Any]], name: str, command: list[str]
) -> None:
    """As a restricted pod runs it: read-only root, another uid than the image's (with no passwd
    entry: Kubernetes adds none), no capabilities."""
    result = podman(
        "run", "--rm", *ULIMITS, "--network=none", "--read-only", "--user", "65532:65532", "--passwd=false",
        "--cap-drop=ALL", "--security-opt=no-new-privileges", images[name]["reference"], *command,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


DEV_ONLY = ("seedcoder_dev", "seedcoder.devcluster", "seedcoder.demo", "seedcoder.localstack")


@pytest.mark.parametrize("name", ["seedcoder", "triton-cpu"])
def test_the_product_images_ship_no_development_tools(images: dict[str, dict[str, Any]], name: str) -> None:
    """The development tools (``seedcoder_dev``: local control plane, demo, local servers) are a
    distribution of their own, outside the product wheel the images install."""
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    result = podman(
        "run", "--rm", *ULIMITS, "--network=none", "--entrypoint", "python3", images[name]["reference"],
        "-c", probe, *DEV_ONLY,
    )  # fmt: skip
    assert result.stdout.strip() == "[]", f"development tools in {name}: {result.stdout}"
    present = podman(
        "run", "--rm", *ULIMITS, "--network=none", "--entrypoint", "python3", images[name]["reference"],
        "-c", "import seedcoder.images, seedcoder.engines.contract",
    )  # fmt: skip
    assert present.returncode == 0, present.stderr[-2000:]
