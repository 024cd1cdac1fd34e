"""The local cluster's real CPU node ``cpu-0``: kubelet, containerd, CNI, kube-proxy, kube-router.

Why: KWOK only pretends to run pods. A real node lets tests run real
containers (``kubectl logs``/``exec``/``port-forward``, Services through
kube-proxy, names through CoreDNS, NetworkPolicies enforced by kube-router)
next to the simulated GPU nodes, without Docker and without changing the host:

* containerd and the kubelet run in one private mount namespace held by a
  ``sleep`` process (``unshare --mount --propagation private``): ``/run``,
  ``/var/log`` and ``/var/lib/cni`` are private folders there, and the four
  sysctls the kubelet would write are files holding its values;
* pod cgroups nest under the harness's own cgroup (``nodecgroups``);
* pods sit on a bridge the harness owns, with unreachable routes for the
  Service and pod ranges and no masquerading (``hostnet``);
* containerd's HTTP(S) proxy is a closed loopback port: a pull can never leave
  the machine; images come from archives (``images``);
* kube-proxy (iptables) and kube-router (firewall controller only) run as
  host processes with their own client certificates.

One real node can run on a machine at a time; its state (owner workdir,
cgroups made) is kept in ``/run/seedcoder-node`` so that the next start cleans
up after a crash. ``stop`` removes processes, pods, cgroups, rules, ipsets, the
bridge and the routes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import components as comp
from . import hostnet, nodecgroups, nodeconfig, procs
from .images import ImageLoadError, load_images, product_images
from .nodes import REAL_NODE
from .pki import Pki
from .tools import MissingToolError, missing_node_tools, node_images, nodebin, nodebins_dir

log = logging.getLogger("seedcoder_dev.devcluster")

STATE_DIR = Path("/run/seedcoder-node")
# Stop order: the API clients first, then the kubelet, the runtime and the namespace holder.
PROCESSES = ("apiserver-proxy", "kube-router", "kube-proxy", "kubelet", "containerd", "node-namespace")
# Pods reach the loopback-only API server through this forwarder on the node's bridge address.
APISERVER_PROXY_PORT = 6443
# Closed port: containerd may try to pull, but every request goes to it and fails at once.
NO_EGRESS_PROXY = "http://127.0.0.1:9"

Run = Callable[[str, list[str], "dict[str, str] | None"], procs.ProcRecord]


class NodeBusyError(RuntimeError):
    """Another local cluster's real node is running on this machine."""


