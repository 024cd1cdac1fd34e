"""Run the real operator against the local control plane, as its own least-privilege ServiceAccount.

Why a subprocess: it is exactly what the container runs (``seedcoder operator``),
it can be killed and restarted mid-build, and its memory can be measured. The
ServiceAccount gets a Role built from the chart's one RBAC rules file and
nothing else, so a missing permission fails the tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.volumes import prebound_claim

REPO = Path(__file__).resolve().parents[2]
RBAC_RULES = REPO / "charts" / "seedcoder-operator" / "files" / "rbac-rules.yaml"
SA = "seedcoder-operator"
FORBIDDEN = re.compile(r"\b403\b|forbidden", re.IGNORECASE)
LOG_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
"""A log line's timestamp: its milliseconds may read 403."""
T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60, interval: float = 0.5) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def kubectl_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json").stdout)


def apply(cluster: Cluster, *objects: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(list(objects)))


def install_rbac(cluster: Cluster, namespace: str) -> None:
    """ServiceAccount + Role (rules from the chart's file) + RoleBinding in ``namespace``."""
    rules = yaml.safe_load(RBAC_RULES.read_text())
    apply(
        cluster,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": SA, "namespace": namespace}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": SA, "namespace": namespace},
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": SA, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SA},
            "subjects": [{"kind": "ServiceAccount", "name": SA, "namespace": namespace}],
        },
    )


def install_volumes(
    cluster: Cluster, namespace: str, claims: tuple[str, ...] = ("models", "engine-cache")
) -> None:
    """Pre-bound PersistentVolumes and claims, so pods that mount them can be scheduled."""
    for claim in claims:
        apply(cluster, *prebound_claim(namespace, claim))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OperatorProcess:
    """``seedcoder operator --namespace NS`` with the ServiceAccount's token.

    ``service_account`` (in ``sa_namespace``, default: the watched namespace) is whose
    token it runs with: the harness' own (:func:`install_rbac`) or, e.g., the Helm chart's.
    """

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        workdir: Path,
        *,
        service_account: str = SA,
        sa_namespace: str | None = None,
        **settings: str,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.service_account = service_account
        self.sa_namespace = sa_namespace or namespace
        self.workdir = workdir
        self.log = workdir / "operator.log"
        self.metrics_port = free_port()
        self.probe_port = free_port()
        self.settings = settings
        self.proc: subprocess.Popen[bytes] | None = None
        token = cluster.mint_token(self.sa_namespace, service_account)
        self.kubeconfig = cluster.kubeconfig_for_token(token, workdir / "operator.kubeconfig", namespace)

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.sa_namespace}:{self.service_account}"

    def operator_env(self) -> dict[str, str]:
        """The operator's ``SEEDCODER_*`` settings (extra ``SEEDCODER_*`` ones from ``settings``)."""
        env = {
            "SEEDCODER_METRICS_PORT": str(self.metrics_port),
            "SEEDCODER_PROBE_PORT": str(self.probe_port),
            "SEEDCODER_BIND_ADDRESS": "127.0.0.1",
            "SEEDCODER_RESYNC_SECONDS": self.settings.get("resync", "5"),
            "SEEDCODER_BUILD_RETRY_SECONDS": self.settings.get("build_retry", "600"),
            "SEEDCODER_BUILD_BACKOFF_LIMIT": self.settings.get("backoff_limit", "3"),
            "SEEDCODER_GATEWAY_IMAGE": "registry.example/seedcoder:test",
        }
        env.update({k: v for k, v in self.settings.items() if k.startswith("SEEDCODER_")})
        return env

    def command(self, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The process to start and its environment: ``seedcoder operator`` with this interpreter."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("SEEDCODER_")}
        full.update(env, KUBECONFIG=str(self.kubeconfig))
        return [sys.executable, "-m", "seedcoder.cli", "operator", "--namespace", self.namespace], full

    def start(self) -> OperatorProcess:
        argv, env = self.command(self.operator_env())
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO,
                start_new_session=True,
            )
        wait_for("the operator's liveness endpoint", self._alive, timeout=60)
        return self

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"operator exited with {self.proc.returncode}:\n{self.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.probe_port), timeout=1):
                return True
        except OSError:
            return False

    def metrics(self) -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            text: str = r.read().decode()
            return text

    def peak_rss(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def forbidden(self) -> list[str]:
        """Log lines that report a refusal by the API server (403 / Forbidden): a missing RBAC rule."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return [line for line in text.splitlines() if FORBIDDEN.search(LOG_TIME.sub("", line))]

    def log_tail(self, lines: int = 80) -> str:
        return (
            "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""
        )


def audit_writes(cluster: Cluster, user: str, since_offset: int = 0) -> list[dict[str, Any]]:
    """Write requests by ``user`` in the audit log after byte ``since_offset``."""
    out = []
    with cluster.audit_log.open("rb") as f:
        f.seek(since_offset)
        for line in f:
            event = json.loads(line)
            if event.get("user", {}).get("username") == user and event.get("stage") == "ResponseComplete":
                out.append(event)
    return out


def audit_offset(cluster: Cluster) -> int:
    return cluster.audit_log.stat().st_size
