"""NetworkPolicies that keep every byte of a deployment's traffic where it belongs.

Why: a code model sees proprietary source, so its pods talk only to what they
must. Each rule below is one flow the product really has, selecting pods by the
labels the operator sets on them:

* default deny: every pod of the resource (``app.kubernetes.io/instance``);
* clients (``allowedNamespaces``, ``allowedCIDRs``) -> gateway :8000;
* the monitoring namespace (Prometheus) -> gateway :8000 (``/metrics``) and Triton :8002;
* the operator's pods -> gateway :8000, only while the operator scrapes the
  gateways itself (SLO autoscaling with no Prometheus URL; the operator's own
  egress side is in the chart's policy);
* the engine gate's evaluation pods -> gateway :8000 (and DNS), while ``engine.gate`` is set;
* gateway -> its Triton pods (pools and canaries) on gRPC :8001 only (inference and the per-replica
  model-ready checks are gRPC), and DNS (the headless Service's answers);
* Triton: nothing else in, nothing out (kubelet probes come from the node);
* build pods: no ingress; DNS and the model source only (nothing more for a
  volume, port 443 to the S3 CIDRs, or, when allowed, port 443 for the Hub).
"""

from __future__ import annotations

from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.operator.objects import gateway_objects, names, triton
from seedcoder.operator.objects.podsec import Manifest
from seedcoder.operator.settings import OperatorSettings

NS_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_EGRESS: Manifest = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {NS_NAME_LABEL: "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}


def _policy(instance: str, namespace: str, what: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": names.netpol(instance, what),
            "namespace": namespace,
            "labels": names.instance_labels(instance, "network"),
        },
        "spec": spec,
    }


def _ports(*ports: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def default_deny(instance: str, namespace: str) -> Manifest:
    return _policy(
        instance,
        namespace,
        "default-deny",
        {
            "podSelector": {"matchLabels": {names.LABEL_INSTANCE: instance}},
            "policyTypes": ["Ingress", "Egress"],
        },
    )


OPERATOR_POD_LABELS = {"app.kubernetes.io/part-of": "seedcoder", names.LABEL_COMPONENT: "operator"}
"""Labels the chart (and so manifests/install.yaml) puts on the operator's pod, whatever the release name."""


def _triton_pods(instance: str) -> Manifest:
    """The resource's Triton pods: its pools' and their canaries' (the engine gate's)."""
    return {
        "podSelector": {
            "matchLabels": {names.LABEL_INSTANCE: instance},
            "matchExpressions": [
                {
                    "key": names.LABEL_COMPONENT,
                    "operator": "In",
                    "values": [names.COMPONENT_TRITON, names.COMPONENT_CANARY],
                }
            ],
        }
    }


def _gate_pods(instance: str) -> Manifest:
    return {
        "podSelector": {
            "matchLabels": {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: names.COMPONENT_GATE}
        }
    }


def _monitoring(spec: SeedCoderDeploymentSpec) -> Manifest:
    return {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: spec.network.monitoring_namespace}}}


def operator_scrapes(spec: SeedCoderDeploymentSpec, settings: OperatorSettings) -> bool:
    """Whether the operator reads this resource's gateway pods' /metrics itself (no Prometheus)."""
    return spec.autoscaling.mode == "slo" and not (spec.autoscaling.prometheus_url or settings.prometheus_url)


def operator_peer(spec: SeedCoderDeploymentSpec, settings: OperatorSettings) -> Manifest | None:
    """The operator's pods as a peer of the gateway's ingress, when it scrapes and knows its namespace."""
    if settings.operator_namespace is None or not operator_scrapes(spec, settings):
        return None
    return {
        "namespaceSelector": {"matchLabels": {NS_NAME_LABEL: settings.operator_namespace}},
        "podSelector": {"matchLabels": dict(OPERATOR_POD_LABELS)},
    }


def triton_policy(instance: str, namespace: str, spec: SeedCoderDeploymentSpec) -> Manifest:
    gateway_pods = {"podSelector": {"matchLabels": gateway_objects.selector_labels(instance)}}
    return _policy(
        instance,
        namespace,
        "triton",
        {
            **_triton_pods(instance),
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [gateway_pods], "ports": _ports(triton.GRPC)},
                {"from": [_monitoring(spec)], "ports": _ports(triton.METRICS)},
            ],
            "egress": [],
        },
    )


def gateway_policy(
    instance: str, namespace: str, spec: SeedCoderDeploymentSpec, settings: OperatorSettings
) -> Manifest:
    net = spec.network
    peers: list[Manifest] = []
    if net.allowed_namespaces:
        peers.append(
            {
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": NS_NAME_LABEL, "operator": "In", "values": list(net.allowed_namespaces)}
                    ]
                }
            }
        )
    peers += [{"ipBlock": {"cidr": cidr}} for cidr in net.allowed_cidrs]
    ingress: list[Manifest] = []
    if peers:
        ingress.append({"from": peers, "ports": _ports(gateway_objects.PORT)})
    ingress.append({"from": [_monitoring(spec)], "ports": _ports(gateway_objects.PORT)})
    if (op := operator_peer(spec, settings)) is not None:
        ingress.append({"from": [op], "ports": _ports(gateway_objects.PORT)})
    if spec.engine.gate is not None:
        ingress.append({"from": [_gate_pods(instance)], "ports": _ports(gateway_objects.PORT)})
    return _policy(
        instance,
        namespace,
        "gateway",
        {
            "podSelector": {"matchLabels": gateway_objects.selector_labels(instance)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [DNS_EGRESS, {"to": [_triton_pods(instance)], "ports": _ports(triton.GRPC)}],
        },
    )


def gate_policy(instance: str, namespace: str) -> Manifest:
    """The engine gate's evaluation pods: no ingress; egress to DNS and the resource's gateway only."""
    gateway_pods = {"podSelector": {"matchLabels": gateway_objects.selector_labels(instance)}}
    return _policy(
        instance,
        namespace,
        names.COMPONENT_GATE,
        {
            **_gate_pods(instance),
            "policyTypes": ["Ingress", "Egress"],
            "egress": [DNS_EGRESS, {"to": [gateway_pods], "ports": _ports(gateway_objects.PORT)}],
        },
    )


def build_policy(instance: str, namespace: str, spec: SeedCoderDeploymentSpec, keys: list[str]) -> Manifest:
    """Build pods of this resource's engines: no ingress; egress to DNS and the model source only."""
    egress: list[Manifest] = [DNS_EGRESS]
    src, net = spec.model.source, spec.network
    if src.s3 is not None:
        cidrs = list(net.model_source_cidrs) or ["0.0.0.0/0", "::/0"]
        egress.append({"to": [{"ipBlock": {"cidr": c}} for c in cidrs], "ports": _ports(443)})
    elif src.hugging_face is not None and net.allow_model_download:
        egress.append({"ports": _ports(443)})
    return _policy(
        instance,
        namespace,
        "engine-build",
        {
            "podSelector": {
                "matchLabels": {
                    names.LABEL_COMPONENT: names.COMPONENT_BUILD,
                    names.LABEL_MANAGED_BY: names.MANAGED_BY,
                },
                "matchExpressions": [
                    {"key": names.LABEL_ENGINE_KEY, "operator": "In", "values": sorted(keys)}
                ],
            },
            "policyTypes": ["Ingress", "Egress"],
            "egress": egress,
        },
    )
