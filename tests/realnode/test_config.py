"""The real node's configuration keeps it inside its sandbox (no cluster needed).

Why: the safety rules of the node (nothing leaves the machine, no host sysctl
or folder changes, pod cgroups under the harness's own) live in a few settings
that a later edit could quietly drop; these tests pin them, and check that the
versions the Python side expects are the ones the build script builds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from seedcoder_dev.devcluster import dnsaddon, nodecgroups, nodeconfig
from seedcoder_dev.devcluster.tools import CONTAINERD_VERSION, COREDNS_VERSION, KUBE_ROUTER_VERSION

ROOT = Path(__file__).resolve().parents[2]
LAYOUT = nodeconfig.NodeLayout(Path("/w/node"))


def _required(module: str, path: str) -> str:
    text = (ROOT / "tools" / module / "go.mod").read_text()
    match = re.search(rf"^(?:require)?\s*{re.escape(path)} (v\S+)", text, re.M)
    assert match, f"{module}/go.mod does not require {path}"
    return match.group(1)


def test_versions_match_the_wrapper_modules() -> None:
    assert _required("containerd-bin", "github.com/containerd/containerd/v2") == CONTAINERD_VERSION
    assert _required("kube-router-bin", "github.com/cloudnativelabs/kube-router/v2") == KUBE_ROUTER_VERSION
    assert _required("coredns-bin", "github.com/coredns/coredns") == COREDNS_VERSION


def test_cluster_dns_has_no_upstream() -> None:
    assert "forward" not in dnsaddon.COREFILE
    main = (ROOT / "tools" / "coredns-bin" / "main.go").read_text()
    assert "/plugin/forward" not in main
    assert '"forward"' not in main


def test_pod_network_never_masquerades_and_stays_on_the_bridge() -> None:
    bridge = nodeconfig.cni_conflist(LAYOUT)["plugins"][0]
    assert bridge["bridge"] == nodeconfig.BRIDGE
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"].startswith("/w/node/")


def test_containerd_cannot_raise_oom_scores_and_keeps_state_in_the_workdir() -> None:
    toml = nodeconfig.containerd_toml(LAYOUT, "localhost/seedcoder-pause:x")
    assert "restrict_oom_score_adj = true" in toml
    assert 'sandbox = "localhost/seedcoder-pause:x"' in toml
    paths = re.findall(r'^\s*(?:root|state|address|path|conf_dir) = "([^"]*)"', toml, re.M)
    assert all(p == "" or p.startswith("/w/node/") for p in paths), paths


def test_namespace_script_shadows_host_paths_and_sysctls() -> None:
    script = nodeconfig.namespace_script(LAYOUT)
    for target in ("/run", "/var/log", "/var/lib/cni"):
        assert f"'{target}'" in script
    for key in (*nodeconfig.KUBELET_SYSCTLS, "net/ipv4/ip_forward"):
        assert f"'/proc/sys/{key}'" in script
    assert script.rstrip().endswith("exec sleep infinity")


def test_kube_proxy_writes_no_sysctls_and_binds_no_public_port() -> None:
    import yaml

    config = yaml.safe_load(nodeconfig.kube_proxy_config(Path("/k"), healthz_port=1, metrics_port=2))
    assert config["conntrack"]["maxPerCore"] == 0
    assert config["iptables"]["localhostNodePorts"] is False
    assert config["nodePortAddresses"] == [f"{nodeconfig.NODE_IP}/32"]
    assert config["healthzBindAddress"].startswith("127.0.0.1:")
    kubelet = yaml.safe_load(
        nodeconfig.kubelet_config(
            LAYOUT, ca_crt=Path("/ca"), serving=(Path("/c"), Path("/k")), cgroup_root="/a/b"
        )
    )
    assert kubelet["authentication"]["anonymous"]["enabled"] is False
    assert kubelet["authorization"]["mode"] == "Webhook"
    assert kubelet["cgroupRoot"] == "/a/b"
    assert json.dumps(kubelet).count("/var/lib/kubelet") == 0


def test_node_cgroup_nests_under_the_deepest_harness_cgroup() -> None:
    proc_cgroup = "9:name=systemd:/\n4:memory:/job/abc\n3:cpuset:/\n0::/\n"
    assert nodecgroups.harness_cgroup(proc_cgroup) == "/job/abc"
    assert nodecgroups.node_cgroup_root(proc_cgroup) == "/job/abc/seedcoder-node"
    assert nodecgroups.node_cgroup_root("4:memory:/\n0::/\n") == "/seedcoder-node"
