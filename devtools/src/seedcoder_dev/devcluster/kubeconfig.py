"""Kubeconfig files for the local control plane.

Why: every client of the local cluster (kubectl, the Kubernetes Python client,
Kopf, Helm, the control-plane components themselves) reads a kubeconfig. The
files embed their certificates so that a copy (``.dev/kubeconfig``) stays valid
wherever it is read from.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _document(server: str, ca_crt: Path, user: dict[str, str], context: str, namespace: str | None) -> str:
    ctx: dict[str, Any] = {"cluster": "seedcoder-dev", "user": context}
    if namespace:
        ctx["namespace"] = namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "seedcoder-dev",
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_crt)},
            }
        ],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": ctx}],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def write_cert_kubeconfig(
    path: Path, *, server: str, ca_crt: Path, client_crt: Path, client_key: Path, context: str
) -> Path:
    """A kubeconfig that authenticates with a client certificate."""
    user = {"client-certificate-data": _b64(client_crt), "client-key-data": _b64(client_key)}
    return _write(path, _document(server, ca_crt, user, context, None))


def write_token_kubeconfig(
    path: Path, *, server: str, ca_crt: Path, token: str, context: str, namespace: str | None = None
) -> Path:
    """A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's)."""
    return _write(path, _document(server, ca_crt, {"token": token}, context, namespace))
