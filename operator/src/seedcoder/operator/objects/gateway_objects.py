"""The gateway's ConfigMap, Deployment, Service and PodDisruptionBudget.

Why this shape: the gateway reads one JSON file (``GatewayConfig``, the schema it
shares with the operator through the pure ``api`` layer) that lists the pools it
may route to; the operator renders it from the spec and the pools that serve. API
keys stay in the user's Secret, mounted read-only. Feedback goes to the claim
of ``spec.gateway.feedback`` when given (one data set across replicas, each
writing files named after its pod), else to an emptyDir (not durable). The
Service is ClusterIP or an internal load balancer (AWS, GCP and Azure
annotations together: each cloud reads its own), never a public one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from seedcoder.api.adapters import AdapterConfig
from seedcoder.api.fields import RuntimeName
from seedcoder.api.gateway_config import GatewayConfig, PoolEndpoint
from seedcoder.api.scan import ScanPolicy, ScanSpec
from seedcoder.api.spec import PoolResources, SeedCoderDeploymentSpec
from seedcoder.autoscaler import prior_for
from seedcoder.operator.objects import names, podsec, retrieval_objects, triton
from seedcoder.operator.objects.image_choice import ImageChoice
from seedcoder.operator.objects.podsec import Manifest

CONFIG_DIR = "/etc/seedcoder/gateway"
CONFIG_KEY = "gateway.json"
API_KEYS_DIR = "/etc/seedcoder/api-keys"
FEEDBACK_DIR = "/var/lib/seedcoder/feedback"
FEEDBACK_WRITER_ENV = "SEEDCODER_GATEWAY_FEEDBACK_WRITER"
PORT = 8000
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/aws-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "Internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
}


def selector_labels(instance: str) -> dict[str, str]:
    return {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: names.COMPONENT_GATEWAY}


def pool_endpoint(
    *,
    instance: str,
    namespace: str,
    pool: str,
    gpu: str,
    max_input_len: int,
    domain: str,
    capacity_weight: float = 1.0,
    max_prompt_tokens: int | None = None,
    runtime: RuntimeName = "tensorrt-llm",
    candidate_of: str | None = None,
    service: str | None = None,
) -> PoolEndpoint:
    """The gateway's view of one pool (its headless Service), or with ``candidate_of`` of that pool's
    canary under the engine gate (``service`` its Service): pinned requests only."""
    host = f"{service or names.triton(instance, pool)}.{namespace}.svc.{domain}"
    return PoolEndpoint(
        name=pool,
        grpc_url=f"{host}:{triton.GRPC}",
        gpu=gpu,
        runtime=runtime,
        capacity_weight=capacity_weight,
        max_prompt_tokens=min(max_input_len, max_prompt_tokens or max_input_len),
        candidate=candidate_of is not None,
    )


def routing_hints(pools: list[tuple[str, str]], slo_ms: float) -> list[tuple[float, int | None]]:
    """(capacity weight, longest prompt to send it) per (GPU, precision), for the gateway's pool rule.

    Why: the gateway balances least-outstanding weighted by capacity and keeps
    prompts off pools that cannot prefill them inside the SLO. The weight is
    the requests/s one replica holds at the SLO (the autoscaler's prior), so an
    A100 replica gets its share, not an H100's; a pool gets a prompt limit only
    when another pool of the deployment serves longer prompts inside the SLO
    (alone, a pool serves everything it accepts).
    """
    priors = [prior_for(gpu, precision) for gpu, precision in pools]
    servable = [p.servable_prompt_tokens(slo_ms) for p in priors]
    longest = max(servable, default=0)
    return [
        (round(p.rps_for_slo(slo_ms), 3), s if s < longest else None)
        for p, s in zip(priors, servable, strict=True)
    ]


def gateway_config(
    spec: SeedCoderDeploymentSpec,
    pools: list[PoolEndpoint],
    default_scan_policy: ScanPolicy = "annotate",
    adapters: Sequence[AdapterConfig] = (),
) -> GatewayConfig:
    """The gateway's file; ``adapters``: the fine-tunes' staged and published adapters
    (``finetune_adapters.deployment_adapters``), each served by the pools with files for its runtime."""
    gw = spec.gateway
    return GatewayConfig(
        model_name=spec.model.name,
        pools=pools,
        max_context_tokens=gw.max_context_tokens,
        max_output_tokens=gw.max_output_tokens,
        ttft_p95_ms=spec.slo.ttft_p95_ms,
        open_mode=gw.open_mode,
        api_keys_dir=None if gw.open_mode else API_KEYS_DIR,
        rate_limit_rps=float(gw.rate_limit_rps),
        rate_limit_burst=2 * gw.rate_limit_rps,
        feedback_dir=FEEDBACK_DIR,
        retrieval=retrieval_objects.gateway_config(spec.retrieval) if spec.retrieval is not None else None,
        scan=gw.scan if gw.scan is not None else ScanSpec(policy=default_scan_policy),
        adapters=list(adapters),
    )


def config_map(*, instance: str, namespace: str, config: GatewayConfig) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": names.gateway(instance),
            "namespace": namespace,
            "labels": names.instance_labels(instance, names.COMPONENT_GATEWAY),
        },
        "data": {CONFIG_KEY: config.model_dump_json(indent=2) + "\n"},
    }


def config_checksum(config_map: Manifest) -> str:
    """SHA-256 of the ConfigMap's rendered data (canonical JSON): what the pods read at start.

    The gateway reads its file once at start, so the pod template carries this
    value as an annotation: a configuration change changes the template and the
    Deployment rolls its pods (``maxUnavailable: 0``), one at a time.
    """
    text = json.dumps(config_map.get("data", {}), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _resources(res: PoolResources | None) -> Manifest:
    requests: dict[str, object] = {"cpu": "500m", "memory": "512Mi"}
    limits: dict[str, object] = {"memory": "2Gi"}
    for target, given in ((requests, res.requests if res else None), (limits, res.limits if res else None)):
        if given is not None:
            target.update({k: v for k, v in (("cpu", given.cpu), ("memory", given.memory)) if v is not None})
    return {"requests": requests, "limits": limits}


def deployment(
    *, instance: str, namespace: str, spec: SeedCoderDeploymentSpec, images: ImageChoice, config_checksum: str
) -> Manifest:
    """The gateway Deployment; ``config_checksum`` (of the ConfigMap) goes on the pod template."""
    gw = spec.gateway
    labels = names.instance_labels(instance, names.COMPONENT_GATEWAY)
    sel = selector_labels(instance)
    mounts: list[Manifest] = [
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
        {"name": "feedback", "mountPath": FEEDBACK_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    feedback: Manifest = (
        {"persistentVolumeClaim": {"claimName": gw.feedback.pvc.claim_name}}
        if gw.feedback is not None
        else {"emptyDir": {}}
    )
    volumes: list[Manifest] = [
        {"name": "config", "configMap": {"name": names.gateway(instance)}},
        {"name": "feedback", **feedback},
        {"name": "tmp", "emptyDir": {}},
    ]
    if spec.retrieval is not None:  # the published index, read-only (the indexing pods write it)
        mounts.append({"name": "index", "mountPath": retrieval_objects.INDEX_DIR, "readOnly": True})
        claim = spec.retrieval.index.claim_name
        volumes.append({"name": "index", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}})
    if gw.api_key_secret_ref is not None and not gw.open_mode:
        mounts.append({"name": "api-keys", "mountPath": API_KEYS_DIR, "readOnly": True})
        volumes.append({"name": "api-keys", "secret": {"secretName": gw.api_key_secret_ref.name}})
    container: Manifest = {
        "name": "gateway",
        "image": images.seedcoder,
        "imagePullPolicy": images.pull_policy,
        "command": ["seedcoder", "gateway", "--config", f"{CONFIG_DIR}/{CONFIG_KEY}"],
        # each replica writes its own feedback files into the shared folder: named after its pod
        "env": [{"name": FEEDBACK_WRITER_ENV, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10},
        "resources": _resources(gw.resources),
        "volumeMounts": mounts,
        "securityContext": podsec.container_security(),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": names.gateway(instance), "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": gw.replicas,
            "selector": {"matchLabels": sel},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {names.ANNOTATION_CONFIG_CHECKSUM: config_checksum},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": podsec.pod_security(),
                    **images.pod_fields(),
                    "containers": [container],
                    "volumes": volumes,
                    "topologySpreadConstraints": podsec.spread_over_nodes(sel),
                },
            },
        },
    }


def service(*, instance: str, namespace: str, spec: SeedCoderDeploymentSpec) -> Manifest:
    internal_lb = spec.network.exposure == "InternalLoadBalancer"
    metadata: Manifest = {
        "name": names.gateway(instance),
        "namespace": namespace,
        "labels": names.instance_labels(instance, names.COMPONENT_GATEWAY),
    }
    if internal_lb:
        metadata["annotations"] = dict(INTERNAL_LB_ANNOTATIONS)
    svc_spec: Manifest = {
        "type": "LoadBalancer" if internal_lb else "ClusterIP",
        "selector": selector_labels(instance),
        "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
    }
    if internal_lb and spec.network.allowed_cidrs:
        svc_spec["loadBalancerSourceRanges"] = list(spec.network.allowed_cidrs)
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": svc_spec}


def endpoint(instance: str, namespace: str, domain: str) -> str:
    """Base URL of the OpenAI-compatible API."""
    return f"http://{names.gateway(instance)}.{namespace}.svc.{domain}:{PORT}/v1"
