"""Command lines of the five control-plane components, and the audit policy.

Why: one place states how the local control plane is configured (loopback
only, TLS, Node + RBAC authorization with NodeRestriction, TokenRequest,
audit log of writes), so that the pytest fixture and ``make cluster-up`` run
exactly the same cluster. The real node's own processes are in ``realnode.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .nodes import KWOK_POD_CIDR, REAL_NODE
from .pki import Pki
from .tools import testbin

SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
CLUSTER_DNS = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"

# Identities (client certificate CN, O). Each component has its own user name,
# so the audit log tells the writes of the code under test apart from theirs.
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("kubernetes-admin", ("system:masters",)),
    "kube-controller-manager": ("system:kube-controller-manager", ("system:masters",)),
    "kube-scheduler": ("system:kube-scheduler", ("system:masters",)),
    "kwok": ("system:kwok-controller", ("system:masters",)),
    # The real node: the kubelet as the Node authorizer expects it, kube-proxy bound to
    # the built-in system:node-proxier role, and the apiserver's client towards kubelets.
    f"node-{REAL_NODE}": (f"system:node:{REAL_NODE}", ("system:nodes",)),
    "kube-proxy": ("system:kube-proxy", ()),
    "kube-router": ("system:kube-router", ("system:masters",)),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ("system:masters",)),
}

# Serving certificates besides the apiserver's: stem -> (common name, IP and DNS SANs).
SERVING: dict[str, tuple[str, tuple[str, ...]]] = {
    "kubelet-serving": (f"system:node:{REAL_NODE}", ("10.244.0.1", REAL_NODE, "localhost", "127.0.0.1")),
}

# Metadata for every write, nothing for reads: the operator tests count writes.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
"""


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int

    def by_component(self) -> dict[str, int]:
        return {
            "etcd (client)": self.etcd_client,
            "etcd (peer)": self.etcd_peer,
            "kube-apiserver": self.apiserver,
            "kube-controller-manager": self.controller_manager,
            "kube-scheduler": self.scheduler,
        }


@dataclass(frozen=True)
class Layout:
    """Where a cluster keeps its files under its workdir."""

    workdir: Path

    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def pids(self) -> Path:
        return self.workdir / "pids"

    @property
    def etcd_data(self) -> Path:
        return self.workdir / "etcd"

    @property
    def audit_log(self) -> Path:
        return self.logs / "audit.log"

    @property
    def audit_policy(self) -> Path:
        return self.workdir / "audit-policy.yaml"

    @property
    def stages(self) -> Path:
        return self.workdir / "kwok-stages.yaml"

    @property
    def kwok_home(self) -> Path:
        return self.workdir / "kwok"

    @property
    def state(self) -> Path:
        return self.workdir / "cluster.json"

    def kubeconfig(self, identity: str) -> Path:
        return self.workdir / f"{identity}.kubeconfig"


def etcd(layout: Layout, ports: Ports) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(testbin("etcd")),
        "--name=node0",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=node0={peer}",
        "--unsafe-no-fsync=true",
        f"--quota-backend-bytes={2 * 1024**3}",
        "--log-level=warn",
    ]


def apiserver(layout: Layout, ports: Ports, pki: Pki) -> list[str]:
    return [
        str(testbin("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki.apiserver_crt}",
        f"--tls-private-key-file={pki.apiserver_key}",
        f"--client-ca-file={pki.ca_crt}",
        "--authorization-mode=Node,RBAC",
        # PodNodeSelector, PodTolerationRestriction: a namespace annotated with a node
        # selector and a default toleration keeps its pods on the simulated nodes (tests
        # and the demo of simulated GPU resources).
        "--enable-admission-plugins=NodeRestriction,PodNodeSelector,PodTolerationRestriction",
        f"--kubelet-client-certificate={pki.client_crt('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.client_key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={pki.ca_crt}",
        "--kubelet-preferred-address-types=InternalIP",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--allow-privileged=true",
        "--profiling=false",
        f"--audit-policy-file={layout.audit_policy}",
        f"--audit-log-path={layout.audit_log}",
        "--audit-log-format=json",
        "--v=1",
    ]


def controller_manager(layout: Layout, ports: Ports, pki: Pki) -> list[str]:
    return [
        str(testbin("kube-controller-manager")),
        f"--kubeconfig={layout.kubeconfig('kube-controller-manager')}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.controller_manager}",
        "--controllers=*",
        "--use-service-account-credentials=false",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_crt}",
        f"--cluster-signing-cert-file={pki.ca_crt}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--horizontal-pod-autoscaler-sync-period=5s",
        "--v=1",
    ]


def scheduler(layout: Layout, ports: Ports) -> list[str]:
    return [
        str(testbin("kube-scheduler")),
        f"--kubeconfig={layout.kubeconfig('kube-scheduler')}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.scheduler}",
        "--v=1",
    ]


def kwok(layout: Layout) -> list[str]:
    return [
        str(testbin("kwok")),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={KWOK_POD_CIDR}",
        "--node-ip=10.0.0.1",
        "--node-lease-duration-seconds=40",
        f"--config={layout.stages}",
    ]
