"""A running local control plane, as its users see it.

Why: tests, ``make cluster-up`` and the demo need the same few things from the
cluster: its admin kubeconfig, real kubectl, ServiceAccount tokens (to test the
operator's RBAC), the audit log (to count writes) and a way to stop it. This
class is that handle; ``start.start_cluster`` creates one, ``Cluster.attach``
finds a detached one again from its workdir.
"""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import kubeconfig as kc
from . import procs, realnode
from .components import Layout
from .pki import Pki
from .tools import kubectl_path

log = logging.getLogger("seedcoder_dev.devcluster")

# Reverse start order: the API's clients first, etcd last.
_STOP_ORDER = ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")


class KubectlError(subprocess.CalledProcessError):
    """kubectl failed; unlike its base class, the message includes kubectl's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\n{self.stderr or ''}".rstrip()


class Cluster:
    """Handle on a started control plane (see the module docstring)."""

    def __init__(
        self, layout: Layout, server: str, *, timings: dict[str, float] | None = None, detached: bool = False
    ) -> None:
        self.layout = layout
        self.server = server
        self.timings: dict[str, float] = dict(timings or {})
        self.detached = detached

    @property
    def workdir(self) -> Path:
        return self.layout.workdir

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig("admin")

    @property
    def logs(self) -> Path:
        return self.layout.logs

    @property
    def audit_log(self) -> Path:
        return self.layout.audit_log

    @property
    def pki(self) -> Pki:
        return Pki(self.layout.pki)

    # -- clients -------------------------------------------------------------------------

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run the real kubectl as the cluster admin; raise ``KubectlError`` on failure when ``check``."""
        argv = [str(kubectl_path()), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, argv, result.stdout, result.stderr)
        return result

    def api_get(self, path: str) -> Any:
        """``GET`` an API path as the admin and decode the JSON (for cheap polling)."""
        context = ssl.create_default_context(cafile=str(self.pki.ca_crt))
        context.load_cert_chain(str(self.pki.client_crt("admin")), str(self.pki.client_key("admin")))
        with urllib.request.urlopen(f"{self.server}{path}", timeout=5, context=context) as response:  # noqa: S310
            return json.loads(response.read())

    def api_exists(self, path: str) -> bool:
        """True when ``GET path`` succeeds as the admin (False on 404 or any connection error)."""
        try:
            self.api_get(path)
        except OSError:
            return False
        return True

    def mint_token(self, namespace: str, service_account: str, seconds: int = 3600) -> str:
        """A bound token for ``namespace/service_account`` from the TokenRequest API."""
        result = self.kubectl("create", "token", service_account, "-n", namespace, f"--duration={seconds}s")
        return result.stdout.strip()

    def kubeconfig_for_token(self, token: str, path: Path, namespace: str | None = None) -> Path:
        """Write a kubeconfig that authenticates with ``token`` (e.g. an operator's ServiceAccount)."""
        return kc.write_token_kubeconfig(
            path,
            server=self.server,
            ca_crt=self.pki.ca_crt,
            token=token,
            context="token",
            namespace=namespace,
        )

    # -- processes -----------------------------------------------------------------------

    def processes(self) -> list[procs.ProcRecord]:
        return procs.read_records(self.layout.pids)

    def running(self) -> list[procs.ProcRecord]:
        return [r for r in self.processes() if procs.is_alive(r)]

    def memory(self) -> dict[str, dict[str, int]]:
        """Resident and peak resident memory (bytes) of each running component."""
        usage: dict[str, dict[str, int]] = {}
        for record in self.running():
            fields: dict[str, int] = {}
            try:
                for line in Path(f"/proc/{record.pid}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in {"VmRSS", "VmHWM"}:
                        fields[key] = int(value.split()[0]) * 1024
            except OSError:
                continue
            usage[record.name] = {"rss": fields.get("VmRSS", 0), "peak_rss": fields.get("VmHWM", 0)}
        return usage

    def component_logs(self) -> dict[str, Path]:
        return {r.name: r.log for r in self.processes()}

    def real_node(self) -> realnode.RealNode | None:
        """The running real node ``cpu-0`` (None when the cluster has a simulated one)."""
        return realnode.attach(self.layout)

    def load_images(self, archives: dict[str, Path] | None = None) -> list[str]:
        """Import image archives (reference -> OCI/docker archive) into the real node.

        Without ``archives``, imports everything listed in ``$SEEDCODER_CACHE/images/index.json``
        (the start already did that once). Returns the references imported.
        """
        node = self.real_node()
        if node is None:
            raise RuntimeError("this cluster has no running real node to load images into")
        from .images import product_images

        return node.load_images(product_images() if archives is None else archives)

    def stop_real_node(self) -> None:
        """Stop only the real node and remove its footprint; the control plane keeps running."""
        realnode.stop(self.layout)

    def start_real_node(self, timeout: float = 120.0) -> realnode.RealNode:
        """Start the real node again (after ``stop_real_node`` or a crash) and wait until it is Ready."""
        started: list[procs.ProcRecord] = []

        def run(name: str, argv: list[str], env: dict[str, str] | None) -> procs.ProcRecord:
            record = procs.start(
                name,
                argv,
                logs=self.logs,
                pid_dir=self.layout.pids,
                env=env,
                die_with_parent=not self.detached,
            )
            started.append(record)
            return record

        def wait(what: str, check_ok: Callable[[], bool]) -> None:
            procs.wait_until(check_ok, what=what, timeout=timeout, watch=started)

        try:
            return realnode.start(self.layout, self.pki, run, wait, self.api_get, self.server)
        except BaseException:
            realnode.stop(self.layout)
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the real node (removing its host footprint), then the rest (kwok first, etcd last)."""
        realnode.stop(self.layout)
        records = {r.name: r for r in self.processes()}
        order = [n for n in _STOP_ORDER if n in records] + [n for n in records if n not in _STOP_ORDER]
        for name in order:
            procs.stop(records[name], self.layout.pids, timeout=timeout)
            log.info("Stopped %s (pid %d)", name, records[name].pid)

    # -- persistence ---------------------------------------------------------------------

    def save(self) -> None:
        self.layout.state.write_text(
            json.dumps({"server": self.server, "timings": self.timings, "detached": self.detached}, indent=2)
        )

    @classmethod
    def attach(cls, workdir: Path) -> Cluster | None:
        """The cluster started (detached) in ``workdir``, or None when there is none."""
        layout = Layout(workdir)
        if not layout.state.is_file():
            return None
        state = json.loads(layout.state.read_text())
        return cls(
            layout,
            str(state["server"]),
            timings=dict(state.get("timings", {})),
            detached=bool(state.get("detached", False)),
        )
