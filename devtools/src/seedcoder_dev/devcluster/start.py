"""Bringing the local control plane up, in the order its parts depend on.

Why the order matters: the apiserver needs etcd; the CRDs in
``manifests/crds/`` are applied *before* kube-controller-manager starts so its
garbage collector discovers them at once (it rediscovers only every 30 s);
the simulated nodes are created with their GPU capacity before KWOK starts, so
KWOK never races a status update; the real node's containerd starts (and its
images are imported) while the apiserver comes up, its kubelet registers into
the ``cpu-0`` Node object created beforehand (fixed pod CIDR, pool labels);
and the function returns only when every node is Ready without the not-ready
taint, the controllers are working (the ``default`` ServiceAccount exists) and
cluster DNS answers, so a test can schedule pods right away.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from . import components as comp
from . import dnsaddon, nodes, pki, procs, realnode, stages
from . import kubeconfig as kc
from .cluster import Cluster
from .tools import MissingToolError, missing_control_plane_binaries, node_images, stages_dir

log = logging.getLogger("seedcoder_dev.devcluster")

MIN_FREE_DISK = 1 << 30


class PortInUseError(RuntimeError):
    """A port the control plane needs is taken by another process."""


class LowDiskError(RuntimeError):
    """Too little free disk for etcd and the logs."""


def repo_root() -> Path:
    """The checkout this package lives in (editable install), else the working directory."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "operator").is_dir():
            return parent
    return Path.cwd()


DEFAULT_CRDS = repo_root() / "manifests" / "crds"


def _preflight(workdir: Path, ports: comp.Ports) -> None:
    missing = missing_control_plane_binaries()
    if missing:
        raise MissingToolError(
            f"control-plane binaries missing ({', '.join(missing)}): run `make testbins` "
            "(builds them once into the cache; tens of minutes the first time)"
        )
    free = shutil.disk_usage(workdir).free
    if free < MIN_FREE_DISK:
        raise LowDiskError(
            f"only {free >> 20} MiB free under {workdir}; the local control plane needs at least "
            f"{MIN_FREE_DISK >> 20} MiB for etcd and logs"
        )
    for component, port in ports.by_component().items():
        if procs.port_in_use(port):
            raise PortInUseError(
                f"port 127.0.0.1:{port} for {component} is already in use: stop what listens there "
                "(`make cluster-down` if it is an earlier cluster) or choose another port"
            )


def _ports(apiserver_port: int | None) -> comp.Ports:
    free = procs.free_ports(5)
    return comp.Ports(free[0], free[1], apiserver_port or free[2], free[3], free[4])


def real_node_default() -> bool:
    """The real ``cpu-0`` unless ``SEEDCODER_REAL_NODE=0`` asks for a simulated one."""
    return os.environ.get("SEEDCODER_REAL_NODE", "1").strip().lower() not in {"0", "false", "no", "off"}


def _deployment_available(cluster: Cluster, namespace: str, name: str) -> bool:
    try:
        status = cluster.api_get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}").get("status", {})
    except OSError:
        return False
    return int(status.get("availableReplicas") or 0) >= 1


def _nodes_ready(cluster: Cluster) -> bool:
    items = cluster.api_get("/api/v1/nodes")["items"]
    ready = set()
    for node in items:
        conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
        taints = {t["key"] for t in node.get("spec", {}).get("taints", []) or []}
        if conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints:
            ready.add(node["metadata"]["name"])
    return ready >= set(nodes.node_names())


def _apply_crds(cluster: Cluster, folder: Path) -> None:
    files = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
    if not files:
        return
    names: list[str] = []
    for file in files:
        out = cluster.kubectl(
            "apply", "--server-side", "--field-manager=devcluster", "-f", str(file), "-o", "name"
        )
        names += [n for n in out.stdout.split() if n.startswith("customresourcedefinition")]
    if names:
        cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
        log.info("Established %d CustomResourceDefinition(s) from %s", len(names), folder)


