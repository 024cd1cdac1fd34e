"""The product inside the local cluster, on its real node, from its own images.

Why one module: ``make demo`` and the real-node tests do the same steps a
platform team does on a real cluster: ``helm install`` the chart with the
product's images, give the CPU pool its volumes (the models claim holding the
model file, the shared engine cache, the feedback claim), create the API key
Secret, and apply a CPU ``SeedCoderDeployment``. The operator then runs as its
Deployment under its ServiceAccount, and the build Job, Triton and the gateway
run as real pods on ``cpu-0``. The GPU pools' pods stay simulated (KWOK).

Volumes are ``hostPath`` folders under the cluster's work folder, pinned to the
real node, made writable for the pods' non-root users: the local stand-in for a
ReadWriteMany file system.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from seedcoder.images import default_image

from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.images import product_images as index_images
from seedcoder_dev.devcluster.nodes import REAL_NODE
from seedcoder_dev.devcluster.volumes import prebound_claim

Manifest = dict[str, Any]
MODEL_FOLDER = "seed-coder-8b-base"
"""Where, inside the models claim, the model's files are (the resources' ``source.pvc.path``)."""


def host_claim(namespace: str, claim: str, path: Path, size: str = "20Gi") -> list[Manifest]:
    """A ReadWriteMany PersistentVolume on the real node's folder ``path``, pre-bound to ``claim``."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)  # hostPath folders get no fsGroup: the pods' non-root users write here
    return prebound_claim(namespace, claim, size, host_path=str(path), node=REAL_NODE)


def stage_model(models: Path, gguf: Path) -> Path:
    """Put the model file into ``models/<MODEL_FOLDER>/`` with its ``SHA256SUMS`` (as a team would)."""
    folder = models / MODEL_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / gguf.name
    if not target.exists():
        try:
            os.link(gguf, target)
        except OSError:
            shutil.copy2(gguf, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  {target.name}\n")
    for p in (folder, target, folder / "SHA256SUMS"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return folder


def apply(cluster: Cluster, *objects: Manifest, namespace: str | None = None) -> None:
    args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
    cluster.kubectl(*args, input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def install_chart(
    cluster: Cluster,
    helm: Path,
    *,
    namespace: str,
    release: str,
    watch: list[str],
    sets: tuple[str, ...] = (),
) -> None:
    """``helm upgrade --install`` the chart with the locally built images, watching ``watch``."""
    chart = Path(__file__).resolve().parents[4] / "charts" / "seedcoder-operator"
    argv = [
        str(helm), "upgrade", "--install", release, str(chart), "-n", namespace, "--create-namespace",
        f"--kubeconfig={cluster.kubeconfig}",
        "--set", f"operator.watchNamespaces={{{','.join(watch)}}}",
        # The images were imported into the node; nothing is pulled.
        "--set", "image.pullPolicy=IfNotPresent",
        *sets,
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"helm install failed:\n{result.stderr}")


def wait_for_images(cluster: Cluster, refs: list[str], timeout: float = 300) -> None:
    """Wait until the node's container runtime holds ``refs``.

    The cluster's start imports them in the background; one still missing after
    its usual time (say, its archive was rebuilt meanwhile) is imported here from
    ``make images``' index (importing twice is harmless).
    """
    node = cluster.real_node()
    if node is None:
        raise RuntimeError("the local cluster has no real node")

    def missing() -> list[str]:
        listed = subprocess.run(
            [*node.ctr(), "-n", "k8s.io", "images", "ls", "-q"], capture_output=True, text=True, check=False
        ).stdout.split()
        return [r for r in refs if r not in listed and f"docker.io/{r}" not in listed]

    started = time.monotonic()
    imported = False
    while left := missing():
        if time.monotonic() > started + timeout:
            raise RuntimeError(f"images {left} never reached the node: run `make images`")
        # The start's import takes up to a minute or two; then import what it missed.
        if not imported and time.monotonic() > started + 90:
            archives = {ref: path for ref, path in index_images().items() if ref in left}
            if len(archives) < len(left):
                raise RuntimeError(f"images {left} are not built: run `make images`")
            cluster.load_images(archives)
            imported = True
        time.sleep(2)


def product_images() -> list[str]:
    """The references of the images the CPU path runs (the operator's defaults)."""
    return [default_image("seedcoder").reference, default_image("triton-cpu").reference]


def cpu_resource(
    name: str,
    *,
    allowed_namespaces: list[str],
    api_key_secret: str,
    cache_claim: str = "engine-cache",
    feedback_claim: str | None = "feedback",
    ttft_p95_ms: int = 20000,
    replicas: int = 1,
    autoscaling: Manifest | None = None,
) -> Manifest:
    """A CPU (llama.cpp) resource sized for this machine's real node (two cores)."""
    gateway: Manifest = {
        "replicas": 1,
        "maxContextTokens": 1536,
        "maxOutputTokens": 64,
        "apiKeySecretRef": {"name": api_key_secret},
    }
    if feedback_claim:
        gateway["feedback"] = {"pvc": {"claimName": feedback_claim}}
    return {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderDeployment",
        "metadata": {"name": name},
        "spec": {
            "model": {
                "name": "google/gemma-3-270m",
                "revision": "demo-gguf-q4-k-m",
                "source": {"pvc": {"claimName": "models", "path": MODEL_FOLDER}},
            },
            "engine": {
                "precision": "gguf-q4_k_m",
                "maxInputLen": 1536,
                "maxOutputLen": 64,
                "cache": {"pvc": {"claimName": cache_claim}},
            },
            "pools": [
                {
                    "name": "cpu",
                    "gpu": "CPU",
                    "runtime": "llamacpp",
                    "minReplicas": replicas,
                    "maxReplicas": max(replicas, 2),
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "512Mi"},
                        "limits": {"cpu": "1", "memory": "2Gi"},
                    },
                }
            ],
            "slo": {"ttftP95Ms": ttft_p95_ms},
            "autoscaling": autoscaling or {"mode": "fixed"},
            "gateway": gateway,
            "network": {"allowedNamespaces": allowed_namespaces},
        },
    }
