"""The local stack the demo runs: control plane, chart, operator, Triton, gateway, Prometheus.

Why one class: ``make demo`` starts these in order and must tear every one of them
down again, on success, on failure and on Ctrl-C; ``make up`` keeps the same
stack running under a supervisor until ``make down``. Each ``start_*`` method
does one thing and records what it started, and ``stop`` undoes them in reverse.

The control plane is real but its nodes are simulated (KWOK): the Triton and
gateway pods the operator creates there become Ready without running. The data
plane runs here instead, for real: ``tritonserver`` serving the llama.cpp
runtime, and the gateway configured from the ConfigMap the operator wrote.
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

from seedcoder.devcluster import Cluster, start_cluster
from seedcoder.devcluster.tools import helm_path
from seedcoder.devcluster.volumes import prebound_claim
from seedcoder.localstack.prometheus import PrometheusServer, ScrapeTarget
from seedcoder.localstack.triton import TritonServer, free_port, gguf_model_path, write_llamacpp_repository

T = TypeVar("T")

OPERATOR_NAMESPACE = "seedcoder-system"
DEMO_NAMESPACE = "demo"
RELEASE = "seedcoder-operator"
API_KEY_SECRET = "seedcoder-api-keys"  # noqa: S105 - a Secret name, not a secret
VOLUME_CLAIMS = ("models", "seedcoder-engine-cache")


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
    operator: subprocess.Popen[bytes] | None = None
    operator_metrics_port: int = 0
    triton: TritonServer | None = None
    gateway: subprocess.Popen[bytes] | None = None
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
        """``helm install`` the operator's chart, watching the demo namespace only."""
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": DEMO_NAMESPACE}})
        helm = [str(helm_path()), "--kubeconfig", str(self.kubeconfig)]
        proc = subprocess.run(
            [
                *helm,
                "install",
                RELEASE,
                str(self.repo / "charts" / "seedcoder-operator"),
                "--namespace",
                OPERATOR_NAMESPACE,
                "--create-namespace",
                "--set",
                f"operator.watchNamespaces={{{DEMO_NAMESPACE}}}",
                "--wait",
                "--timeout",
                "120s",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DemoError(f"helm install failed:\n{proc.stderr.strip()}")

    def prepare_namespace(self) -> None:
        """What a platform team provides: volumes for weights and engines, and an API key."""
        for claim in VOLUME_CLAIMS:
            self.apply(*prebound_claim(DEMO_NAMESPACE, claim, size="200Gi"))
        self.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": API_KEY_SECRET, "namespace": DEMO_NAMESPACE},
                "type": "Opaque",
                "stringData": {"demo": self.api_key},
            }
        )

    def operator_service_account(self) -> str:
        accounts = self.kubectl_json("-n", OPERATOR_NAMESPACE, "get", "serviceaccounts")["items"]
        names = [a["metadata"]["name"] for a in accounts if a["metadata"]["name"] != "default"]
        if len(names) != 1:
            raise DemoError(f"expected one ServiceAccount from the chart, found {names}")
        return str(names[0])

    def start_prometheus(self) -> PrometheusServer:
        """A real Prometheus scraping the gateway, as a PodMonitor would in a cluster."""
        targets = [
            ScrapeTarget(
                job="seedcoder-gateway",
                address=f"127.0.0.1:{self.gateway_port}",
                labels={"namespace": DEMO_NAMESPACE},
            )
        ]
        self.prometheus = PrometheusServer(self.workdir / "prometheus", targets, scrape_interval="1s")
        self.prometheus.start()
        self._undo.append(self.prometheus.stop)
        return self.prometheus

    def start_operator(self, prometheus_url: str) -> None:
        """The real operator, with the token of the chart's ServiceAccount (not admin)."""
        assert self.cluster is not None
        sa = self.operator_service_account()
        token = self.cluster.mint_token(OPERATOR_NAMESPACE, sa)
        kubeconfig = self.cluster.kubeconfig_for_token(token, self.workdir / "operator.kubeconfig")
        self.operator_metrics_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SEEDCODER_")}
        env.update(
            KUBECONFIG=str(kubeconfig),
            SEEDCODER_PROMETHEUS_URL=prometheus_url,
            SEEDCODER_RESYNC_SECONDS="5",
            SEEDCODER_METRICS_PORT=str(self.operator_metrics_port),
            SEEDCODER_PROBE_PORT=str(free_port()),
            SEEDCODER_BIND_ADDRESS="127.0.0.1",
        )
        log = (self.workdir / "operator.log").open("ab")
        self.operator = subprocess.Popen(
            [sys.executable, "-m", "seedcoder.cli", "operator", "--namespace", DEMO_NAMESPACE],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        log.close()
        self._undo.append(lambda: _terminate(self.operator))

    def operator_alive(self) -> None:
        if self.operator is not None and self.operator.poll() is not None:
            raise DemoError(
                f"the operator exited with {self.operator.returncode}:\n{self.log_tail('operator')}"
            )

    # ------------------------------------------------------------ data plane
    def start_triton(self) -> TritonServer:
        model = gguf_model_path()
        repository = write_llamacpp_repository(self.workdir / "triton-repository", model)
        self.triton = TritonServer()
        self.triton.start(repository, self.workdir / "triton")
        self._undo.append(self.triton.stop)
        self.triton.wait_ready(timeout=300, models=("seedcoder",))
        return self.triton

    def gateway_config(self, instance: str) -> dict[str, Any]:
        """The operator's gateway.json for ``instance``, pointed at this machine's Triton."""
        assert self.triton is not None
        cm = self.kubectl_json("-n", DEMO_NAMESPACE, "get", "configmap", f"{instance}-gateway")
        config: dict[str, Any] = json.loads(cm["data"]["gateway.json"])
        for pool in config["pools"]:
            pool["grpc_url"] = self.triton.grpc_url
        keys = self.workdir / "api-keys"
        keys.mkdir(parents=True, exist_ok=True)
        (keys / "demo").write_text(self.api_key + "\n")
        config["api_keys_dir"] = str(keys)
        config["feedback_dir"] = str(self.workdir / "feedback")
        return config

    def start_gateway(self, config: dict[str, Any]) -> None:
        path = self.workdir / "gateway.json"
        path.write_text(json.dumps(config, indent=2))
        log = (self.workdir / "gateway.log").open("ab")
        self.gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "seedcoder.cli",
                "gateway",
                "--config",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.gateway_port),
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self._undo.append(lambda: _terminate(self.gateway))
        wait_for("the gateway's /readyz", lambda: _http_status(self.gateway_url + "/readyz") == 200, 60)

    # ------------------------------------------------------------ teardown
    def log_tail(self, name: str, lines: int = 30) -> str:
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


def _terminate(proc: subprocess.Popen[bytes] | None) -> None:
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
