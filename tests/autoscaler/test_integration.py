"""The SLO autoscaler end to end: real Prometheus, real gateway, real Triton, real control plane.

A real Prometheus scrapes the real gateway (in front of the real ``tritonserver``
with the llama.cpp model). The operator, running as its own least-privilege
ServiceAccount, reads the gateway's time-to-first-token histogram from Prometheus.
A burst of load must make it raise the pool's replicas on the simulated cluster,
with the decision and its reason in the resource's status and in an Event; once
the load stops, replicas must come down, but not before the stabilisation window.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess
from tests.operator.harness import (
    OperatorProcess,
    apply,
    install_rbac,
    install_volumes,
    kubectl_json,
    wait_for,
)
from tests.operator.sample import sample

pytestmark = [pytest.mark.cluster, pytest.mark.triton, pytest.mark.slow]

STABILISATION_S = 45


def _resource(namespace: str, prometheus_url: str) -> dict[str, Any]:
    return sample(
        name="scaled",
        namespace=namespace,
        pools=[{"name": "h100", "gpu": "H100", "minReplicas": 1, "maxReplicas": 4}],
        slo={"ttftP95Ms": 300, "windowMinutes": 1},
        autoscaling={
            "mode": "slo",
            "intervalSeconds": 5,
            "scaleUpCooldownSeconds": 0,
            "scaleDownCooldownSeconds": STABILISATION_S,
            "breachMemorySeconds": STABILISATION_S,
            "prometheusUrl": prometheus_url,
        },
    )


def _replicas(cluster: Cluster, ns: str) -> int:
    return int(kubectl_json(cluster, "-n", ns, "get", "deployment", "scaled-triton-h100")["spec"]["replicas"])


def _history(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    status = kubectl_json(cluster, "-n", ns, "get", "scd", "scaled").get("status") or {}
    history: list[dict[str, Any]] = (status.get("autoscaling") or {}).get("history", [])
    return history


def _burst(gateway: GatewayProcess, seconds: float) -> int:
    """Concurrent short completions for ``seconds``; returns how many were served."""
    client = gateway.openai(timeout=120)
    deadline = time.monotonic() + seconds

    def worker(i: int) -> int:
        served = 0
        while time.monotonic() < deadline:
            client.completions.create(model=MODEL_NAME, prompt=f"def f{i}_{served}(x):\n", max_tokens=6)
            served += 1
        return served

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return sum(pool.map(worker, range(4)))


def test_load_burst_scales_up_and_the_stabilisation_window_delays_scale_down(
    cluster: Cluster,
    namespace: str,
    triton_server: Any,
    gateway_factory: Any,
    tmp_path: Path,
) -> None:
    gateway = gateway_factory(
        triton_server.grpc_url, pools=[{"name": "h100", "grpc_url": triton_server.grpc_url, "gpu": "H100"}]
    )
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        [
            ScrapeTarget(
                "seedcoder-gateway",
                gateway.url.removeprefix("http://"),
                labels={"namespace": namespace, "deployment": "scaled"},  # as the PodMonitor labels it
            )
        ],
        scrape_interval="1s",
    ).start()
    install_rbac(cluster, namespace)
    install_volumes(cluster, namespace)
    operator = OperatorProcess(cluster, namespace, tmp_path, resync="2").start()
    try:
        apply(cluster, _resource(namespace, prometheus.url))
        wait_for("the resource to be Ready", lambda: _ready(cluster, namespace), timeout=120)
        assert _replicas(cluster, namespace) == 1
        # Idle: no traffic, so no signal; the policy holds at minReplicas.
        time.sleep(12)
        assert _replicas(cluster, namespace) == 1
        assert _history(cluster, namespace) == []

        served = _burst(gateway, seconds=25)
        assert served > 0
        ups = wait_for(
            "a scale-up decision in status",
            lambda: [h for h in _history(cluster, namespace) if h["to"] > h["from"]] or None,
            timeout=90,
        )
        assert ups[0]["pool"] == "h100"
        assert "TTFT" in ups[0]["reason"] or "rate" in ups[0]["reason"], ups[0]["reason"]
        peak = wait_for(
            "the Deployment to follow",
            lambda: _replicas(cluster, namespace) > 1 and _replicas(cluster, namespace),
            30,
        )
        events = kubectl_json(cluster, "-n", namespace, "get", "events.events.k8s.io")["items"]
        scaled = [
            e
            for e in events
            if e.get("regarding", {}).get("name") == "scaled" and e.get("reason") == "ScaledUp"
        ]
        assert scaled, json.dumps([(e.get("reason"), e.get("note")) for e in events])[:2000]
        assert "h100" in scaled[0]["note"]

        # The load stops. Replicas stay up for the stabilisation window, then come down.
        last_up = max(
            datetime.fromisoformat(h["time"].replace("Z", "+00:00"))
            for h in _history(cluster, namespace)
            if h["to"] > h["from"]
        )
        first_down_seen = None
        deadline = time.monotonic() + STABILISATION_S + 150
        while time.monotonic() < deadline:
            if _replicas(cluster, namespace) < peak:
                first_down_seen = datetime.now().astimezone()
                break
            peak = max(peak, _replicas(cluster, namespace))
            time.sleep(1)
        assert first_down_seen is not None, f"replicas never came down: {_history(cluster, namespace)}"
        assert (first_down_seen - last_up).total_seconds() >= STABILISATION_S
        downs = [h for h in _history(cluster, namespace) if h["to"] < h["from"]]
        assert downs, _history(cluster, namespace)
        assert downs[-1]["reason"]
        assert _replicas(cluster, namespace) >= 1
        assert operator.forbidden() == []
    finally:
        operator.stop()
        prometheus.stop()


def _ready(cluster: Cluster, ns: str) -> bool:
    status = kubectl_json(cluster, "-n", ns, "get", "scd", "scaled").get("status") or {}
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
