"""Where the local control plane's binaries and the developer tools live.

Why: the tests, ``make cluster-up`` and the demo all run the same real binaries
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, KWOK,
Helm, Prometheus). They are built or installed once into a cache outside the
repository, keyed by version; this module is the one place that knows those
paths and says which ``make`` target fills each gap.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

K8S_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# The real node (``tools/build-nodebins.sh`` reads the same versions from the wrapper modules' go.mod).
CONTAINERD_VERSION = "v2.4.2"
KUBE_ROUTER_VERSION = "v2.1.0"
COREDNS_VERSION = "v1.14.7"
NODE_BINARIES = (
    "kubelet",
    "kube-proxy",
    "containerd",
    "ctr",
    "containerd-shim-runc-v2",
    "kube-router",
    "apiserver-proxy",
)
NODE_IMAGES = ("pause", "coredns", "echoserver")
# Debian packages the real node runs (``tools/install-tools.sh`` installs them).
RUNC = Path("/usr/sbin/runc")
CNI_BIN_DIR = Path("/usr/lib/cni")


class MissingToolError(RuntimeError):
    """A binary the local stack needs is not installed; the message says how to get it."""


def cache_dir() -> Path:
    """The per-user cache (``SEEDCODER_CACHE``, default ``~/.cache/seedcoder``)."""
    return Path(os.environ.get("SEEDCODER_CACHE", "~/.cache/seedcoder")).expanduser()


def bin_dir() -> Path:
    """Where ``tools/install-tools.sh`` links kubectl and helm."""
    return cache_dir() / "bin"


def testbins_dir() -> Path:
    """The version-keyed folder that ``tools/build-testbins.sh`` fills (``TESTBINS_DIR`` overrides)."""
    override = os.environ.get("TESTBINS_DIR")
    if override:
        return Path(override).expanduser()
    return cache_dir() / "testbins" / f"k8s-{K8S_VERSION}-etcd-{ETCD_VERSION}-kwok-{KWOK_VERSION}"


def testbin(name: str) -> Path:
    """One control-plane binary, or a clear error naming ``make testbins``."""
    path = testbins_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MissingToolError(
            f"{name} not found at {path}: run `make testbins` to build the local control plane's "
            "binaries (tens of minutes the first time, a no-op afterwards)"
        )
    return path


def nodebins_dir() -> Path:
    """The version-keyed folder that ``tools/build-nodebins.sh`` fills (``NODEBINS_DIR`` overrides)."""
    override = os.environ.get("NODEBINS_DIR")
    if override:
        return Path(override).expanduser()
    return (
        cache_dir()
        / "nodebins"
        / (
            f"k8s-{K8S_VERSION}-containerd-{CONTAINERD_VERSION}-kube-router-{KUBE_ROUTER_VERSION}"
            f"-coredns-{COREDNS_VERSION}"
        )
    )


def nodebin(name: str) -> Path:
    """One of the real node's binaries, or a clear error naming ``make nodebins``."""
    path = nodebins_dir() / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise MissingToolError(
            f"{name} not found at {path}: run `make nodebins` to build the real node's binaries "
            "and images (about ten minutes the first time, a no-op afterwards)"
        )
    return path


@dataclass(frozen=True)
class NodeImage:
    """An image the real node needs, built by ``make nodebins``: its reference and its archive."""

    ref: str
    archive: Path


def node_images() -> dict[str, NodeImage]:
    """The node's own images (``pause``, ``coredns``, ``echoserver``) by role."""
    index = nodebins_dir() / "images.json"
    try:
        data = json.loads(index.read_text())
        images = {role: NodeImage(str(v["ref"]), Path(v["archive"])) for role, v in data.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MissingToolError(
            f"the node images index {index} is missing or unreadable: run `make nodebins`"
        ) from exc
    missing = [role for role in NODE_IMAGES if role not in images or not images[role].archive.is_file()]
    if missing:
        raise MissingToolError(f"node image archive(s) missing ({', '.join(missing)}): run `make nodebins`")
    return images


def missing_node_tools() -> list[str]:
    """What the real node needs and does not find: binaries, images and Debian packages."""
    missing = [b for b in NODE_BINARIES if not os.access(nodebins_dir() / b, os.X_OK)]
    try:
        node_images()
    except MissingToolError:
        missing.append("node images")
    host_tools = (
        "ip",
        "iptables",
        "iptables-save",
        "iptables-restore",
        "ipset",
        "conntrack",
        "unshare",
        "nsenter",
    )
    missing += [t for t in host_tools if _which(t) is None]
    if not os.access(RUNC, os.X_OK):
        missing.append(str(RUNC))
    if not (CNI_BIN_DIR / "bridge").is_file():
        missing.append(f"CNI plugins in {CNI_BIN_DIR}")
    return missing


def stages_dir() -> Path:
    """KWOK's stage definitions, kept next to the binaries by ``make testbins``."""
    path = testbins_dir() / "stages"
    if not path.is_dir():
        raise MissingToolError(f"KWOK stages not found at {path}: run `make testbins`")
    return path


def missing_control_plane_binaries() -> list[str]:
    """Names of the control-plane binaries (and stages) that are not there yet."""
    missing = [b for b in (*CONTROL_PLANE_BINARIES, "kubectl") if not os.access(testbins_dir() / b, os.X_OK)]
    if not (testbins_dir() / "stages").is_dir():
        missing.append("stages")
    return missing


def _first(candidates: list[Path | None], name: str, hint: str) -> Path:
    for candidate in candidates:
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise MissingToolError(f"{name} not found: {hint}")


def _which(name: str) -> Path | None:
    found = shutil.which(name)
    return Path(found) if found else None


def kubectl_path() -> Path:
    """kubectl built with the control plane (same version), else the one ``make tools`` linked."""
    return _first(
        [testbins_dir() / "kubectl", bin_dir() / "kubectl"],
        "kubectl",
        "run `make testbins` (builds kubectl with the control plane) or `make tools`",
    )


def helm_path() -> Path:
    """Helm, extracted by ``make tools`` into the cache, else one on PATH."""
    return _first([bin_dir() / "helm", _which("helm")], "helm", "run `make tools` to install Helm")


def promtool_path() -> Path:
    """promtool from Debian's ``prometheus`` package (``make tools`` installs it)."""
    return _first(
        [bin_dir() / "promtool", _which("promtool"), Path("/usr/bin/promtool")],
        "promtool",
        "run `make tools` (installs Debian's prometheus package)",
    )


def prometheus_path() -> Path:
    """The Prometheus server from Debian's ``prometheus`` package (``make tools`` installs it)."""
    return _first(
        [bin_dir() / "prometheus", _which("prometheus"), Path("/usr/bin/prometheus")],
        "prometheus",
        "run `make tools` (installs Debian's prometheus package)",
    )
