"""Image references and the order in which overrides apply (pure; no podman, no cluster)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from seedcoder import __version__
from seedcoder.api.spec import ImagesSpec, SeedCoderDeploymentSpec
from seedcoder.images import check_reference, default_image, identity, split_reference, with_registry
from seedcoder.operator.objects.image_choice import choose
from seedcoder.operator.settings import OperatorSettings

DIGEST = "sha256:" + "d" * 64


def test_defaults_are_one_set_at_the_package_version() -> None:
    for kind, repository in (
        ("seedcoder", "seedcoder"),
        ("triton-cpu", "seedcoder-triton-cpu"),
        ("triton-trtllm", "seedcoder-triton-trtllm"),
    ):
        assert default_image(kind).reference == f"ghcr.io/seedcoder/{repository}:{__version__}"


@pytest.mark.parametrize(
    ("ref", "registry", "repository", "tag", "digest"),
    [
        ("ghcr.io/seedcoder/seedcoder:0.1.0", "ghcr.io", "seedcoder/seedcoder", "0.1.0", ""),
        ("registry.internal:5000/a/b@" + DIGEST, "registry.internal:5000", "a/b", "", DIGEST),
        ("localhost/pause:1", "localhost", "pause", "1", ""),
        ("seedcoder/seedcoder", "", "seedcoder/seedcoder", "", ""),
        ("r.example/x/y:2@" + DIGEST, "r.example", "x/y", "2", DIGEST),
    ],
)
def test_split_and_join_round_trip(ref: str, registry: str, repository: str, tag: str, digest: str) -> None:
    parts = split_reference(ref)
    assert (parts.registry, parts.repository, parts.tag, parts.digest) == (registry, repository, tag, digest)
    assert parts.reference == ref


@pytest.mark.parametrize(
    "bad", ["", "UPPER/case:1", "a b", "ghcr.io/x:tag@sha256:short", "https://ghcr.io/x", "x:" + "t" * 200]
)
def test_bad_references_are_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="is not an image reference"):
        check_reference(bad)


def test_with_registry_and_identity() -> None:
    assert with_registry("ghcr.io/seedcoder/seedcoder:0.1.0", "mirror:5000/team") == (
        "mirror:5000/team/seedcoder/seedcoder:0.1.0"
    )
    assert identity("ghcr.io/x/y:1@" + DIGEST) == DIGEST
    assert identity("ghcr.io/x/y:1") == "ghcr.io/x/y:1"


def test_the_operators_registry_moves_every_default_image() -> None:
    images = choose(OperatorSettings(image_registry="registry.internal.example"))
    for ref in (images.seedcoder, images.triton_cpu, images.triton_trtllm):
        assert ref.startswith("registry.internal.example/seedcoder/"), ref
    assert images.for_runtime("llamacpp") == images.triton_cpu
    assert images.for_runtime("tensorrt-llm") == images.triton_trtllm


def test_explicit_references_beat_the_registry_and_the_resource_beats_both() -> None:
    settings = OperatorSettings(
        image_registry="mirror.example",
        triton_cpu_image="ops.example/cpu:9",
        image_pull_secrets=("ops-pull",),
        image_pull_policy="Always",
    )
    base = choose(settings)
    assert base.triton_cpu == "ops.example/cpu:9"
    assert base.triton_trtllm.startswith("mirror.example/")
    spec = ImagesSpec.model_validate(
        {
            "tritonCpu": "team.example/cpu@" + DIGEST,
            "pullPolicy": "IfNotPresent",
            "pullSecrets": [{"name": "t"}],
        }
    )
    mine = choose(settings, spec)
    assert mine.triton_cpu == "team.example/cpu@" + DIGEST
    assert mine.pull_policy == "IfNotPresent"
    assert mine.pull_secrets == ("ops-pull", "t")
    assert mine.pod_fields() == {"imagePullSecrets": [{"name": "ops-pull"}, {"name": "t"}]}


def test_settings_from_the_environment() -> None:
    settings = OperatorSettings.from_env(
        {
            "SEEDCODER_IMAGE_REGISTRY": "",
            "SEEDCODER_GATEWAY_IMAGE": "",
            "SEEDCODER_TRITON_TRTLLM_IMAGE": "r.example/t:1",
            "SEEDCODER_IMAGE_PULL_SECRETS": "a, b,",
        }
    )
    assert settings.image_registry is None
    assert settings.gateway_image is None
    assert settings.triton_trtllm_image == "r.example/t:1"
    assert settings.image_pull_secrets == ("a", "b")
    with pytest.raises(ValidationError, match="is not an image reference"):
        OperatorSettings.from_env({"SEEDCODER_TRITON_CPU_IMAGE": "Not A Reference"})
    with pytest.raises(ValidationError, match="image_registry"):
        OperatorSettings.from_env({"SEEDCODER_IMAGE_REGISTRY": "https://x"})


def test_a_resource_with_a_bad_image_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError, match=r"images\.tritonTrtllm"):
        SeedCoderDeploymentSpec.model_validate(
            {
                "model": {"name": "m", "revision": "r", "source": {"pvc": {"claimName": "models"}}},
                "pools": [{"name": "h100", "gpu": "H100"}],
                "gateway": {"openMode": True},
                "images": {"tritonTrtllm": "not a reference"},
            }
        )
