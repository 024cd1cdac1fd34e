"""The product for real on the real node: chart, operator pod, build Job, Triton and gateway pods.

The chart is installed with the product's own images; the operator runs as its
Deployment under its ServiceAccount; a CPU ``SeedCoderDeployment`` builds its
llama.cpp engine in a real Job (models claim -> engine cache claim) and serves it
from Triton and gateway pods behind real Services, with the operator's
NetworkPolicies enforced by kube-router. The tests run in order on one resource
(module fixture) and each checks one thing a real cluster would show.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from seedcoder.gateway.feedback import read_feedback
from seedcoder.images import default_image
from seedcoder_dev.demo import incluster
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.tools import helm_path, kubectl_path
from seedcoder_dev.localstack.triton import free_port, gguf_model_path

from tests.operator.harness import kubectl_json, wait_for
from tests.operator.test_cluster_lifecycle import wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS, OPERATOR_NS, ALLOWED, OTHER = "scd-prod", "scd-system", "dev-tools", "scd-other"
NAME = "completions"
API_KEY = "sk-realnode-" + "5" * 24
MODEL = "google/gemma-3-270m"


class Product:
    def __init__(self, cluster: Cluster, volumes: Path) -> None:
        self.cluster = cluster
        self.volumes = volumes

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        return self.cluster.kubectl(*args, check=check, timeout=timeout).stdout

    def pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kubectl_json(
            self.cluster, "get", "pods", "-n", namespace, "-l", selector
        )["items"]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]

    def ready_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        def ready(p: dict[str, Any]) -> bool:
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p.get("status", {}).get("conditions", [])
            )

        return [p for p in self.pods(namespace, selector) if ready(p)]

    def client_pod(self, namespace: str) -> str:
        """A long-running pod with Python and httpx (the seedcoder image) to call from ``namespace``."""
        name = "client"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "client"}},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [
                    {
                        "name": "client",
                        "image": default_image("seedcoder").reference,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["python3", "-c", "import time; time.sleep(10**6)"],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        }
        incluster.apply(self.cluster, pod, namespace=namespace)
        self.kubectl("wait", "-n", namespace, "--for=condition=Ready", "--timeout=120s", f"pod/{name}")
        return name

    def call(self, namespace: str, url: str, body: dict[str, Any] | None = None, timeout: float = 60) -> int:
        """HTTP status of a request from the client pod in ``namespace`` (0: no connection)."""
        script = (
            "import httpx, json, sys\n"
            "try:\n"
            f"    r = httpx.request({'POST' if body else 'GET'!r}, {url!r}, json={body!r}, timeout={timeout},"
            f" headers={{'Authorization': 'Bearer {API_KEY}'}})\n"
            "    print(r.status_code); print(r.text[:300])\n"
            "except httpx.HTTPError as exc:\n"
            "    print(0); print(type(exc).__name__)\n"
        )
        out = self.kubectl(
            "exec", "-n", namespace, "client", "--", "python3", "-c", script, timeout=timeout + 30
        )
        return int(out.split()[0])


@pytest.fixture(scope="module")
def product(cluster: Cluster) -> Iterator[Product]:
    incluster.wait_for_images(cluster, incluster.product_images())
    for ns in (NS, ALLOWED, OTHER):
        cluster.kubectl("create", "namespace", ns, check=False)
    volumes = cluster.workdir / "volumes" / NS
    models = volumes / "models"
    incluster.stage_model(models, gguf_model_path())
    claims = [
        *incluster.host_claim(NS, "models", models),
        *incluster.host_claim(NS, "engine-cache", volumes / "engine-cache"),
        *incluster.host_claim(NS, "feedback", volumes / "feedback"),
    ]
    incluster.apply(cluster, *claims)
    cluster.kubectl("create", "secret", "generic", "api-keys", "-n", NS, f"--from-literal=team-a={API_KEY}")
    incluster.install_chart(cluster, helm_path(), namespace=OPERATOR_NS, release="seedcoder", watch=[NS])
    resource = incluster.cpu_resource(
        NAME,
        allowed_namespaces=[ALLOWED],
        api_key_secret="api-keys",
        autoscaling={"mode": "slo", "intervalSeconds": 5},
    )
    incluster.apply(cluster, resource, namespace=NS)
    p = Product(cluster, volumes)
    try:
        wait_ready(cluster, NS, NAME, timeout=420)
        yield p
    finally:
        print(p.kubectl("get", "pods,jobs,svc,netpol", "-n", NS, "-o", "wide", check=False))
        print(
            p.kubectl(
                "logs", "-n", OPERATOR_NS, "deploy/seedcoder-seedcoder-operator", "--tail=80", check=False
            )
        )
        for ns in (NS, ALLOWED, OTHER):
            cluster.kubectl("delete", "namespace", ns, "--wait=false", "--ignore-not-found", check=False)
        cluster.kubectl("delete", "namespace", OPERATOR_NS, "--wait=false", "--ignore-not-found", check=False)


def _gateway_url(path: str) -> str:
    return f"http://{NAME}-gateway.{NS}.svc.cluster.local:8000{path}"


def test_the_operator_build_triton_and_gateway_ran_as_real_pods(product: Product) -> None:
    op = product.ready_pods(OPERATOR_NS, "app.kubernetes.io/component=operator")
    assert len(op) == 1
    assert op[0]["spec"]["nodeName"] == "cpu-0"
    assert op[0]["spec"]["containers"][0]["image"] == default_image("seedcoder").reference
    assert op[0]["spec"]["serviceAccountName"] != "default"
    (job,) = kubectl_json(product.cluster, "get", "jobs", "-n", NS)["items"]
    assert job["status"].get("succeeded") == 1
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == default_image("triton-cpu").reference
    key = job["metadata"]["labels"]["seedcoder.dev/engine-key"]
    repository = product.volumes / "engine-cache" / "engines" / key / "triton" / "seedcoder" / "config.pbtxt"
    assert repository.is_file(), "the build Job wrote the Triton repository into the engine cache claim"
    for component in ("triton", "gateway"):
        (pod,) = product.ready_pods(NS, f"app.kubernetes.io/component={component}")
        assert pod["spec"]["nodeName"] == "cpu-0"
        assert pod["status"]["containerStatuses"][0]["ready"] is True


def test_a_completion_through_the_gateway_service_from_an_allowed_namespace(product: Product) -> None:
    product.client_pod(ALLOWED)
    body = {"model": MODEL, "prompt": "def add(a, b):\n    return", "max_tokens": 4}
    assert product.call(ALLOWED, _gateway_url("/v1/completions"), body) == 200


def test_a_completion_from_the_host_through_kubectl_port_forward(product: Product) -> None:
    port = free_port()
    forward = subprocess.Popen(
        [str(kubectl_path()), f"--kubeconfig={product.cluster.kubeconfig}", "-n", NS, "port-forward",
         f"svc/{NAME}-gateway", f"{port}:8000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert forward.stdout is not None
        assert "Forwarding from" in forward.stdout.readline()
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY, max_retries=0)
        done = client.completions.create(model=MODEL, prompt="import os\n", max_tokens=4, timeout=120)
        assert done.choices[0].text
        assert done.usage is not None
        assert done.usage.completion_tokens > 0
    finally:
        forward.terminate()
        forward.communicate(timeout=10)


def test_network_policies_allow_exactly_the_products_flows(product: Product) -> None:
    product.client_pod(OTHER)
    product.client_pod(NS)  # a pod of the product's own namespace that is not the gateway
    healthz = _gateway_url("/healthz")
    assert product.call(ALLOWED, healthz, timeout=10) == 200
    assert product.call(OTHER, healthz, timeout=5) == 0, (
        "a namespace not in allowedNamespaces reached the gateway"
    )
    assert product.call(NS, healthz, timeout=5) == 0, "a non-gateway pod reached the gateway"
    (triton,) = product.ready_pods(NS, "app.kubernetes.io/component=triton")
    ip = triton["status"]["podIP"]
    for ns in (ALLOWED, NS):
        assert product.call(ns, f"http://{ip}:8002/metrics", timeout=5) == 0, f"{ns} reached Triton's metrics"
        assert product.call(ns, f"http://{ip}:8000/v2/health/ready", timeout=5) == 0, f"{ns} reached Triton"


def test_the_operator_reads_the_gateways_signals_under_the_charts_policies(product: Product) -> None:
    """No Prometheus URL: the operator scrapes the gateway pods itself, across both NetworkPolicies."""
    body = {"model": MODEL, "prompt": "x = ", "max_tokens": 2}
    for _ in range(3):
        assert product.call(ALLOWED, _gateway_url("/v1/completions"), body) == 200

    def measured() -> Any:
        # steady traffic, as in production: the measurement is over the SLO window's scrapes
        assert product.call(ALLOWED, _gateway_url("/v1/completions"), body) == 200
        status = kubectl_json(product.cluster, "get", "scd", NAME, "-n", NS)["status"]
        return (status.get("slo") or {}).get("ttftP95Ms")

    wait_for("a TTFT measured by the operator in status.slo", measured, timeout=120, interval=2)


def _served_by(product: Product) -> dict[str, float]:
    """Requests each ready Triton pod has served (its own counter, read inside the pod)."""
    script = (
        "import urllib.request\n"
        "text = urllib.request.urlopen('http://127.0.0.1:8002/metrics', timeout=5).read().decode()\n"
        "print(sum(float(l.split()[-1]) for l in text.splitlines()"
        " if l.startswith('nv_inference_request_success{') and 'model=\"seedcoder\"' in l))\n"
    )
    out = {}
    for pod in product.ready_pods(NS, "app.kubernetes.io/component=triton"):
        name = pod["metadata"]["name"]
        out[name] = float(product.kubectl("exec", "-n", NS, name, "--", "python3", "-c", script).strip())
    return out


def test_scaling_the_cpu_pool_to_two_replicas_spreads_the_load(product: Product) -> None:
    product.kubectl(
        "patch", "scd", NAME, "-n", NS, "--type=json",
        "-p", json.dumps([{"op": "replace", "path": "/spec/pools/0/minReplicas", "value": 2}]),
    )  # fmt: skip
    wait_for(
        "two ready Triton pods",
        lambda: len(product.ready_pods(NS, "app.kubernetes.io/component=triton")) == 2,
        timeout=240,
        interval=2,
    )
    time.sleep(8)  # the gateway re-resolves the headless Service every few seconds
    before = _served_by(product)
    body = {"model": MODEL, "prompt": "def f(x):\n    return", "max_tokens": 2}
    codes: list[int] = []

    def worker(n: int) -> None:
        for _ in range(n):
            codes.append(product.call(ALLOWED, _gateway_url("/v1/completions"), body))

    threads = [threading.Thread(target=worker, args=(4,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes.count(200) == 16, codes
    after = _served_by(product)
    served = {pod: after[pod] - before.get(pod, 0.0) for pod in after}
    total = sum(served.values())
    assert total >= 16, served
    for n in served.values():
        assert 0.25 <= n / total <= 0.75, f"uneven split {served}"


def test_feedback_survives_the_gateway_pod_that_took_it(product: Product) -> None:
    (gw,) = product.ready_pods(NS, "app.kubernetes.io/component=gateway")
    completion_id = f"cmpl-realnode-{int(time.time())}"
    feedback = {"id": completion_id, "outcome": "accepted", "choice_index": 0}
    assert product.call(ALLOWED, _gateway_url("/v1/feedback"), feedback) in (200, 201, 202)
    product.kubectl("delete", "pod", "-n", NS, gw["metadata"]["name"], "--wait=false")
    records = list(read_feedback(product.volumes / "feedback"))
    assert any(completion_id in json.dumps(r) for r in records), records[-3:]
    wait_for(
        "a new gateway pod",
        lambda: [p for p in product.ready_pods(NS, "app.kubernetes.io/component=gateway")
                 if p["metadata"]["name"] != gw["metadata"]["name"]],
        timeout=120,
    )  # fmt: skip
    records = list(read_feedback(product.volumes / "feedback"))
    assert any(completion_id in json.dumps(r) for r in records)


def test_a_gateway_configuration_change_rolls_the_gateway(product: Product) -> None:
    (before,) = product.ready_pods(NS, "app.kubernetes.io/component=gateway")
    patch = {"spec": {"gateway": {"maxOutputTokens": 32}}}
    product.kubectl("patch", "scd", NAME, "-n", NS, "--type=merge", "-p", json.dumps(patch))

    def rolled() -> list[dict[str, Any]]:
        pods = product.ready_pods(NS, "app.kubernetes.io/component=gateway")
        return [p for p in pods if p["metadata"]["name"] != before["metadata"]["name"]]

    (after,) = wait_for("the gateway rollout", rolled, timeout=180, interval=2)
    key = "seedcoder.dev/config-checksum"
    assert after["metadata"]["annotations"][key] != before["metadata"]["annotations"][key]
    cm = kubectl_json(product.cluster, "get", "configmap", f"{NAME}-gateway", "-n", NS)
    assert '"max_output_tokens": 32' in json.dumps(cm["data"]) or "32" in json.dumps(cm["data"])


def test_killing_the_operator_pod_mid_build_leaves_one_job(product: Product) -> None:
    # The Jobs before the change, listed first: the operator creates the new one at once.
    old_jobs = {
        j["metadata"]["name"] for j in kubectl_json(product.cluster, "get", "jobs", "-n", NS)["items"]
    }
    patch = {"spec": {"engine": {"maxOutputLen": 48}}}
    product.kubectl("patch", "scd", NAME, "-n", NS, "--type=merge", "-p", json.dumps(patch))

    def new_job() -> list[dict[str, Any]]:
        jobs = kubectl_json(product.cluster, "get", "jobs", "-n", NS)["items"]
        return [j for j in jobs if j["metadata"]["name"] not in old_jobs]

    (job,) = wait_for("the new engine's build Job", new_job, timeout=120, interval=0.5)
    (op,) = product.pods(OPERATOR_NS, "app.kubernetes.io/component=operator")
    product.kubectl("delete", "pod", "-n", OPERATOR_NS, op["metadata"]["name"], "--wait=false")
    running_at_kill = not job.get("status", {}).get("succeeded")
    wait_ready(product.cluster, NS, NAME, timeout=420)
    status = kubectl_json(product.cluster, "get", "scd", NAME, "-n", NS)["status"]
    key = job["metadata"]["labels"]["seedcoder.dev/engine-key"]
    assert [e["key"] for e in status["engines"]] == [key]
    jobs = kubectl_json(product.cluster, "get", "jobs", "-n", NS, "-l", f"seedcoder.dev/engine-key={key}")[
        "items"
    ]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    new_op = product.pods(OPERATOR_NS, "app.kubernetes.io/component=operator")
    assert [p["metadata"]["name"] for p in new_op] != [op["metadata"]["name"]]
    print(f"build Job still running when the operator pod was deleted: {running_at_kill}")


def test_a_new_engine_is_scored_on_a_canary_through_the_gateway_before_it_rolls_out(product: Product) -> None:
    """The engine gate for real: canary Triton pod, the gateway pinning each model to its pool, the
    evaluation Job running the FIM harness under its NetworkPolicy, then the verdict and the rollout.

    The new engine serves the same GGUF weights (only ``maxOutputLen`` changes), so greedy answers
    agree and the gate passes; the regression branch is shown on the local control plane.
    """
    cluster = product.cluster
    product.kubectl("create", "secret", "generic", "eval-key", "-n", NS, f"--from-literal=api-key={API_KEY}")
    before = kubectl_json(cluster, "get", "deployment", f"{NAME}-triton-cpu", "-n", NS)
    old_key = before["metadata"]["labels"]["seedcoder.dev/engine-key"]
    gate = {"maxDrop": 0.05, "maxTokens": 12, "limit": 8, "apiKeySecretRef": "eval-key"}
    patch = {"spec": {"engine": {"maxOutputLen": 40, "gate": gate}}}
    product.kubectl("patch", "scd", NAME, "-n", NS, "--type=merge", "-p", json.dumps(patch))

    canary = wait_for(
        "the canary Triton pod ready",
        lambda: product.ready_pods(NS, "app.kubernetes.io/component=triton-canary"),
        timeout=420,
        interval=2,
    )
    new_key = canary[0]["metadata"]["labels"]["seedcoder.dev/engine-key"]
    assert new_key != old_key
    live = kubectl_json(cluster, "get", "deployment", f"{NAME}-triton-cpu", "-n", NS)
    assert live["metadata"]["labels"]["seedcoder.dev/engine-key"] == old_key, "the pool waits for the verdict"

    def rolled() -> dict[str, Any] | None:
        obj = kubectl_json(cluster, "get", "scd", NAME, "-n", NS)
        gate_status = obj["status"]["pools"][0].get("engineGate") or {}
        assert gate_status.get("state") not in ("Regressed", "Failed"), gate_status
        dep = kubectl_json(cluster, "get", "deployment", f"{NAME}-triton-cpu", "-n", NS)
        on_new = dep["metadata"]["labels"]["seedcoder.dev/engine-key"] == new_key
        return obj if on_new and gate_status.get("state") == "Passed" else None

    # The evaluation pod's summary (its termination message) is all the verdict reads: the scores
    # in the status are the harness' own, from the pod that ran in the cluster.
    obj = wait_for("the pool on the new engine", rolled, timeout=600, interval=2)
    verdict = obj["status"]["pools"][0]["engineGate"]
    assert verdict["reason"] == "EngineWithinMargin"
    assert (verdict["serving"], verdict["candidate"]) == (old_key, new_key)
    serving, candidate = verdict["servingScores"]["public"], verdict["candidateScores"]["public"]
    assert serving["tasks"] == candidate["tasks"] == 8
    assert abs(candidate["editSimilarity"] - serving["editSimilarity"]) <= 0.05
    print(f"engine gate on the real node: serving {serving}, candidate {candidate}")
    wait_ready(cluster, NS, NAME, timeout=420)
    wait_for("the canary gone", lambda: not product.pods(NS, "app.kubernetes.io/component=triton-canary"),
             timeout=180, interval=2)  # fmt: skip
