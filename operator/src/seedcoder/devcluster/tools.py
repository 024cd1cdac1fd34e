"""Where the local control plane's binaries and the developer tools live.

Why: the tests, ``make cluster-up`` and the demo all run the same real binaries
(etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, KWOK,
Helm, Prometheus). They are built or installed once into a cache outside the
repository, keyed by version; this module is the one place that knows those
paths and says which ``make`` target fills each gap.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

K8S_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"

CONTROL_PLANE_BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")


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
