"""NetworkPolicies that keep every byte of a deployment's traffic where it belongs.

Why: a code model sees proprietary source, so its pods talk only to what they
must. A default-deny policy covers every pod of the resource; Triton accepts the
resource's gateway (and, on the metrics port, the monitoring namespace) and has no
egress; the gateway accepts only the allowed namespaces and private CIDRs and may
reach only DNS and its Triton pods; build pods reach only DNS and the model
source (nothing for a volume, port 443 for S3 or, when allowed, the Hub).
"""

from __future__ import annotations

from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.operator import gateway_objects, names, triton
from seedcoder.operator.podsec import Manifest

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


def triton_policy(instance: str, namespace: str, spec: SeedCoderDeploymentSpec) -> Manifest:
    gateway_pods = {"podSelector": {"matchLabels": gateway_objects.selector_labels(instance)}}
    monitoring = {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: spec.network.monitoring_namespace}}}
    return _policy(
        instance,
        namespace,
        "triton",
        {
            "podSelector": {
                "matchLabels": {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: names.COMPONENT_TRITON}
            },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [
                {"from": [gateway_pods], "ports": _ports(triton.HTTP, triton.GRPC)},
                {"from": [monitoring], "ports": _ports(triton.METRICS)},
            ],
            "egress": [],
        },
    )


def gateway_policy(instance: str, namespace: str, spec: SeedCoderDeploymentSpec) -> Manifest:
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
    monitoring = {"namespaceSelector": {"matchLabels": {NS_NAME_LABEL: net.monitoring_namespace}}}
    ingress: list[Manifest] = [{"from": [monitoring], "ports": _ports(gateway_objects.PORT)}]
    if peers:
        ingress.insert(0, {"from": peers, "ports": _ports(gateway_objects.PORT)})
    triton_pods = {
        "podSelector": {
            "matchLabels": {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: names.COMPONENT_TRITON}
        }
    }
    return _policy(
        instance,
        namespace,
        "gateway",
        {
            "podSelector": {"matchLabels": gateway_objects.selector_labels(instance)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": [DNS_EGRESS, {"to": [triton_pods], "ports": _ports(triton.HTTP, triton.GRPC)}],
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
                "matchLabels": {names.LABEL_COMPONENT: names.COMPONENT_BUILD},
                "matchExpressions": [
                    {"key": names.LABEL_ENGINE_KEY, "operator": "In", "values": sorted(keys)}
                ],
            },
            "policyTypes": ["Ingress", "Egress"],
            "egress": egress,
        },
    )
