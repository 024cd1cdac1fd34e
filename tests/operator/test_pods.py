"""Pods the operator writes: placement by GPU architecture, the build pod's writable caches, CPU threads."""

from __future__ import annotations

from typing import Any

import pytest
from seedcoder.engines.buildenv import CACHE_VARIABLES, SCRATCH_MOUNT
from seedcoder.engines.llamacpp_repo import THREADS_ENV
from seedcoder.engines.profiles import get_profile
from seedcoder.operator.objects.build_job import build_job
from seedcoder.operator.objects.image_choice import choose
from seedcoder.operator.objects.triton import deployment

from tests.operator.helpers import SETTINGS, parsed
from tests.operator.sample import sample, with_path

H100_TERMS = [
    {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.product", "operator": "In", "values": list(get_profile("H100").products)}
        ]
    },
    {
        "matchExpressions": [
            {"key": "nvidia.com/gpu.compute.major", "operator": "In", "values": ["9"]},
            {"key": "nvidia.com/gpu.compute.minor", "operator": "In", "values": ["0"]},
        ]
    },
]


def _pods(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The first pool's Triton pod spec and its engine's build pod spec."""
    scd, pools = parsed(body)
    pe = pools[0]
    dep = deployment(
        instance="c",
        namespace="ml",
        pool=pe.pool,
        profile=pe.profile,
        key=pe.key,
        cache_claim="cache",
        replicas=1,
        image=pe.image,
        images=choose(SETTINGS, scd.spec.images),
    )
    job = build_job(scd.spec, pe, "ml", SETTINGS)
    return dep["spec"]["template"]["spec"], job["spec"]["template"]["spec"]


def _required(pod: dict[str, Any]) -> list[dict[str, Any]]:
    terms: list[dict[str, Any]] = pod["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    return terms


class TestPlacement:
    def test_any_variant_of_the_architecture_by_product_or_compute_capability(self) -> None:
        for pod in _pods(sample()):
            assert "nodeSelector" not in pod  # no single product pinned
            assert _required(pod) == H100_TERMS
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
                "tolerations"
            ]

    def test_every_product_name_of_each_gpu_kind_is_listed(self) -> None:
        assert {"NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-PCIe", "NVIDIA-H100-NVL"} <= set(
            get_profile("H100").products
        )
        assert {"NVIDIA-A100-SXM4-80GB", "NVIDIA-A100-SXM4-40GB", "NVIDIA-A100-PCIE-40GB"} <= set(
            get_profile("A100").products
        )

    def test_the_pools_node_selector_is_kept_not_overridden(self) -> None:
        body = with_path(
            sample(), "pools.0.nodeSelector", {"nvidia.com/gpu.product": "NVIDIA-H100-NVL", "zone": "b"}
        )
        for pod in _pods(body):
            assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-NVL", "zone": "b"}
            assert _required(pod) == H100_TERMS

    def test_a_pool_may_name_its_product(self) -> None:
        for pod in _pods(with_path(sample(), "pools.0.gpuProduct", "NVIDIA-H100-PCIe")):
            assert _required(pod) == [
                {
                    "matchExpressions": [
                        {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-PCIe"]}
                    ]
                }
            ]

    def test_required_affinity_is_anded_and_preferences_and_tolerations_are_kept(self) -> None:
        zone = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a", "b"]}
        preferred = [
            {"weight": 10, "preference": {"matchExpressions": [{"key": "spot", "operator": "DoesNotExist"}]}}
        ]
        toleration = {"key": "team", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
        body = with_path(
            sample(),
            "pools.0.affinity",
            {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [zone]}]
                    },
                    "preferredDuringSchedulingIgnoredDuringExecution": preferred,
                }
            },
        )
        body = with_path(body, "pools.0.tolerations", [toleration])
        for pod in _pods(body):
            assert _required(pod) == [
                {"matchExpressions": [zone, *term["matchExpressions"]]} for term in H100_TERMS
            ]
            assert (
                pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
                == preferred
            )
            assert toleration in pod["tolerations"]

    def test_cpu_pools_get_no_gpu_affinity(self) -> None:
        body = with_path(sample(), "pools", [{"name": "cpu", "gpu": "CPU", "nodeSelector": {"pool": "cpu"}}])
        body = with_path(body, "engine.precision", "auto")
        body = with_path(body, "gateway.maxContextTokens", 1024)
        for pod in _pods(body):
            assert "affinity" not in pod
            assert "tolerations" not in pod
            assert pod["nodeSelector"] == {"pool": "cpu"}


class TestBuildPod:
    def test_home_and_every_library_cache_are_on_a_writable_volume(self) -> None:
        _, pod = _pods(sample())
        (container,) = pod["containers"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
        for name in (*CACHE_VARIABLES, "HOME", "HF_HOME", "HF_DATASETS_CACHE"):
            assert name in env, name
            assert any(env[name] == w or env[name].startswith(w + "/") for w in writable), (name, env[name])
        assert env["HOME"].startswith(SCRATCH_MOUNT)

    @pytest.mark.parametrize("gpu", ["H100", "CPU"])
    def test_dev_shm_is_memory_backed_and_sized_from_the_profile(self, gpu: str) -> None:
        body = sample()
        if gpu == "CPU":
            body = with_path(body, "pools", [{"name": "cpu", "gpu": "CPU"}])
            body = with_path(body, "gateway.maxContextTokens", 1024)
        _, pod = _pods(body)
        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
        shm = volumes[mounts["/dev/shm"]]
        assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": f"{get_profile(gpu).build_shm_gib}Gi"}
        scratch = volumes[mounts[SCRATCH_MOUNT]]
        assert scratch["emptyDir"] == {"sizeLimit": f"{get_profile(gpu).build_scratch_gib}Gi"}


def test_llamacpp_threads_follow_the_pods_cpu_request() -> None:
    body = with_path(
        sample(),
        "pools",
        [{"name": "cpu", "gpu": "CPU", "resources": {"requests": {"cpu": "4"}, "limits": {"cpu": "8"}}}],
    )
    body = with_path(body, "gateway.maxContextTokens", 1024)
    pod, _ = _pods(body)
    (container,) = pod["containers"]
    assert container["resources"]["requests"]["cpu"] == "4"
    assert {
        "name": THREADS_ENV,
        "valueFrom": {
            "resourceFieldRef": {"containerName": "triton", "resource": "requests.cpu", "divisor": "1"}
        },
    } in container["env"]