def node_layout(layout: comp.Layout) -> nodeconfig.NodeLayout:
    return nodeconfig.NodeLayout(layout.workdir / "node")


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _read_state() -> dict[str, Any]:
    try:
        data = json.loads((STATE_DIR / "state.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_state(state: dict[str, Any]) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_DIR / "state.json").write_text(json.dumps(state, indent=2))


def _holder_alive(state: Mapping[str, Any]) -> bool:
    holder = state.get("holder")
    if not isinstance(holder, dict):
        return False
    return procs.is_alive(
        procs.ProcRecord("node-namespace", int(holder["pid"]), int(holder["start_time"]), Path())
    )


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def _kill_node_binaries() -> int:
    """SIGKILL leftover node processes (kubelet, containerd, shims, kube-proxy, kube-router) by executable."""
    own = str(nodebins_dir().resolve()) + "/"
    victims = [
        int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _exe(int(p.name)).startswith(own)
    ]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(victims)


def _cleanup(state: Mapping[str, Any]) -> None:
    """Remove whatever a (possibly crashed) real node left: processes, cgroups, network, folders."""
    holder = state.get("holder")
    if isinstance(holder, dict) and _holder_alive(state):
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(holder["pid"]), signal.SIGKILL)
    killed = _kill_node_binaries()
    root = str(state.get("cgroup_root") or nodecgroups.node_cgroup_root())
    killed += nodecgroups.kill_all(root)
    nodecgroups.remove(root, [str(c) for c in state.get("created_cgroups", [])])
    hostnet.teardown()
    for path in state.get("created_dirs", []):
        with contextlib.suppress(OSError):
            Path(path).rmdir()
    if killed:
        log.info("Killed %d leftover process(es) of the real node", killed)


def preflight() -> None:
    if os.geteuid() != 0:
        raise MissingToolError(
            "the real node (kubelet, containerd, bridge, iptables) needs root; "
            "run as root or set SEEDCODER_REAL_NODE=0 for a simulated cpu-0"
        )
    missing = missing_node_tools()
    if missing:
        raise MissingToolError(
            f"the real node needs {', '.join(missing)}: run `make tools` (Debian packages) "
            "and `make nodebins` (node binaries and images, built once into the cache)"
        )


@dataclass(frozen=True)
class RealNode:
    """A started real node: how to reach its containerd."""

    layout: nodeconfig.NodeLayout
    holder: procs.ProcRecord

    def ctr(self) -> list[str]:
        """Command prefix for ``ctr`` against the node's containerd, inside its mount namespace."""
        return [
            "nsenter",
            f"--mount=/proc/{self.holder.pid}/ns/mnt",
            "--",
            str(nodebin("ctr")),
            "--address",
            str(self.layout.containerd_socket),
        ]

    def load_images(self, archives: Mapping[str, Path]) -> list[str]:
        """Import OCI/docker archives (reference -> path) into the node; see ``images.load_images``."""
        return load_images(self.ctr(), archives)


def attach(layout: comp.Layout) -> RealNode | None:
    """The real node of the cluster in ``layout``, when its namespace holder still runs."""
    records = {r.name: r for r in procs.read_records(layout.pids)}
    holder = records.get("node-namespace")
    if holder is None or not procs.is_alive(holder):
        return None
    return RealNode(node_layout(layout), holder)


def prepare(layout: comp.Layout, keys: Pki, kube_proxy_ports: tuple[int, int]) -> None:
    """Clean up after earlier runs, claim the machine's real node, create bridge, cgroups and configs."""
    preflight()
    nl = node_layout(layout)
    with _machine_lock():
        state = _read_state()
        if _holder_alive(state) and state.get("workdir") != str(layout.workdir):
            raise NodeBusyError(
                "a real node of another local cluster runs on this machine "
                f"(workdir {state.get('workdir')}); "
                "stop that cluster first (`make cluster-down`, or end its test session)"
            )
        _cleanup(state)
        root = nodecgroups.node_cgroup_root()
        created_dirs = []
        if not Path("/var/lib/cni").exists():
            Path("/var/lib/cni").mkdir(parents=True)
            created_dirs.append("/var/lib/cni")
        state = {
            "workdir": str(layout.workdir),
            "cgroup_root": root,
            "created_cgroups": [],
            "created_dirs": created_dirs,
        }
        _write_state(state)
        state["created_cgroups"] = nodecgroups.create(root)
        _write_state(state)
        hostnet.setup()
    images = node_images()
    nodeconfig.write_all(
        nl,
        sandbox_image=images["pause"].ref,
        ca_crt=keys.ca_crt,
        serving=(keys.client_crt("kubelet-serving"), keys.client_key("kubelet-serving")),
        cgroup_root=root,
        kube_proxy_kubeconfig=layout.kubeconfig("kube-proxy"),
        kube_proxy_ports=kube_proxy_ports,
    )


def start_runtime(layout: comp.Layout, run: Run, wait: Callable[[str, Callable[[], bool]], None]) -> RealNode:
    """Start the mount-namespace holder and containerd; import the node's and the product's images."""
    nl = node_layout(layout)
    nl.ns_ready.unlink(missing_ok=True)
    holder = run(
        "node-namespace",
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", nodeconfig.namespace_script(nl)],
        None,
    )
    wait("node mount namespace", nl.ns_ready.exists)
    with _machine_lock():
        state = _read_state()
        state["holder"] = {"pid": holder.pid, "start_time": holder.start_time}
        _write_state(state)
    env = {
        "PATH": f"{nodebins_dir()}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}",
        "HTTP_PROXY": NO_EGRESS_PROXY,
        "HTTPS_PROXY": NO_EGRESS_PROXY,
        "NO_PROXY": "",
        "http_proxy": NO_EGRESS_PROXY,
        "https_proxy": NO_EGRESS_PROXY,
        "no_proxy": "",
    }
    ns = ["nsenter", f"--mount=/proc/{holder.pid}/ns/mnt", "--"]
    run("containerd", [*ns, str(nodebin("containerd")), "--config", str(nl.containerd_config)], env)
    node = RealNode(nl, holder)

    def containerd_up() -> bool:
        if not nl.containerd_socket.exists():
            return False
        result = subprocess.run([*node.ctr(), "version"], capture_output=True, check=False, timeout=10)
        return result.returncode == 0

    wait("containerd ready", containerd_up)
    node.load_images({image.ref: image.archive for image in node_images().values()})
    return node


class ProductImages:
    """Imports the product's image archives in the background while the control plane starts.

    They are large (hundreds of MiB each); ``join`` waits for the import and re-raises its error.
    """

    def __init__(self, node: RealNode) -> None:
        self._error: BaseException | None = None
        self.loaded: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(node,), name="product-images", daemon=True)
        self._thread.start()

    def _run(self, node: RealNode) -> None:
        try:
            for ref, archive in product_images().items():
                try:
                    self.loaded += node.load_images({ref: archive})
                except ImageLoadError:
                    if archive.is_file():
                        raise
                    # The product's image build replaced the archive while we imported it.
                    log.warning(
                        "Skipped image %s: its archive %s disappeared during the import", ref, archive
                    )
        except BaseException as exc:  # handed to join()
            self._error = exc

    def join(self) -> bool:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return True


def start_kubelet(layout: comp.Layout, node: RealNode, run: Run) -> None:
    """Start the kubelet in the node's mount namespace; it registers into the ``cpu-0`` Node object."""
    nl = node.layout
    ns = ["nsenter", f"--mount=/proc/{node.holder.pid}/ns/mnt", "--"]
    run(
        "kubelet",
        [
            *ns,
            str(nodebin("kubelet")),
            f"--config={nl.kubelet_config}",
            f"--kubeconfig={layout.kubeconfig(f'node-{REAL_NODE}')}",
            f"--root-dir={nl.kubelet_root}",
            f"--cert-dir={nl.kubelet_root / 'pki'}",
            f"--hostname-override={REAL_NODE}",
            f"--node-ip={nodeconfig.NODE_IP}",
            "--v=1",
        ],
        None,
    )


