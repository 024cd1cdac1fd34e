"""The operator image reconciles on the local control plane; images follow the registry setting.

The operator runs from the ``seedcoder`` image (podman, host network, read-only
root, non-root uid, its ServiceAccount's token), started with
``SEEDCODER_IMAGE_REGISTRY`` as the chart passes ``global.imageRegistry``. Every
image it writes into the objects it creates must come from that registry, and a
resource's ``spec.images`` must reach that resource's pods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder_dev.devcluster import Cluster

from tests.images.conftest import PODMAN, ULIMITS, Container
from tests.operator.harness import OperatorProcess, install_rbac, install_volumes, kubectl_json, wait_for
from tests.operator.test_cluster_lifecycle import wait_ready

pytestmark = [pytest.mark.images, pytest.mark.cluster, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "registry.internal.example"
DIGEST = "sha256:" + "5" * 64


class OperatorContainer(OperatorProcess):
    """``seedcoder operator`` inside the seedcoder image (same settings as the process harness)."""

    def __init__(self, image: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.image = image
        self.container: Container | None = None

    def command(self, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        self.kubeconfig.chmod(0o644)  # read by the container's uid
        name = f"sc-test-operator-{self.probe_port}"
        argv = [
            *PODMAN, "run", "--rm", "--name", name, *ULIMITS, "--network=host", "--read-only",
            "--user", "65532:65532", "--cap-drop=ALL", "--security-opt=no-new-privileges",
            "--tmpfs", "/tmp:rw,size=64m",
            "--volume", f"{self.kubeconfig}:/etc/seedcoder/kubeconfig:ro",
            "--env", "KUBECONFIG=/etc/seedcoder/kubeconfig",
            *(x for k, v in env.items() for x in ("--env", f"{k}={v}")),
            self.image, "seedcoder", "operator", "--namespace", self.namespace,
        ]  # fmt: skip
        return argv, {}


def _images_in(cluster: Cluster, namespace: str, selector: str | None = None) -> dict[str, set[str]]:
    """kind -> every container image in the namespace's Jobs, Deployments and Pods."""
    out: dict[str, set[str]] = {}
    for kind in ("jobs", "deployments", "pods"):
        args = ["get", kind, "-n", namespace] + (["-l", selector] if selector else [])
        for item in kubectl_json(cluster, *args)["items"]:
            spec = item["spec"] if kind == "pods" else item["spec"]["template"]["spec"]
            for c in spec["containers"] + spec.get("initContainers", []):
                out.setdefault(kind, set()).add(c["image"])
    return out


def _resource(name: str, pools: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {
                "name": "ByteDance-Seed/Seed-Coder-8B-Base",
                "revision": "0123456789abcdef0123456789abcdef01234567",
                "source": {"pvc": {"claimName": "models", "path": "seed-coder-8b-base"}},
            },
            "engine": {"cache": {"pvc": {"claimName": "engine-cache"}}, "maxInputLen": 1536},
            "pools": pools,
            "autoscaling": {"mode": "fixed"},
            "gateway": {"openMode": True, "maxContextTokens": 1536},
            **spec,
        },
    }


CPU_POOL = {
    "name": "cpu", "gpu": "CPU", "minReplicas": 1, "maxReplicas": 1,
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}},
}  # fmt: skip


def test_the_operator_image_reconciles_and_writes_only_the_registrys_images(
    images: dict[str, dict[str, Any]], cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    install_rbac(cluster, namespace)
    install_volumes(cluster, namespace)
    op = OperatorContainer(
        images["seedcoder"]["reference"], cluster, namespace, tmp_path, resync="2",
        SEEDCODER_IMAGE_REGISTRY=REGISTRY, SEEDCODER_GATEWAY_IMAGE="",
        SEEDCODER_IMAGE_PULL_SECRETS="regcred",
    )  # fmt: skip
    try:
        op.start()
        gpu_pools = [
            {"name": "h100", "gpu": "H100", "minReplicas": 1, "maxReplicas": 1},
            {"name": "a100", "gpu": "A100", "minReplicas": 1, "maxReplicas": 1},
        ]
        body = [_resource("mixed", gpu_pools), _resource("cpu", [CPU_POOL])]
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump_all(body))
        for name in ("mixed", "cpu"):
            wait_ready(cluster, namespace, name, timeout=240)

        found = _images_in(cluster, namespace)
        for kind in ("jobs", "deployments", "pods"):
            assert found.get(kind), found
        everything = set().union(*found.values())
        assert everything == {
            f"{REGISTRY}/seedcoder/seedcoder:0.1.0",
            f"{REGISTRY}/seedcoder/seedcoder-triton-cpu:0.1.0",
            f"{REGISTRY}/seedcoder/seedcoder-triton-trtllm:0.1.0",
        }, everything
        for dep in kubectl_json(cluster, "get", "deployments", "-n", namespace)["items"]:
            assert dep["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]

        # A resource-level override reaches that resource's pods; the CPU engine's key
        # changes with the build image, so it gets its own build Job.
        override = {
            "gateway": f"team.registry.example/seedcoder@{DIGEST}",
            "tritonCpu": f"team.registry.example/triton-cpu:2@{DIGEST}",
            "pullPolicy": "Always",
            "pullSecrets": [{"name": "team-pull"}],
        }
        cluster.kubectl(
            "apply", "-n", namespace, "-f", "-",
            input=yaml.safe_dump(_resource("team", [CPU_POOL], images=override)),
        )  # fmt: skip
        status = wait_ready(cluster, namespace, "team", timeout=240)["status"]
        team = _images_in(cluster, namespace, "app.kubernetes.io/instance=team")
        assert team["pods"] == {override["gateway"], override["tritonCpu"]}, team
        pods = kubectl_json(cluster, "get", "pods", "-n", namespace, "-l", "app.kubernetes.io/instance=team")
        for pod in pods["items"]:
            assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}, {"name": "team-pull"}]
            assert {c["imagePullPolicy"] for c in pod["spec"]["containers"]} == {"Always"}
        cpu_key = kubectl_json(cluster, "get", "scd", "cpu", "-n", namespace)["status"]["engines"][0]["key"]
        assert status["engines"][0]["key"] != cpu_key, "a new build image must build a new engine"
        job = kubectl_json(
            cluster,
            "get",
            "job",
            "-n",
            namespace,
            "-l",
            f"seedcoder.dev/engine-key={status['engines'][0]['key']}",
        )
        assert [j["spec"]["template"]["spec"]["containers"][0]["image"] for j in job["items"]] == [
            override["tritonCpu"]
        ]
        assert op.forbidden() == [], op.forbidden()
    finally:
        op.stop()
        print(f"--- operator container log ---\n{op.log_tail(150)}")
    wait_for("the operator container to be gone", lambda: not op.proc or op.proc.poll() is not None)
