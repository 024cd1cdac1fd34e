"""Configuration files of the real node: containerd, kubelet, CNI and kube-proxy.

Why: these files decide whether the node stays inside its sandbox on a shared
machine, so they are built in one place by pure functions, each setting
explained where it matters: no image pulls can leave the machine, no host
sysctl or host directory is written, pod cgroups nest under the harness's own
cgroup, the CNI bridge does no masquerading, and every listener binds either
loopback or the node's own bridge address.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .components import CLUSTER_DNS, CLUSTER_DOMAIN, POD_CIDR
from .nodes import REAL_NODE, REAL_NODE_POD_CIDR
from .tools import CNI_BIN_DIR, RUNC

BRIDGE = "seedcoder0"
NODE_IP = "10.244.0.1"
NODE_IP_PREFIX = 24
CNI_NETWORK = "seedcoder-node"
KUBELET_PORT = 10250

# What the kubelet writes into these sysctls (unless they already hold it). Inside the
# node's mount namespace, files holding exactly these values are bind-mounted over them,
# so the kubelet finds them "already set" and the host keeps its own values.
KUBELET_SYSCTLS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}

# The CNI bridge plugin (isGateway) turns IP forwarding on unless it reads "1" here: inside
# the node's namespace it does, so the host keeps forwarding off.
CNI_SYSCTLS = {"net/ipv4/ip_forward": "1"}
SHADOWED_SYSCTLS = {**KUBELET_SYSCTLS, **CNI_SYSCTLS}

# Host paths that containerd, runc, the CNI plugins and the kubelet use at fixed
# locations; each gets a private directory in the node's mount namespace.
PRIVATE_DIRS = {"/run": "run", "/var/log": "var-log", "/var/lib/cni": "var-lib-cni"}


@dataclass(frozen=True)
class NodeLayout:
    """Where the real node keeps its files (under the cluster's workdir)."""

    dir: Path

    @property
    def private(self) -> Path:
        return self.dir / "private"

    @property
    def sysctls(self) -> Path:
        return self.dir / "sysctl"

    @property
    def ns_ready(self) -> Path:
        """Written by the namespace holder once every private mount is in place."""
        return self.private / "run" / ".seedcoder-node-ready"

    @property
    def containerd_config(self) -> Path:
        return self.dir / "containerd.toml"

    @property
    def containerd_root(self) -> Path:
        return self.dir / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.dir / "containerd" / "state"

    @property
    def containerd_socket(self) -> Path:
        return self.dir / "containerd.sock"

    @property
    def kubelet_config(self) -> Path:
        return self.dir / "kubelet.yaml"

    @property
    def kubelet_root(self) -> Path:
        return self.dir / "kubelet"

    @property
    def static_pods(self) -> Path:
        return self.dir / "manifests"

    @property
    def pod_logs(self) -> Path:
        return self.dir / "pod-logs"

    @property
    def resolv_conf(self) -> Path:
        return self.dir / "resolv.conf"

    @property
    def cni_conf_dir(self) -> Path:
        return self.dir / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.dir / "cni" / "ipam"

    @property
    def kube_proxy_config(self) -> Path:
        return self.dir / "kube-proxy.yaml"

    @property
    def state(self) -> Path:
        return self.dir / "node.json"


def namespace_script(layout: NodeLayout) -> str:
    """Shell run by ``unshare --mount --propagation private``: private mounts, then wait forever."""
    lines = ["set -eu"]
    for target, name in PRIVATE_DIRS.items():
        lines.append(f"mount --bind '{layout.private / name}' '{target}'")
    for key in SHADOWED_SYSCTLS:
        lines.append(f"mount --bind '{layout.sysctls / key.replace('/', '.')}' '/proc/sys/{key}'")
    lines += [f"touch '{layout.ns_ready}'", "exec sleep infinity"]
    return "\n".join(lines) + "\n"


def containerd_toml(layout: NodeLayout, sandbox_image: str) -> str:
    """containerd's configuration (version 3): CRI only, runc from Debian, cgroupfs, no OOM score raise."""
    cri_runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return f"""\
version = 3
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"
disabled_plugins = ["io.containerd.internal.v1.tracing"]

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = "{layout.dir / "containerd" / "opt"}"
  [plugins.'io.containerd.nri.v1.nri']
    disable = true
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = "{sandbox_image}"
  [{cri_runtime}]
    enable_selinux = false
    netns_mounts_under_state_dir = true
    tolerate_missing_hugetlb_controller = true
    disable_hugetlb_controller = true
    restrict_oom_score_adj = true
    [{cri_runtime}.containerd]
      default_runtime_name = "runc"
      [{cri_runtime}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [{cri_runtime}.containerd.runtimes.runc.options]
          BinaryName = "{RUNC}"
          SystemdCgroup = false
    [{cri_runtime}.cni]
      bin_dirs = ["{CNI_BIN_DIR}"]
      conf_dir = "{layout.cni_conf_dir}"
      max_conf_num = 1
"""


def cni_conflist(layout: NodeLayout) -> dict[str, Any]:
    """The pod network: a bridge owned by the harness, no masquerading, IPs from the node's CIDR."""
    return {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "dataDir": str(layout.cni_ipam_dir),
                    "ranges": [[{"subnet": REAL_NODE_POD_CIDR, "gateway": NODE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def kubelet_config(layout: NodeLayout, *, ca_crt: Path, serving: tuple[Path, Path], cgroup_root: str) -> str:
    """KubeletConfiguration: a registered node, webhook authn/authz, cgroup v1 (cgroupfs), no host writes."""
    config: dict[str, Any] = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": True,
        "cgroupRoot": cgroup_root,
        "staticPodPath": str(layout.static_pods),
        "podLogsDir": str(layout.pod_logs),
        "failSwapOn": False,
        "makeIPTablesUtilChains": False,
        "maxOpenFiles": 20000,
        "protectKernelDefaults": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzPort": 0,
        "tlsCertFile": str(serving[0]),
        "tlsPrivateKeyFile": str(serving[1]),
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "10s"},
            "x509": {"clientCAFile": str(ca_crt)},
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "10s"}},
        "clusterDNS": [CLUSTER_DNS],
        "clusterDomain": CLUSTER_DOMAIN,
        # No host resolver for dnsPolicy=Default pods: nothing may resolve names outside the cluster.
        "resolvConf": str(layout.resolv_conf),
        "localStorageCapacityIsolation": False,
        "imageGCHighThresholdPercent": 100,
        "evictionHard": {"memory.available": "100Mi"},
        "serializeImagePulls": False,
        "shutdownGracePeriod": "0s",
        "volumePluginDir": str(layout.dir / "volume-plugins"),
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "5s",
    }
    return yaml.safe_dump(config, sort_keys=False)


def kube_proxy_config(kubeconfig: Path, *, healthz_port: int, metrics_port: int) -> str:
    """kube-proxy in iptables mode; every conntrack and localhost-NodePort sysctl write switched off."""
    config: dict[str, Any] = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)},
        "mode": "iptables",
        "hostnameOverride": REAL_NODE,
        "clusterCIDR": POD_CIDR,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # NodePorts only on the bridge address: never on the machine's real interfaces.
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "iptables": {
            "localhostNodePorts": False,
            "masqueradeAll": False,
            "syncPeriod": "10s",
            "minSyncPeriod": "0s",
        },
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_all(
    layout: NodeLayout,
    *,
    sandbox_image: str,
    ca_crt: Path,
    serving: tuple[Path, Path],
    cgroup_root: str,
    kube_proxy_kubeconfig: Path,
    kube_proxy_ports: tuple[int, int],
) -> None:
    """Create the node's folders and write every configuration file."""
    for name in PRIVATE_DIRS.values():
        (layout.private / name).mkdir(parents=True, exist_ok=True)
    layout.sysctls.mkdir(parents=True, exist_ok=True)
    for key, value in SHADOWED_SYSCTLS.items():
        (layout.sysctls / key.replace("/", ".")).write_text(value + "\n")
    for folder in (
        layout.containerd_root,
        layout.containerd_state,
        layout.kubelet_root,
        layout.static_pods,
        layout.pod_logs,
        layout.cni_conf_dir,
        layout.cni_ipam_dir,
    ):
        folder.mkdir(parents=True, exist_ok=True)
    layout.resolv_conf.write_text("")
    layout.containerd_config.write_text(containerd_toml(layout, sandbox_image))
    (layout.cni_conf_dir / "10-seedcoder.conflist").write_text(json.dumps(cni_conflist(layout), indent=2))
    layout.kubelet_config.write_text(
        kubelet_config(layout, ca_crt=ca_crt, serving=serving, cgroup_root=cgroup_root)
    )
    layout.kube_proxy_config.write_text(
        kube_proxy_config(
            kube_proxy_kubeconfig, healthz_port=kube_proxy_ports[0], metrics_port=kube_proxy_ports[1]
        )
    )
