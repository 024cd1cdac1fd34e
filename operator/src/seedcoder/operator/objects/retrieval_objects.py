"""The indexing CronJob and Job, their NetworkPolicy, and the index status (pure builders).

Why both a CronJob and a Job: the CronJob refreshes the index on the spec's
schedule, but nothing would exist until its first tick; a Job named after the
hash of its pod template runs at once and again whenever the sources (or the
image) change, while the old one is deleted as no longer wanted. Both run
``seedcoder index``, which writes a new build to the index claim and publishes
it; every gateway replica mounts the claim read-only and switches to a newly
published build on its own. The pod reports its summary (time, documents,
chunks, errors) as its termination message, which ``index_status`` turns into
``status.retrieval`` without the operator ever reading the claim.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any, Literal

from seedcoder.api.retrieval import RetrievalConfig, RetrievalSpec, RetrievalStatus
from seedcoder.operator.objects import names, podsec
from seedcoder.operator.objects.image_choice import ImageChoice
from seedcoder.operator.objects.podsec import Manifest

COMPONENT_INDEX = "code-index"
CONTAINER = "index"
INDEX_DIR = "/var/lib/seedcoder/index"
DOCS_DIR = "/var/lib/seedcoder/docs"
SOURCES_ENV = "SEEDCODER_INDEX_SOURCES"
GIT_PORTS = (443, 80, 9418)


def cronjob_name(instance: str) -> str:
    return f"{instance}-index"


def index_labels(instance: str) -> dict[str, str]:
    return names.instance_labels(instance, COMPONENT_INDEX)


def index_selector(instance: str) -> str:
    return f"{names.instance_selector(instance)},{names.LABEL_COMPONENT}={COMPONENT_INDEX}"


def _git_env(r: RetrievalSpec) -> list[Manifest]:
    env: list[Manifest] = []
    for src in r.sources.git:
        if src.credentials_secret_ref is None:
            continue
        suffix = src.name.upper().replace("-", "_")
        for key, var, optional in (("username", "USERNAME", True), ("password", "PASSWORD", False)):
            ref: Manifest = {"name": src.credentials_secret_ref.name, "key": key}
            if optional:  # a token alone is enough for most Git hosts
                ref["optional"] = True
            env.append({"name": f"SEEDCODER_GIT_{var}_{suffix}", "valueFrom": {"secretKeyRef": ref}})
    return env


def pod_template(instance: str, r: RetrievalSpec, images: ImageChoice) -> Manifest:
    """The indexing pod: the index claim read-write, each docs claim read-only, nothing else."""
    sources = json.dumps(r.sources.wire(), sort_keys=True, separators=(",", ":"))
    mounts: list[Manifest] = [
        {"name": "index", "mountPath": INDEX_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[Manifest] = [
        {"name": "index", "persistentVolumeClaim": {"claimName": r.index.claim_name}},
        {"name": "tmp", "emptyDir": {}},
    ]
    for docs in r.sources.docs:
        vol = f"docs-{docs.name}"[:63]
        mount: Manifest = {"name": vol, "mountPath": f"{DOCS_DIR}/{docs.name}", "readOnly": True}
        if docs.path:
            mount["subPath"] = docs.path
        mounts.append(mount)
        volumes.append(
            {"name": vol, "persistentVolumeClaim": {"claimName": docs.pvc.claim_name, "readOnly": True}}
        )
    container: Manifest = {
        "name": CONTAINER,
        "image": images.seedcoder,
        "imagePullPolicy": images.pull_policy,
        "command": ["seedcoder", "index", "--out", INDEX_DIR, "--docs-root", DOCS_DIR],
        "env": [{"name": SOURCES_ENV, "value": sources}, *_git_env(r)],
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": mounts,
        "securityContext": podsec.container_security(),
        "terminationMessagePolicy": "File",
    }
    return {
        "metadata": {"labels": index_labels(instance)},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": podsec.pod_security(),
            **images.pod_fields(),
            "containers": [container],
            "volumes": volumes,
        },
    }


def _job_spec(template: Manifest) -> Manifest:
    return {"backoffLimit": 2, "activeDeadlineSeconds": 3600, "template": template}


def template_hash(template: Manifest) -> str:
    text = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def job(*, instance: str, namespace: str, r: RetrievalSpec, images: ImageChoice) -> Manifest:
    """The run-now Job, named after its pod template: new sources (or image) make a new Job."""
    template = pod_template(instance, r, images)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{cronjob_name(instance)}-{template_hash(template)}",
            "namespace": namespace,
            "labels": index_labels(instance),
        },
        "spec": _job_spec(template),
    }


def cronjob(*, instance: str, namespace: str, r: RetrievalSpec, images: ImageChoice) -> Manifest:
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": cronjob_name(instance),
            "namespace": namespace,
            "labels": index_labels(instance),
        },
        "spec": {
            "schedule": r.schedule,
            "suspend": r.suspend,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 2,
            "failedJobsHistoryLimit": 2,
            "jobTemplate": {
                "metadata": {"labels": index_labels(instance)},
                "spec": _job_spec(pod_template(instance, r, images)),
            },
        },
    }


def network_policy(*, instance: str, namespace: str, r: RetrievalSpec) -> Manifest:
    """Indexing pods: no ingress; egress to DNS and the Git hosts' ranges only."""
    from seedcoder.operator.objects.netpol import DNS_EGRESS

    egress: list[Manifest] = [DNS_EGRESS]
    if r.source_cidrs:
        egress.append(
            {
                "to": [{"ipBlock": {"cidr": c}} for c in r.source_cidrs],
                "ports": [{"protocol": "TCP", "port": p} for p in GIT_PORTS],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": names.netpol(instance, "index"),
            "namespace": namespace,
            "labels": index_labels(instance),
        },
        "spec": {
            "podSelector": {
                "matchLabels": {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: COMPONENT_INDEX}
            },
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    }


def gateway_config(r: RetrievalSpec) -> RetrievalConfig:
    return RetrievalConfig(
        index_dir=INDEX_DIR, max_chunks=r.prompt.max_chunks, budget_fraction=r.prompt.budget_percent / 100
    )


def _report(pod: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """(finishedAt, job name, summary) of a finished indexing pod; None when it left no summary."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") != CONTAINER:
            continue
        term = (cs.get("state") or {}).get("terminated") or {}
        try:
            data = json.loads(term.get("message") or "")
        except ValueError:
            continue
        if isinstance(data, dict):
            labels = (pod.get("metadata") or {}).get("labels") or {}
            job_name = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name") or ""
            return str(term.get("finishedAt") or ""), str(job_name), data
    return None


def _job_failure(job: dict[str, Any]) -> tuple[str, str, str] | None:
    """(time, job name, error) of a Job the Job controller gave up on."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Failed" and cond.get("status") == "True":
            name = str((job.get("metadata") or {}).get("name", ""))
            why = f"{cond.get('reason') or 'Failed'}: {cond.get('message') or ''}".rstrip(": ")
            return str(cond.get("lastTransitionTime") or ""), name, f"index Job {name} failed ({why})"
    return None


def index_status(pods: list[dict[str, Any]], jobs: Sequence[dict[str, Any]] = ()) -> RetrievalStatus:
    """``status.retrieval`` from the indexing pods' termination messages (newest run wins); a Job
    that failed after the newest report (no summary: killed, image not pulled) makes it Failed."""
    reports = sorted(r for p in pods if (r := _report(p)) is not None)
    failures = sorted(f for j in jobs if (f := _job_failure(j)) is not None)
    published = [d for _, _, d in reports if d.get("published")]
    served = published[-1] if published else None
    state: Literal["Pending", "Indexed", "Failed"] = "Pending"
    errors: list[str] = []
    job_name = ""
    if reports:
        _, job_name, last = reports[-1]
        state = "Indexed" if last.get("published") else "Failed"
        errors = [str(e)[:512] for e in last.get("errors", [])]
    if failures and (not reports or failures[-1][0] > reports[-1][0]):
        _, job_name, error = failures[-1]
        state, errors = "Failed", [error[:512]]
    return RetrievalStatus(
        state=state,
        last_index_time=str(served.get("builtAt")) if served else None,
        documents=int(served.get("documents", 0)) if served else 0,
        chunks=int(served.get("chunks", 0)) if served else 0,
        errors=errors[:20],
        job=job_name or None,
    )
