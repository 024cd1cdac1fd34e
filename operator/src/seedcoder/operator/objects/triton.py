"""A pool's Triton Deployment, Service and PodDisruptionBudget.

Why this shape: Triton reads the engine's model repository from the cache volume,
mounted read-only (only build Jobs write it) at the build Job's path
(``seedcoder.engines.layout``); pods land only on nodes of the engine's GPU
architecture, within the pool's own placement rules (``placement``); rolling
updates add a pod before removing one (``maxUnavailable: 0``),
so rolling a pool onto a new engine never leaves it without a ready replica.
``replicas`` is left out when the autoscaler owns it (``slo`` mode), so the
operator's server-side apply never fights the scaler.
"""

from __future__ import annotations

from seedcoder.api.spec import PoolSpec, ResourceList
from seedcoder.engines import layout
from seedcoder.engines.layout import CACHE_MOUNT
from seedcoder.engines.llamacpp_repo import THREADS_ENV
from seedcoder.engines.lora import SERVING_LORA_DIR
from seedcoder.engines.profiles import GpuProfile
from seedcoder.operator.objects import names, podsec
from seedcoder.operator.objects.image_choice import ImageChoice
from seedcoder.operator.objects.placement import placement
from seedcoder.operator.objects.podsec import Manifest

ADAPTERS_SUBPATH = "adapters"
"""The folder of the fine-tuning workspace claim that holds adapters (``<finetune>/<run>/``)."""

HTTP, GRPC, METRICS = 8000, 8001, 8002


def model_repository(key: str) -> str:
    """The Triton model repository of a published engine, where the build Job wrote it.

    The cache is mounted at the same path as in the build Job, because the
    repository names the engine and tokenizer by absolute path.
    """
    return layout.repository_dir(CACHE_MOUNT, key)


def selector_labels(instance: str, pool: str) -> dict[str, str]:
    return {
        names.LABEL_INSTANCE: instance,
        names.LABEL_COMPONENT: names.COMPONENT_TRITON,
        names.LABEL_POOL: pool,
    }


def labels(instance: str, pool: str, key: str, arch: str) -> dict[str, str]:
    return {
        **names.instance_labels(instance, names.COMPONENT_TRITON),
        names.LABEL_POOL: pool,
        names.LABEL_ENGINE_KEY: key,
        names.LABEL_ARCH: arch,
    }