def start_cluster(
    workdir: Path,
    *,
    apply_crds_from: Path | None = DEFAULT_CRDS,
    detach: bool = False,
    apiserver_port: int | None = None,
    timeout: float = 120.0,
    real_node: bool | None = None,
) -> Cluster:
    """Start etcd, kube-apiserver, KCM, kube-scheduler, KWOK and the real node; block until Ready.

    ``detach=True`` lets the processes outlive this Python process (``make cluster-up``);
    otherwise they get SIGKILL when it dies. On any failure, whatever was started is stopped.
    ``real_node`` (default: ``real_node_default()``) runs ``cpu-0`` as a real kubelet with
    containerd, kube-proxy, kube-router and CoreDNS; False keeps it simulated by KWOK.
    """
    if real_node is None:
        real_node = real_node_default()
    t0 = time.monotonic()
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    layout = comp.Layout(workdir)
    ports = _ports(apiserver_port)
    _preflight(workdir, ports)
    if real_node:
        realnode.preflight()
    for stale in (layout.etcd_data, layout.pids, layout.kwok_home):
        shutil.rmtree(stale, ignore_errors=True)
    layout.logs.mkdir(parents=True, exist_ok=True)

    keys = pki.generate(layout.pki, comp.IDENTITIES, comp.SERVING)
    server = f"https://127.0.0.1:{ports.apiserver}"
    for identity in comp.IDENTITIES:
        kc.write_cert_kubeconfig(
            layout.kubeconfig(identity),
            server=server,
            ca_crt=keys.ca_crt,
            client_crt=keys.client_crt(identity),
            client_key=keys.client_key(identity),
            context=identity,
        )
    layout.audit_policy.write_text(comp.AUDIT_POLICY)
    stages.write(stages_dir(), layout.stages)

    cluster = Cluster(layout, server, detached=detach)
    started: list[procs.ProcRecord] = []

    def run(name: str, argv: list[str], env: dict[str, str] | None = None) -> procs.ProcRecord:
        record = procs.start(
            name, argv, logs=layout.logs, pid_dir=layout.pids, env=env, die_with_parent=not detach
        )
        started.append(record)
        return record

    def step(what: str, check_ok: Callable[[], bool], budget: float = timeout) -> None:
        took = procs.wait_until(check_ok, what=what, timeout=budget, watch=started)
        cluster.timings[what] = round(took, 2)

    def run_node(name: str, argv: list[str], env: dict[str, str] | None) -> procs.ProcRecord:
        return run(name, argv, env)

    def wait_node(what: str, check_ok: Callable[[], bool]) -> None:
        step(what, check_ok)

    node: realnode.RealNode | None = None
    try:
        run("etcd", comp.etcd(layout, ports))
        if real_node:
            healthz, metrics = procs.free_ports(2)
            realnode.prepare(layout, keys, (healthz, metrics))
            node = realnode.start_runtime(layout, run_node, wait_node)
            product_images = realnode.ProductImages(node)
        step("etcd healthy", lambda: procs.http_ok(f"http://127.0.0.1:{ports.etcd_client}/health"))
        run("kube-apiserver", comp.apiserver(layout, ports, keys))
        admin = (keys.client_crt("admin"), keys.client_key("admin"))
        step("kube-apiserver ready", lambda: procs.http_ok(f"{server}/readyz", ca=keys.ca_crt, cert=admin))
        log.info("Started kube-apiserver at %s", server)

        if apply_crds_from is not None and apply_crds_from.is_dir():
            _apply_crds(cluster, apply_crds_from)
        cluster.kubectl(
            "create",
            "-f",
            "-",
            input=json.dumps(
                {"apiVersion": "v1", "kind": "List", "items": nodes.manifests(real_cpu_node=real_node)}
            ),
        )

        if node is not None:
            realnode.start_kubelet(layout, node, run_node)
            coredns_image = node_images()["coredns"].ref
            cluster.kubectl(
                "apply",
                "--server-side",
                "--field-manager=devcluster",
                "-f",
                "-",
                input=json.dumps(
                    {
                        "apiVersion": "v1",
                        "kind": "List",
                        "items": [realnode.kubernetes_endpoints(), *dnsaddon.manifests(coredns_image)],
                    }
                ),
            )

        run("kube-controller-manager", comp.controller_manager(layout, ports, keys))
        run("kube-scheduler", comp.scheduler(layout, ports))
        step(
            "kube-controller-manager healthy",
            lambda: procs.http_ok(f"https://127.0.0.1:{ports.controller_manager}/healthz"),
        )
        step("kube-scheduler healthy", lambda: procs.http_ok(f"https://127.0.0.1:{ports.scheduler}/healthz"))
        run("kwok", comp.kwok(layout), env={"KWOK_WORKDIR": str(layout.kwok_home)})
        step("nodes ready", lambda: _nodes_ready(cluster))
        step(
            "default ServiceAccount",
            lambda: cluster.api_exists("/api/v1/namespaces/default/serviceaccounts/default"),
        )
        if node is not None:
            realnode.start_network(layout, node, run_node, server, wait_node)
            step("kube-proxy and kube-router rules", realnode.network_ready)
            step("product images imported", product_images.join)
            step(
                "cluster DNS ready", lambda: _deployment_available(cluster, dnsaddon.NAMESPACE, dnsaddon.NAME)
            )
    except BaseException:
        cluster.stop()
        raise
    cluster.timings["total"] = round(time.monotonic() - t0, 2)
    cluster.save()
    log.info(
        "Started the local control plane in %.1fs: %s (kubeconfig %s)",
        cluster.timings["total"],
        server,
        cluster.kubeconfig,
    )
    return cluster
