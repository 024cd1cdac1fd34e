"""A small asynchronous Kubernetes REST client: get, list, server-side apply, delete, events.

Why not the ``kubernetes`` package's generated client: it is synchronous (every
call would block Kopf's event loop or need a thread), and server-side apply is
awkward through it. The operator touches a fixed set of kinds, so a table of REST
paths plus ``httpx`` is smaller and fully async. Credentials come from a
kubeconfig or the in-cluster ServiceAccount via the ``kubernetes`` package's
loaders. Every write is counted per kind and verb (the operator's metrics).
"""

from __future__ import annotations

import builtins
import json
import ssl
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from kubernetes import config as k8s_config
from kubernetes.client import Configuration

from seedcoder.api.resource import API_VERSION, PLURAL

Obj = dict[str, Any]
WriteHook = Callable[[str, str], None]
"""Called with (kind, verb) after every successful write."""


@dataclass(frozen=True)
class Kind:
    """Where one kind lives in the REST API."""

    api_version: str
    plural: str

    def path(self, namespace: str, name: str | None = None, sub: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        if name is not None:
            path += f"/{quote(name)}"
        if sub is not None:
            path += f"/{sub}"
        return path


KINDS: dict[str, Kind] = {
    "SeedCoderDeployment": Kind(API_VERSION, PLURAL),
    "SeedCoderFineTune": Kind(API_VERSION, "seedcoderfinetunes"),
    "Job": Kind("batch/v1", "jobs"),
    "CronJob": Kind("batch/v1", "cronjobs"),
    "Pod": Kind("v1", "pods"),
    "PersistentVolumeClaim": Kind("v1", "persistentvolumeclaims"),
    "Deployment": Kind("apps/v1", "deployments"),
    "Service": Kind("v1", "services"),
    "ConfigMap": Kind("v1", "configmaps"),
    "PodDisruptionBudget": Kind("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": Kind("networking.k8s.io/v1", "networkpolicies"),
    "Event": Kind("events.k8s.io/v1", "events"),
    "PodMonitor": Kind("monitoring.coreos.com/v1", "podmonitors"),
    "PrometheusRule": Kind("monitoring.coreos.com/v1", "prometheusrules"),
}


class ApiError(Exception):
    """A non-success answer of the API server."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def _load_configuration(kubeconfig: str | None) -> Configuration:
    cfg = Configuration()
    if kubeconfig:
        k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=kubeconfig, client_configuration=cfg, persist_config=False
        )
    else:
        k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return cfg


SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path


def bearer(token: str) -> str:
    """The Authorization header value: the in-cluster loader writes ``bearer <token>`` in lower case."""
    scheme, _, rest = token.partition(" ")
    return f"Bearer {rest}" if scheme.lower() == "bearer" and rest else f"Bearer {token}"


class ServiceAccountAuth(httpx.Auth):
    """The pod's ServiceAccount token, read again from its file as the kubelet rotates it."""

    def __init__(self, path: str = SERVICE_ACCOUNT_TOKEN, max_age_s: float = 60.0) -> None:
        self._path = path
        self._max_age_s = max_age_s
        self._token = ""
        self._read_at = -max_age_s

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now = time.monotonic()
        if now - self._read_at >= self._max_age_s:
            with open(self._path, encoding="ascii") as f:
                self._token = f.read().strip()
            self._read_at = now
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class Kube:
    """Async access to the API server with the operator's credentials."""

    def __init__(self, client: httpx.AsyncClient, on_write: WriteHook | None = None) -> None:
        self._client = client
        self._on_write = on_write

    @classmethod
    def connect(cls, kubeconfig: str | None, on_write: WriteHook | None = None) -> Kube:
        cfg = _load_configuration(kubeconfig)
        context = (
            ssl.create_default_context(cafile=cfg.ssl_ca_cert)
            if cfg.verify_ssl
            else ssl.create_default_context()
        )
        if not cfg.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if cfg.cert_file:
            context.load_cert_chain(cfg.cert_file, cfg.key_file)
        headers = {}
        auth: httpx.Auth | None = None
        token = cfg.api_key.get("authorization") or cfg.api_key.get("BearerToken")
        if kubeconfig is None:
            auth = ServiceAccountAuth()  # in the cluster: the projected token, rotated by the kubelet
        elif token:
            headers["Authorization"] = bearer(token)
        client = httpx.AsyncClient(
            base_url=cfg.host, verify=context, headers=headers, auth=auth, timeout=30.0
        )
        return cls(client, on_write)

    async def close(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Obj | list[Obj] | None = None,
        content_type: str = "application/json",
    ) -> Obj:
        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": content_type} if content is not None else {}
        response = await self._client.request(method, path, params=params, content=content, headers=headers)
        if response.status_code >= 400:
            try:
                data = response.json()
            except ValueError:
                data = {}
            raise ApiError(response.status_code, data.get("reason", ""), data.get("message", response.text))
        result: Obj = response.json() if response.content else {}
        return result

    def _wrote(self, kind: str, verb: str) -> None:
        if self._on_write is not None:
            self._on_write(kind, verb)

    async def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        try:
            return await self._request("GET", KINDS[kind].path(namespace, name))
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise

    async def list(self, kind: str, namespace: str, selector: str | None = None) -> builtins.list[Obj]:
        params = {"labelSelector": selector} if selector else None
        data = await self._request("GET", KINDS[kind].path(namespace), params=params)
        items: builtins.list[Obj] = data.get("items") or []
        return items

    async def apply(
        self, obj: Obj, manager: str, *, subresource: str | None = None, force: bool = True
    ) -> Obj:
        """Server-side apply ``obj`` as ``manager`` (``force`` takes fields other managers hold)."""
        meta = obj["metadata"]
        path = KINDS[obj["kind"]].path(meta["namespace"], meta["name"], subresource)
        params = {"fieldManager": manager, "force": "true" if force else "false"}
        result = await self._request(
            "PATCH", path, params=params, body=obj, content_type="application/apply-patch+yaml"
        )
        self._wrote(obj["kind"], "apply" if subresource is None else f"apply/{subresource}")
        return result

    async def delete(self, kind: str, namespace: str, name: str, *, uid: str | None = None) -> bool:
        """Delete (background propagation); ``uid`` guards against deleting a newer namesake."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self._request("DELETE", KINDS[kind].path(namespace, name), body=body)
        except ApiError as exc:
            if exc.status in (404, 409):
                return False
            raise
        self._wrote(kind, "delete")
        return True

    async def create(self, obj: Obj, manager: str) -> Obj | None:
        """Create ``obj``; ``None`` when it already exists (another writer was first)."""
        meta = obj["metadata"]
        try:
            result = await self._request(
                "POST", KINDS[obj["kind"]].path(meta["namespace"]), params={"fieldManager": manager}, body=obj
            )
        except ApiError as exc:
            if exc.status == 409:
                return None
            raise
        self._wrote(obj["kind"], "create")
        return result

    async def patch_json(
        self, kind: str, namespace: str, name: str, ops: builtins.list[Obj], manager: str
    ) -> Obj:
        """A JSON patch (RFC 6902); a failing ``test`` op answers 422 (the object moved on)."""
        result = await self._request(
            "PATCH",
            KINDS[kind].path(namespace, name),
            params={"fieldManager": manager},
            body=ops,
            content_type="application/json-patch+json",
        )
        self._wrote(kind, "patch")
        return result

    async def log_tail(self, namespace: str, pod: str, container: str, lines: int = 20) -> str:
        """The last ``lines`` lines of a container's log (plain text)."""
        path = KINDS["Pod"].path(namespace, pod, "log")
        params = {"container": container, "tailLines": str(lines)}
        response = await self._client.request("GET", path, params=params)
        if response.status_code >= 400:
            raise ApiError(response.status_code, "", response.text[:200])
        return response.text

    async def has_api(self, group_version: str) -> bool:
        """Whether the server serves ``group/version`` (e.g. monitoring.coreos.com/v1)."""
        try:
            await self._request("GET", f"/apis/{group_version}")
        except ApiError as exc:
            if exc.status in (403, 404):
                return False
            raise
        return True
