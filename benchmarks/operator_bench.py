"""Operator scale: 100 SeedCoderDeployments applied at once to the local control plane.

What runs: the real control plane (etcd, kube-apiserver, KCM, scheduler, KWOK
nodes), the real operator process (``seedcoder operator``) as its own
least-privilege ServiceAccount, and watches in this process that timestamp every
child object and every Ready condition as the API server reports them.

Engines are already cached: a warm-up resource with the same model and build
settings is applied first and waited for, so its build Job is ``Complete``
before the 100 arrive; each of the 100 then adopts that Job (adds its
ownerReference) instead of building. Each resource has one CPU (llama.cpp) pool
and one gateway replica with small CPU requests, so 100 of them fit the
simulated nodes (GPU pools would need 200 GPUs).

Then 10 more are applied one at a time into the cluster that holds the
100 (each waits for the previous one's Ready): the everyday case of one team
adding a resource to a busy operator.

Reports, per resource, timed from the moment the API server announced the
resource (its watch event; ``kubectl apply`` of 100 objects itself takes a
while; the single ones from just before their apply): time to all 9 children created
(2 Deployments, 2 Services, 1 ConfigMap, 4 NetworkPolicies; no PodDisruptionBudget,
as each component runs one replica at most), time to ``Ready=True`` (median, p95, max), API writes per
resource (from the audit log, the operator's user only), and the operator's peak
memory. Writes ``benchmarks/results/operator.json`` and ``operator.md``.
Run: ``make bench-operator`` (``python -m benchmarks.operator_bench``).
"""

from __future__ import annotations

import calendar
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import watch as k8s_watch
from seedcoder import metricnames as mn
from seedcoder.operator.reconcile.events import REPORTING_CONTROLLER
from seedcoder_dev.devcluster import start_cluster
from seedcoder_dev.devcluster.nodes import SIMULATED_NAMESPACE

from tests.operator.harness import (
    OperatorProcess,
    apply,
    audit_offset,
    audit_writes,
    install_rbac,
    install_volumes,
    wait_for,
)
from tests.operator.sample import sample

RESULTS = Path(__file__).parent / "results"
COUNT = 100
SINGLES = 10
"""Resources applied one at a time into the cluster that already holds the 100."""
NAMESPACE = "bench"
CHILDREN = 9
WATCHED = {
    "Deployment": ("AppsV1Api", "list_namespaced_deployment"),
    "Service": ("CoreV1Api", "list_namespaced_service"),
    "ConfigMap": ("CoreV1Api", "list_namespaced_config_map"),
    "PodDisruptionBudget": ("PolicyV1Api", "list_namespaced_pod_disruption_budget"),
    "NetworkPolicy": ("NetworkingV1Api", "list_namespaced_network_policy"),
}