def kubernetes_endpoints() -> dict[str, Any]:
    """The ``kubernetes`` Service's endpoint: the API server forwarder on the node's bridge address.

    The API server runs with ``--endpoint-reconciler-type=none`` (it listens on loopback,
    which pods cannot reach), so the harness writes this EndpointSlice itself.
    """
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes-real-node",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "devcluster.seedcoder.dev",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [nodeconfig.NODE_IP], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": APISERVER_PROXY_PORT, "protocol": "TCP"}],
    }


def _iptables(table: str) -> str:
    return subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True, check=False).stdout


def start_network(
    layout: comp.Layout,
    node: RealNode,
    run: Run,
    server: str,
    wait: Callable[[str, Callable[[], bool]], None],
) -> None:
    """Start the API server forwarder, kube-proxy and kube-router (host processes).

    kube-proxy and kube-router need the registered node's address, so they start after
    it. kube-router rewrites the whole filter table (``iptables-restore`` of a fresh
    save), which can drop a chain kube-proxy creates at the same moment and fail
    kube-proxy's first sync; so kube-router starts once kube-proxy's rules are in place.
    """
    nl = node.layout
    apiserver = server.removeprefix("https://")
    run(
        "apiserver-proxy",
        [
            str(nodebin("apiserver-proxy")),
            f"-listen={nodeconfig.NODE_IP}:{APISERVER_PROXY_PORT}",
            f"-to={apiserver}",
        ],
        None,
    )
    run("kube-proxy", [str(nodebin("kube-proxy")), f"--config={nl.kube_proxy_config}", "--v=1"], None)
    wait(
        "kube-proxy rules",
        lambda: ":KUBE-SERVICES" in _iptables("nat") and ":KUBE-FIREWALL" in _iptables("filter"),
    )
    run(
        "kube-router",
        [
            str(nodebin("kube-router")),
            f"--kubeconfig={layout.kubeconfig('kube-router')}",
            f"--hostname-override={REAL_NODE}",
            "--run-firewall=true",
            "--run-router=false",
            "--run-service-proxy=false",
            "--run-loadbalancer=false",
            "--enable-cni=false",
            "--enable-ipv6=false",
            f"--service-cluster-ip-range={comp.SERVICE_CIDR}",
            "--health-port=0",
            "--metrics-port=0",
            "--iptables-sync-period=1m",
            "--v=1",
        ],
        None,
    )


def network_ready() -> bool:
    """True once kube-proxy and kube-router have written their first rules."""
    return ":KUBE-SERVICES" in _iptables("nat") and ":KUBE-ROUTER-FORWARD" in _iptables("filter")


def node_ready(api_get: Callable[[str], Any]) -> bool:
    """True when ``cpu-0`` reports Ready and carries no not-ready taint."""
    try:
        node = api_get(f"/api/v1/nodes/{REAL_NODE}")
    except OSError:
        return False
    conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    taints = {t["key"] for t in node.get("spec", {}).get("taints", []) or []}
    return conditions.get("Ready") == "True" and "node.kubernetes.io/not-ready" not in taints


def start(
    layout: comp.Layout,
    keys: Pki,
    run: Run,
    wait: Callable[[str, Callable[[], bool]], None],
    api_get: Callable[[str], Any],
    server: str,
) -> RealNode:
    """(Re)start the whole real node of a running control plane and wait until it is Ready.

    The control plane's own start interleaves these phases with the apiserver's; this is
    for a node stopped with ``stop`` (or killed) while the control plane kept running.
    """
    healthz, metrics = procs.free_ports(2)
    prepare(layout, keys, (healthz, metrics))
    node = start_runtime(layout, run, wait)
    images = ProductImages(node)
    start_kubelet(layout, node, run)
    wait("real node ready", lambda: node_ready(api_get))
    start_network(layout, node, run, server, wait)
    wait("kube-proxy and kube-router rules", network_ready)
    wait("product images imported", images.join)
    return node


def stop(layout: comp.Layout, timeout: float = 10.0) -> None:
    """Stop the node's processes, kill its pods, remove cgroups, rules, bridge and routes."""
    records = {r.name: r for r in procs.read_records(layout.pids)}
    if not records.keys() & set(PROCESSES) and _read_state().get("workdir") != str(layout.workdir):
        return  # a simulated cpu-0 (possibly without root), or the machine's node is another cluster's
    with _machine_lock():
        state = _read_state()
        for name in PROCESSES:
            if name in records:
                procs.stop(records[name], layout.pids, timeout=timeout)
        if state.get("workdir") != str(layout.workdir):
            return  # a simulated cpu-0, or the machine's node belongs to another cluster now
        _cleanup(state)
        (STATE_DIR / "state.json").unlink(missing_ok=True)
    log.info("Stopped the real node %s and removed its cgroups, rules, bridge and routes", REAL_NODE)