def _quantities(rl: ResourceList | None, default: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = dict(default)
    if rl is not None:
        out.update({k: v for k, v in (("cpu", rl.cpu), ("memory", rl.memory)) if v is not None})
    return out


def _resources(pool: PoolSpec, profile: GpuProfile) -> Manifest:
    gpus = podsec.gpu_count(profile)
    default = {"cpu": "4", "memory": "32Gi"} if gpus else {"cpu": "2", "memory": "4Gi"}
    res = pool.resources
    requests = _quantities(res.requests if res else None, default)
    limits = _quantities(res.limits if res else None, {})
    if gpus:
        limits[names.GPU_RESOURCE] = gpus
    out: Manifest = {"requests": requests}
    if limits:
        out["limits"] = limits
    return out


def _probe(path: str, period: int, failures: int) -> Manifest:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def deployment(
    *,
    instance: str,
    namespace: str,
    pool: PoolSpec,
    profile: GpuProfile,
    key: str,
    cache_claim: str,
    replicas: int | None,
    image: str,
    images: ImageChoice,
    adapters_claim: str | None = None,
) -> Manifest:
    """The pool's Triton Deployment serving engine ``key`` with ``image`` (the one that built it).

    ``replicas=None`` leaves replicas out (the autoscaler owns them); ``images``
    gives the pull policy and pull secrets. ``adapters_claim``: the workspace claim
    of the deployment's LoRA adapters (none: it serves none); a llama.cpp pool mounts
    its ``adapters/`` folder read-only where its model loads GGUF adapters from
    (``SERVING_LORA_DIR``, the model's ``lora_dir``).
    """
    sel = selector_labels(instance, pool.name)
    pod_labels = labels(instance, pool.name, key, profile.arch)
    container: Manifest = {
        "name": "triton",
        "image": image,
        "imagePullPolicy": images.pull_policy,
        "command": ["tritonserver"],
        "args": [
            f"--model-repository={model_repository(key)}",
            f"--http-port={HTTP}",
            f"--grpc-port={GRPC}",
            f"--metrics-port={METRICS}",
            "--metrics-config=histogram_latencies=true",
            "--disable-auto-complete-config",
            "--exit-on-error=true",
        ],
        "ports": [
            {"name": "http", "containerPort": HTTP, "protocol": "TCP"},
            {"name": "grpc", "containerPort": GRPC, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS, "protocol": "TCP"},
        ],
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "startupProbe": _probe("/v2/health/live", 10, 60),
        "resources": _resources(pool, profile),
        "volumeMounts": [
            {"name": "engine-cache", "mountPath": CACHE_MOUNT, "readOnly": True},
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        "securityContext": podsec.container_security(),
    }
    if profile.runtime == "llamacpp":
        # llama.cpp threads follow this container's CPU request (rounded up), not a number
        # baked into the shared engine's repository (n_threads: auto).
        container["env"] = [
            {
                "name": THREADS_ENV,
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "triton",
                        "resource": "requests.cpu",
                        "divisor": "1",
                    }
                },
            }
        ]
    volumes: list[Manifest] = [
        {"name": "engine-cache", "persistentVolumeClaim": {"claimName": cache_claim, "readOnly": True}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    if adapters_claim is not None and profile.runtime == "llamacpp":
        container["volumeMounts"].append(
            {"name": "adapters", "mountPath": SERVING_LORA_DIR, "subPath": ADAPTERS_SUBPATH, "readOnly": True}
        )
        volumes.append(
            {"name": "adapters", "persistentVolumeClaim": {"claimName": adapters_claim, "readOnly": True}}
        )
    pod_spec: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": podsec.pod_security(),
        "terminationGracePeriodSeconds": 60,
        **images.pod_fields(),
        "containers": [container],
        "volumes": volumes,
        "topologySpreadConstraints": podsec.spread_over_nodes(sel),
    }
    placement(pool, profile).apply(pod_spec)
    spec: Manifest = {
        "selector": {"matchLabels": sel},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
    }
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": names.triton(instance, pool.name),
            "namespace": namespace,
            "labels": pod_labels,
        },
        "spec": spec,
    }


def service(*, instance: str, namespace: str, pool: PoolSpec, arch: str) -> Manifest:
    """Headless Service of one pool: http 8000, grpc 8001 (the gateway's), metrics 8002.

    Headless (``clusterIP: None``) so that the pool's DNS name answers with the IP
    of every *ready* Triton pod: the gateway keeps one gRPC channel per pod and
    spreads requests over them. Through a ClusterIP, one long-lived HTTP/2
    connection would pin each gateway replica to one pod, and replicas the
    autoscaler adds would get no traffic. Ready pods only (the default), so a
    pod still loading its engine is not in the answer.
    """
    svc_labels = {**names.instance_labels(instance, names.COMPONENT_TRITON), names.LABEL_POOL: pool.name}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.triton(instance, pool.name), "namespace": namespace, "labels": svc_labels},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "selector": selector_labels(instance, pool.name),
            "ports": [
                {"name": "http", "port": HTTP, "targetPort": "http", "protocol": "TCP"},
                {"name": "grpc", "port": GRPC, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "metrics", "port": METRICS, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    }


def can_be_disrupted_one_at_a_time(most_replicas: int) -> bool:
    """Whether a PodDisruptionBudget of ``maxUnavailable: 1`` means anything.

    With one replica at most it allows exactly what no budget allows (evicting the
    one pod), so such a component gets none: one object and one write less, and
    the budget appears when the component may run two.
    """
    return most_replicas > 1


def pdb(*, name: str, namespace: str, labels: dict[str, str], selector: dict[str, str]) -> Manifest:
    """At most one pod of a Deployment voluntarily disrupted at a time."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    }