def resource(name: str) -> dict[str, Any]:
    small = {"requests": {"cpu": "50m", "memory": "64Mi"}}
    return sample(
        name=name,
        namespace=NAMESPACE,
        pools=[
            {
                "name": "cpu",
                "gpu": "CPU",
                "minReplicas": 1,
                "maxReplicas": 1,
                "resources": small,
                "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            }
        ],
        gateway={
            "replicas": 1,
            "maxContextTokens": 1024,
            "apiKeySecretRef": {"name": "keys"},
            "resources": small,
        },
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Recorder:
    """Watches that record when each child and each Ready condition first appeared."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.children: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
        self.ready: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.watches: list[k8s_watch.Watch] = []

    def _run(self, target: Any, record: Any) -> None:
        w = k8s_watch.Watch()
        self.watches.append(w)
        while not self.stop.is_set():
            try:
                for event in w.stream(target, NAMESPACE, timeout_seconds=30, _request_timeout=60):
                    record(event["object"], time.monotonic())
                    if self.stop.is_set():
                        break
            except Exception:
                time.sleep(0.2)

    def start(self) -> None:
        for kind, (api_name, method) in WATCHED.items():
            api = getattr(k8s_client, api_name)(self.api)
            threading.Thread(
                target=self._run, args=(getattr(api, method), self._child(kind)), daemon=True
            ).start()
        custom = k8s_client.CustomObjectsApi(self.api)

        def list_scd(namespace: str, **kw: Any) -> Any:
            return custom.list_namespaced_custom_object(
                "seedcoder.dev", "v1alpha1", namespace, "seedcoderdeployments", **kw
            )

        threading.Thread(target=self._run, args=(list_scd, self._scd), daemon=True).start()

    def _child(self, kind: str) -> Any:
        def record(obj: Any, now: float) -> None:
            labels = obj.metadata.labels or {}
            instance = labels.get("app.kubernetes.io/instance")
            if instance:
                with self.lock:
                    self.children[instance].setdefault((kind, obj.metadata.name), now)

        return record

    def _scd(self, obj: dict[str, Any], now: float) -> None:
        with self.lock:
            self.seen.setdefault(obj["metadata"]["name"], now)
        for c in (obj.get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready" and c["status"] == "True":
                with self.lock:
                    self.ready.setdefault(obj["metadata"]["name"], now)

    def close(self) -> None:
        self.stop.set()
        for w in self.watches:
            w.stop()


def run(workdir: Path) -> dict[str, Any]:
    cluster = start_cluster(workdir / "cluster")
    try:
        cluster.kubectl("create", "namespace", NAMESPACE)
        # simulated: its pods go to the KWOK nodes, never to a real node (their images are not real)
        marks = [f"{k}={v}" for k, v in SIMULATED_NAMESPACE.items()]
        cluster.kubectl("annotate", "namespace", NAMESPACE, *marks)
        wait_for(
            "default ServiceAccount",
            lambda: cluster.kubectl("get", "sa", "default", "-n", NAMESPACE, check=False).returncode == 0,
        )
        install_rbac(cluster, NAMESPACE)
        install_volumes(cluster, NAMESPACE)
        op = OperatorProcess(cluster, NAMESPACE, workdir, resync="30").start()
        try:
            apply(cluster, resource("warmup"))
            wait_for(
                "the warm-up resource Ready (engine cached)",
                lambda: (
                    "True"
                    in cluster.kubectl(
                        "get",
                        "scd",
                        "warmup",
                        "-n",
                        NAMESPACE,
                        "-o",
                        "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
                    ).stdout
                ),
                timeout=180,
            )
            api: Any = k8s_config.new_client_from_config(config_file=str(cluster.kubeconfig))
            rec = Recorder(api)
            rec.start()
            time.sleep(2)
            offset = audit_offset(cluster)
            before = _reconciles(op)
            names = [f"r{i:03d}" for i in range(COUNT)]
            t0 = time.monotonic()
            apply(cluster, *[resource(n) for n in names])
            t_applied = time.monotonic()
            wait_for(
                "all resources Ready",
                lambda: len([n for n in names if n in rec.ready]) == COUNT,
                timeout=900,
                interval=1,
            )
            t_all_ready = time.monotonic()
            time.sleep(5)
            writes = audit_writes(cluster, op.user, offset)
            many_reconciles = _reconciles(op, before)
            singles = [f"s{i:03d}" for i in range(SINGLES)]
            applied: dict[str, float] = {}
            offset = audit_offset(cluster)
            before = _reconciles(op)
            for n in singles:
                applied[n] = time.monotonic()
                apply(cluster, resource(n))
                wait_for(f"{n} Ready", lambda n=n: n in rec.ready, timeout=120, interval=0.1)
            time.sleep(5)
            single_writes = audit_writes(cluster, op.user, offset)
            single_reconciles = _reconciles(op, before)
            single_events = _events(cluster, since=applied[singles[0]] - time.monotonic())
            peak = op.peak_rss()
            rec.close()
        finally:
            op.stop()
    finally:
        cluster.stop()
    created = [max(rec.children[n].values()) - rec.seen[n] for n in names if len(rec.children[n]) >= CHILDREN]
    ready = [rec.ready[n] - rec.seen[n] for n in names]
    verbs = Counter(_verb(w) for w in writes)
    one_created = [max(rec.children[n].values()) - applied[n] for n in singles]
    one_ready = [rec.ready[n] - applied[n] for n in singles]
    return {
        "into_100": {
            "resources": SINGLES,
            "children_created_s": _spread(one_created),
            "ready_s": _spread(one_ready),
            "api_writes_per_resource": round(len(single_writes) / SINGLES, 2),
            "api_writes_by_verb": dict(sorted(Counter(_verb(w) for w in single_writes).items())),
            "api_writes_on": dict(Counter(_owner(w) for w in single_writes)),
            "events_by_reason": single_events,
            "reconciles": single_reconciles,
            "timed_from": "just before `kubectl apply` of the one resource (the apply's own time included)",
        },
        "resources": COUNT,
        "children_per_resource": CHILDREN,
        "apply_seconds": round(t_applied - t0, 2),
        "children_created_s": {
            "median": round(statistics.median(created), 2),
            "p95": round(pct(created, 0.95), 2),
            "max": round(max(created), 2),
            "complete": len(created),
        },
        "ready_s": {
            "median": round(statistics.median(ready), 2),
            "p95": round(pct(ready, 0.95), 2),
            "max": round(max(ready), 2),
            "all_ready": round(t_all_ready - t0, 2),
        },
        "api_writes_total": len(writes),
        "api_writes_per_resource": round(len(writes) / COUNT, 2),
        "api_writes_by_verb": dict(sorted(verbs.items())),
        "reconciles": many_reconciles,
        "operator_peak_rss_mib": round(peak / 2**20, 1),
        "engines": "cached: the warm-up resource's build Job was Complete before the 100 were applied",
        "machine": f"{sys.platform}, simulated nodes (KWOK); times include KWOK and the scheduler",
    }


def _verb(write: dict[str, Any]) -> str:
    ref = write["objectRef"]
    sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
    return f"{write['verb']} {ref.get('resource', '')}{sub}"


def _reconciles(op: Any, before: dict[str, float] | None = None) -> dict[str, float]:
    """Reconciles the operator ran (and their total seconds) since ``before``, from its own metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{op.metrics_port}/metrics", timeout=10).read().decode()
    now = {"count": 0.0, "seconds": 0.0}
    for line in text.splitlines():
        if line.startswith(f"{mn.OPERATOR_RECONCILE_SECONDS}_count"):
            now["count"] = float(line.split()[-1])
        elif line.startswith(f"{mn.OPERATOR_RECONCILE_SECONDS}_sum"):
            now["seconds"] = float(line.split()[-1])
    if before is None:
        return now
    count, secs = now["count"] - before["count"], now["seconds"] - before["seconds"]
    return {"count": count, "seconds": round(secs, 1), "mean_ms": round(1000 * secs / max(count, 1), 1)}


def _owner(write: dict[str, Any]) -> str:
    """Whose a write is: the new resources', the 100 settled ones', or the shared build Job's.

    Children and Events are named after their resource (``s003-gateway``, ``r042.1f…``).
    """
    name = str(write["objectRef"].get("name") or "")
    if name.startswith("s0"):
        return "the new resources and their children"
    if name.startswith("r0"):
        return "the 100 settled resources and their children"
    return "the shared build Job (each new resource adopts it)"


def _events(cluster: Any, since: float) -> dict[str, int]:
    """Events the operator posted in the last ``-since`` seconds, counted by reason and object kind."""
    out = cluster.kubectl("get", "events", "-n", NAMESPACE, "-o", "json").stdout
    cutoff = time.time() + since
    counted: Counter[str] = Counter()
    for e in json.loads(out)["items"]:
        if e.get("reportingComponent") != REPORTING_CONTROLLER:
            continue
        stamp = e.get("eventTime") or e.get("lastTimestamp") or e["metadata"]["creationTimestamp"]
        when = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
        if when >= cutoff:
            counted[f"{e['involvedObject'].get('name', '')[:1]}… {e.get('reason')}"] += 1
    return dict(sorted(counted.items()))


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "p95": round(pct(values, 0.95), 2),
        "max": round(max(values), 2),
    }


def markdown(r: dict[str, Any]) -> str:
    c, rd = r["children_created_s"], r["ready_s"]
    one = r["into_100"]
    oc, orr = one["children_created_s"], one["ready_s"]
    verbs = sorted(set(r["api_writes_by_verb"]) | set(one["api_writes_by_verb"]))
    many, few = r["api_writes_by_verb"], one["api_writes_by_verb"]
    rows = "\n".join(f"| {k} | {many.get(k, 0)} | {few.get(k, 0)} |" for k in verbs)
    whose = ", ".join(f"{k} {v}" for k, v in sorted(one["api_writes_on"].items()))
    posted = ", ".join(f"{k.split(' ', 1)[1]} {v}" for k, v in one["events_by_reason"].items()) or "none"
    return f"""# Operator benchmark: {r["resources"]} SeedCoderDeployments at once, then one at a time

Engines {r["engines"]}. One CPU pool and one gateway replica per resource.
Measured on the local control plane ({r["machine"]}).

## {r["resources"]} applied at once

Engines {r["engines"]}. One CPU pool and one gateway replica per resource.
Measured on the local control plane ({r["machine"]}).

| measure | median | p95 | max |
|---|---|---|---|
| created -> all {r["children_per_resource"]} children exist (s) | {c["median"]} | {c["p95"]} | {c["max"]} |
| created -> Ready=True (s) | {rd["median"]} | {rd["p95"]} | {rd["max"]} |

- all {r["resources"]} Ready {rd["all_ready"]} s after `kubectl apply` started (the apply of 100 objects
  itself took {r["apply_seconds"]} s on the same busy cores); times per resource start at its watch event
- API writes by the operator: {r["api_writes_total"]} ({r["api_writes_per_resource"]} per resource)
- operator peak memory (VmHWM): {r["operator_peak_rss_mib"]} MiB
- reconciles: {r["reconciles"]["count"]:.0f} ({r["reconciles"]["count"] / r["resources"]:.1f} per resource)


## {one["resources"]} applied one at a time into the cluster holding the {r["resources"]}

Each timed {one["timed_from"]}.

| measure | median | p95 | max |
|---|---|---|---|
| apply -> all {r["children_per_resource"]} children exist (s) | {oc["median"]} | {oc["p95"]} | {oc["max"]} |
| apply -> Ready=True (s) | {orr["median"]} | {orr["p95"]} | {orr["max"]} |

- API writes by the operator: {one["api_writes_per_resource"]} per resource; by whose they are:
  {whose}
- Events posted: {posted}
- reconciles while they were applied (the resync of all 110 included): {one["reconciles"]["count"]:.0f}

## API writes by verb and resource

| write | {r["resources"]} at once | {one["resources"]} one at a time |
|---|---|---|
{rows}
"""


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="operator-bench-") as tmp:
        result = run(Path(tmp))
    (RESULTS / "operator.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "operator.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
