"""The local stack the demo runs: control plane with a real node, chart, the product's pods, Prometheus.

Why one class: ``make demo`` starts these in order and must tear every one of them
down again, on success, on failure and on Ctrl-C; ``make up`` keeps the same
stack running under a supervisor until ``make down``. Each ``start_*`` method
does one thing and records what it started, and ``stop`` undoes them in reverse.

What is real and what is simulated: the control plane and the CPU node ``cpu-0``
(kubelet, containerd, CNI, kube-proxy, CoreDNS, NetworkPolicies) are real; the
operator runs there as the chart's Deployment from the product's own image, and
the CPU resource's build Job, Triton and gateway run there as pods. The H100 and
A100 nodes are simulated (KWOK): the GPU resource's build Jobs and pods become
Ready there without running. The host reaches the gateway's Service through
``kubectl port-forward``; a Prometheus here scrapes the gateway through it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from seedcoder_dev.demo import incluster
from seedcoder_dev.devcluster import Cluster, start_cluster
from seedcoder_dev.devcluster.nodes import SIMULATED_NAMESPACE
from seedcoder_dev.devcluster.tools import helm_path, kubectl_path
from seedcoder_dev.devcluster.volumes import prebound_claim
from seedcoder_dev.localstack.prometheus import PrometheusServer, ScrapeTarget
from seedcoder_dev.localstack.triton import free_port, gguf_model_path

T = TypeVar("T")

OPERATOR_NAMESPACE = "seedcoder-system"
DEMO_NAMESPACE = "demo"
GPU_NAMESPACE = "demo-gpu"
"""The simulated GPU resource lives apart: its namespace keeps every pod on simulated nodes."""
RELEASE = "seedcoder-operator"
API_KEY_SECRET = "seedcoder-api-keys"  # noqa: S105 - a Secret name, not a secret
VOLUME_CLAIMS = ("models", "seedcoder-engine-cache", "feedback")
CPU_RESOURCE = "completions-cpu"
CLIENT_NAMESPACE = "dev-tools"
"""The namespace the CPU resource lets call its gateway (its NetworkPolicy admits it)."""


class DemoError(RuntimeError):
    """A step of the demo failed; the message says what to do."""


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something other than None or False."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").exists() and (parent / "charts").is_dir():
            return parent
    raise DemoError("run the demo from a checkout of the project (no charts/ folder found)")


@dataclass
class Stack:
    """Everything the demo started, in start order."""

    workdir: Path
    repo: Path = field(default_factory=repo_root)
    cluster: Cluster | None = None
    forward: subprocess.Popen[str] | None = None
    gateway_port: int = field(default_factory=free_port)
    prometheus: PrometheusServer | None = None
    api_key: str = field(default_factory=lambda: "sk-demo-" + secrets.token_hex(16))
    _undo: list[Callable[[], None]] = field(default_factory=list)

    # ------------------------------------------------------------ addresses
    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def kubeconfig(self) -> Path:
        assert self.cluster is not None
        return self.cluster.kubeconfig

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        assert self.cluster is not None
        return self.cluster.kubectl(*args, input=input, check=check).stdout

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))

    def apply(self, *objects: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objects)))

    # ------------------------------------------------------------ control plane
    def start_cluster(self) -> Cluster:
        self.cluster = start_cluster(self.workdir / "cluster")
        self._undo.append(self.cluster.stop)
        return self.cluster

    def install_chart(self) -> None:
        """``helm install`` the chart with the product's images; the operator runs as its Deployment."""
        assert self.cluster is not None
        try:
            incluster.wait_for_images(self.cluster, incluster.product_images(), timeout=300)
        except RuntimeError as exc:
            raise DemoError(str(exc)) from None
        for ns in (DEMO_NAMESPACE, CLIENT_NAMESPACE):
            self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": GPU_NAMESPACE, "annotations": dict(SIMULATED_NAMESPACE)},
            }
        )
        try:
            incluster.install_chart(
                self.cluster,
                helm_path(),
                namespace=OPERATOR_NAMESPACE,
                release=RELEASE,
                watch=[DEMO_NAMESPACE, GPU_NAMESPACE],
                sets=("--wait", "--timeout", "180s"),
            )
        except RuntimeError as exc:
            raise DemoError(str(exc)) from None

    def prepare_namespace(self) -> None:
        """What a platform team provides: volumes for weights, engines and feedback, and an API key."""
        volumes = self.workdir / "volumes"
        incluster.stage_model(volumes / "models", gguf_model_path())
        for claim in VOLUME_CLAIMS:
            self.apply(*incluster.host_claim(DEMO_NAMESPACE, claim, volumes / claim, size="200Gi"))
            self.apply(*prebound_claim(GPU_NAMESPACE, claim, size="200Gi"))
        for ns in (DEMO_NAMESPACE, GPU_NAMESPACE):
            self.apply(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": API_KEY_SECRET, "namespace": ns},
                    "type": "Opaque",
                    "stringData": {"demo": self.api_key},
                }
            )

    def cpu_resource(self) -> dict[str, Any]:
        """The CPU resource that runs for real: a tight SLO the CPU cannot meet, so the policy scales it."""
        return incluster.cpu_resource(
            CPU_RESOURCE,
            allowed_namespaces=[CLIENT_NAMESPACE],
            api_key_secret=API_KEY_SECRET,
            cache_claim="seedcoder-engine-cache",
            ttft_p95_ms=300,
            autoscaling={"mode": "slo", "intervalSeconds": 5},
        )

    def operator_pod(self) -> dict[str, Any]:
        pods = self.kubectl_json(
            "-n", OPERATOR_NAMESPACE, "get", "pods", "-l", "app.kubernetes.io/component=operator"
        )["items"]
        if len(pods) != 1:
            raise DemoError(f"expected one operator pod, found {len(pods)}")
        pod: dict[str, Any] = pods[0]
        return pod

    def operator_service_account(self) -> str:
        return str(self.operator_pod()["spec"]["serviceAccountName"])

    def operator_alive(self) -> None:
        pod = self.operator_pod()
        for c in pod.get("status", {}).get("containerStatuses", []):
            if c.get("restartCount", 0) > 2:
                raise DemoError(f"the operator pod keeps restarting:\n{self.log_tail('operator')}")

    # ------------------------------------------------------------ data plane
    def client_call(self, instance: str, body: dict[str, Any]) -> tuple[int, str]:
        """A completion from a pod in the client namespace through the gateway's Service."""
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "ide", "namespace": CLIENT_NAMESPACE},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                "containers": [
                    {
                        "name": "ide",
                        "image": incluster.product_images()[0],
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["python3", "-c", "import time; time.sleep(600)"],
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        }
        self.apply(pod)
        self.kubectl("-n", CLIENT_NAMESPACE, "wait", "--for=condition=Ready", "--timeout=120s", "pod/ide")
        url = f"http://{instance}-gateway.{DEMO_NAMESPACE}.svc.cluster.local:8000/v1/completions"
        script = (
            "import httpx, json\n"
            f"r = httpx.post({url!r}, json={body!r}, timeout=120, "
            f"headers={{'Authorization': 'Bearer {self.api_key}'}})\n"
            "print(r.status_code)\n"
            "print(json.dumps(r.json()['choices'][0]['text']) if r.is_success else r.text)\n"
        )
        out = self.kubectl("-n", CLIENT_NAMESPACE, "exec", "ide", "--", "python3", "-c", script).split(
            "\n", 1
        )
        return int(out[0]), out[1].strip() if len(out) > 1 else ""

    def start_port_forward(self, instance: str) -> None:
        """``kubectl port-forward`` to the gateway's Service: the host's way in (no public Service)."""
        argv = [
            str(kubectl_path()), f"--kubeconfig={self.kubeconfig}", "-n", DEMO_NAMESPACE, "port-forward",
            f"svc/{instance}-gateway", f"{self.gateway_port}:8000",
        ]  # fmt: skip
        log = (self.workdir / "port-forward.log").open("a")
        self.forward = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        log.close()
        self._undo.append(lambda: _terminate(self.forward))
        wait_for(
            "the gateway through kubectl port-forward",
            lambda: _http_status(self.gateway_url + "/readyz") == 200,
            60,
        )

    def start_prometheus(self) -> PrometheusServer:
        """A real Prometheus scraping the gateway (through the port-forward), as a PodMonitor would."""
        targets = [
            ScrapeTarget(
                job="seedcoder-gateway",
                address=f"127.0.0.1:{self.gateway_port}",
                # As the PodMonitor labels a resource's series: the autoscaler selects by both.
                labels={"namespace": DEMO_NAMESPACE, "deployment": CPU_RESOURCE},
            )
        ]
        self.prometheus = PrometheusServer(self.workdir / "prometheus", targets, scrape_interval="1s")
        self.prometheus.start()
        self._undo.append(self.prometheus.stop)
        return self.prometheus

    # ------------------------------------------------------------ teardown
    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last lines of the operator's or the gateway's pod log (or a local log file)."""
        if self.cluster is not None and name in ("operator", "gateway"):
            ns = OPERATOR_NAMESPACE if name == "operator" else DEMO_NAMESPACE
            selector = f"app.kubernetes.io/component={name}"
            return self.kubectl("logs", "-n", ns, "-l", selector, f"--tail={lines}", check=False)
        path = self.workdir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Stop everything started, newest first; never raises."""
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception as exc:  # teardown goes on whatever one part did
                print(f"    (teardown: {exc})", file=sys.stderr)


def _terminate(proc: subprocess.Popen[bytes] | subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _http_status(url: str) -> int:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback only
            status: int = resp.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0
