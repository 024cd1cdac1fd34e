"""The Prometheus Operator PodMonitor for one SeedCoderDeployment's gateway and Triton pods.

Why: the SLO rules and dashboards select series by ``namespace``, ``deployment``
and ``pool``. Those labels come from the pods (not from the exporters), so the
scrape monitor is where they are attached, once, the same way for the gateway
(``:8000/metrics``) and for Triton (``:8002/metrics``). The operator's own
metrics are scraped through the Helm chart's ServiceMonitor.
"""

from __future__ import annotations

from typing import Any

INSTANCE_LABEL = "app.kubernetes.io/instance"
"""Pod label holding the SeedCoderDeployment's name (set by the operator on every pod it creates)."""
COMPONENT_LABEL = "app.kubernetes.io/component"
"""Pod label: ``gateway`` or ``triton``."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "seedcoder-operator"
POOL_LABEL = "seedcoder.dev/pool"
"""Pod label of Triton pods: the pool name (the gateway exports ``pool`` itself)."""
GATEWAY_PORT = "http"
"""Name of the gateway container port (8000) that serves the API and ``/metrics``."""
TRITON_METRICS_PORT = "metrics"
"""Name of the Triton container port 8002 (Prometheus metrics)."""
KUBE_PROMETHEUS_STACK_LABELS = {"release": "kube-prometheus-stack"}
"""What a kube-prometheus-stack's Prometheus selects PodMonitors and PrometheusRules by: its
release name (the operator's default ``monitoring_labels``; the chart's ``monitoring.selectorLabels``)."""


def _meta(label: str) -> str:
    """Prometheus' service-discovery meta label for a pod label."""
    sanitized = "".join(c if c.isalnum() else "_" for c in label)
    return f"__meta_kubernetes_pod_label_{sanitized}"


def _relabel(component: str, *, with_pool: bool) -> list[dict[str, Any]]:
    relabelings: list[dict[str, Any]] = [
        # Both kinds of pod may have a port of either name: scrape each endpoint on its own component only.
        {"sourceLabels": [_meta(COMPONENT_LABEL)], "regex": component, "action": "keep"},
        {"sourceLabels": [_meta(INSTANCE_LABEL)], "targetLabel": "deployment", "action": "replace"},
        {"sourceLabels": ["__meta_kubernetes_namespace"], "targetLabel": "namespace", "action": "replace"},
        {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "pod", "action": "replace"},
        {"sourceLabels": [_meta(COMPONENT_LABEL)], "targetLabel": "component", "action": "replace"},
    ]
    if with_pool:
        relabelings.append({"sourceLabels": [_meta(POOL_LABEL)], "targetLabel": "pool", "action": "replace"})
    return relabelings


def pod_monitor(
    namespace: str,
    name: str,
    interval: str = "15s",
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ``monitoring.coreos.com/v1`` PodMonitor scraping the gateway and Triton pods of ``namespace/name``.

    Series get ``namespace``, ``deployment`` (the resource's name), ``pod``,
    ``component`` and, for Triton, ``pool``. The gateway's own ``pool`` label is
    kept (it says which pool served each request).
    """
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": f"{name}-metrics",
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "seedcoder",
                INSTANCE_LABEL: name,
                COMPONENT_LABEL: "monitoring",
                MANAGED_BY_LABEL: MANAGED_BY,
                **(labels or {}),
            },
        },
        "spec": {
            "namespaceSelector": {"matchNames": [namespace]},
            "selector": {
                "matchLabels": {INSTANCE_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY},
                "matchExpressions": [
                    {"key": COMPONENT_LABEL, "operator": "In", "values": ["gateway", "triton"]},
                ],
            },
            "podMetricsEndpoints": [
                {
                    "port": GATEWAY_PORT,
                    "path": "/metrics",
                    "interval": interval,
                    "relabelings": _relabel("gateway", with_pool=False),
                },
                {
                    "port": TRITON_METRICS_PORT,
                    "path": "/metrics",
                    "interval": interval,
                    "relabelings": _relabel("triton", with_pool=True),
                },
            ],
        },
    }
