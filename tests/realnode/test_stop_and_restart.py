"""The real node leaves nothing behind, and comes back after a stop or a crash.

Why: the node changes the host (a bridge, routes, iptables chains, ipsets,
cgroups, processes) on a machine shared with other work. ``stop`` must remove
all of it, and a start after a crash (processes killed, pods, rules and bridge
left behind) must clean up and come up again. These tests restart the session
cluster's node in place (the control plane keeps running), so they run last.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from seedcoder_dev.devcluster import Cluster, hostnet, nodecgroups, realnode
from seedcoder_dev.devcluster.procs import is_alive
from seedcoder_dev.devcluster.tools import nodebins_dir

from .helpers import apply, echo_pod, wait_ready

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "net/ipv4/ip_forward",
)


def _node_processes() -> list[int]:
    own = str(nodebins_dir().resolve()) + "/"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe").startswith(own):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _sysctls() -> dict[str, str]:
    return {key: Path(f"/proc/sys/{key}").read_text().strip() for key in SYSCTLS}


def test_crash_then_start_cleans_up_and_stop_removes_everything(cluster: Cluster, namespace: str) -> None:
    before = _sysctls()
    apply(cluster, namespace, echo_pod("survivor"))
    wait_ready(cluster, namespace, "survivor")
    root = nodecgroups.node_cgroup_root()
    assert nodecgroups.pids_in(root), "the pod's processes should live under the node's cgroup root"
    assert _sysctls() == before, "the node must not change host sysctls"

    # A crash: every process the harness started for the node dies at once; pods, shims,
    # the bridge, rules and cgroups stay behind.
    for record in cluster.processes():
        if record.name in realnode.PROCESSES:
            os.kill(record.pid, signal.SIGKILL)
    assert hostnet.bridge_exists()
    cluster.start_real_node()
    wait_ready(cluster, namespace, "survivor", timeout="90s")  # the new kubelet runs the bound pod again

    cluster.stop_real_node()
    assert hostnet.leftovers() == []
    assert _node_processes() == []
    assert not nodecgroups.pids_in(root)
    assert not any((h / root.lstrip("/")).exists() for h in nodecgroups.hierarchies())
    assert not any(is_alive(r) for r in cluster.processes() if r.name in realnode.PROCESSES)
    assert _sysctls() == before

    # And a plain start after the stop works (the session goes on with this node).
    cluster.start_real_node()
    assert realnode.node_ready(cluster.api_get)
