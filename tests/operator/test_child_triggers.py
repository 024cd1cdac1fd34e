"""A child's watch event wakes its owner only when what the reconcile reads of it changed."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from seedcoder.operator.handlers import Runtime
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects.observed import fingerprint
from seedcoder.operator.settings import FIELD_MANAGER, OperatorSettings


def _deployment(**status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "demo-triton-cpu",
            "generation": 1,
            "resourceVersion": "10",
            "labels": {"seedcoder.dev/engine-key": "abc"},
            "annotations": {"seedcoder.dev/desired-hash": "h1"},
            "ownerReferences": [
                {
                    "apiVersion": "seedcoder.dev/v1alpha1",
                    "kind": "SeedCoderDeployment",
                    "name": "demo",
                    "uid": "owner-1",
                }
            ],
        },
        "spec": {"replicas": 1},
        "status": status,
    }


def _job(*conditions: dict[str, str], owners: int = 1) -> dict[str, Any]:
    return {
        "kind": "Job",
        "metadata": {
            "name": "seedcoder-engine-abc",
            "resourceVersion": "20",
            "labels": {"seedcoder.dev/engine-key": "abc"},
            "ownerReferences": [
                {
                    "apiVersion": "seedcoder.dev/v1alpha1",
                    "kind": "SeedCoderDeployment",
                    "name": f"r{i}",
                    "uid": f"owner-{i}",
                }
                for i in range(owners)
            ],
        },
        "status": {"conditions": list(conditions)} if conditions else {},
    }


def test_bookkeeping_of_a_deployment_leaves_its_fingerprint_alone() -> None:
    before = _deployment(readyReplicas=0, observedGeneration=1)
    after = copy.deepcopy(before)
    after["metadata"]["resourceVersion"] = "11"
    after["status"]["conditions"] = [{"type": "Progressing", "lastUpdateTime": "2026-12-02T03:00:00Z"}]
    assert fingerprint("Deployment", before, FIELD_MANAGER) == fingerprint("Deployment", after, FIELD_MANAGER)


def test_a_ready_replica_changes_the_fingerprint() -> None:
    before = _deployment(readyReplicas=0, observedGeneration=1)
    after = _deployment(readyReplicas=1, availableReplicas=1, observedGeneration=1)
    assert fingerprint("Deployment", before, FIELD_MANAGER) != fingerprint("Deployment", after, FIELD_MANAGER)


def test_adopting_a_shared_job_leaves_its_fingerprint_alone_and_completion_changes_it() -> None:
    one, many = _job(owners=1), _job(owners=50)
    many["metadata"]["resourceVersion"] = "21"
    assert fingerprint("Job", one, FIELD_MANAGER) == fingerprint("Job", many, FIELD_MANAGER)
    done = _job({"type": "Complete", "status": "True"}, owners=50)
    assert fingerprint("Job", done, FIELD_MANAGER) != fingerprint("Job", many, FIELD_MANAGER)


def test_only_deployments_and_jobs_have_fingerprints() -> None:
    with pytest.raises(ValueError, match="ConfigMap"):
        fingerprint("ConfigMap", {"metadata": {"name": "x"}}, FIELD_MANAGER)


def _runtime(*owners: str) -> Runtime:
    deps = SimpleNamespace(settings=OperatorSettings())  # no reconcile runs here: no API client
    rt = Runtime(deps=deps, metrics=OperatorMetrics())  # type: ignore[arg-type]
    for uid in owners:
        rt.seen(kopf.Body({"metadata": {"uid": uid, "name": uid, "namespace": "ns"}}))
    return rt


def test_an_owner_is_woken_until_its_reconcile_has_seen_the_child() -> None:
    rt = _runtime("owner-1")
    dep = _deployment(readyReplicas=0, observedGeneration=1)
    assert rt.owners_to_wake("Deployment", kopf.Body(dep)) == [("owner-1", "demo")]
    rt.children["owner-1"] = {
        ("Deployment", "demo-triton-cpu"): fingerprint("Deployment", dep, FIELD_MANAGER)
    }
    assert rt.owners_to_wake("Deployment", kopf.Body(dep)) == []
    ready = _deployment(readyReplicas=1, availableReplicas=1, observedGeneration=1)
    assert rt.owners_to_wake("Deployment", kopf.Body(ready)) == [("owner-1", "demo")]


def test_a_shared_job_wakes_only_the_owners_that_saw_it_otherwise_and_are_known() -> None:
    rt = _runtime("owner-0", "owner-1")
    job = _job(owners=3)  # owner-2 is not (or no longer) watched
    rt.children["owner-0"] = {("Job", "seedcoder-engine-abc"): fingerprint("Job", job, FIELD_MANAGER)}
    assert rt.owners_to_wake("Job", kopf.Body(job)) == [("owner-1", "r1")]
    rt.forget("owner-1")
    assert rt.owners_to_wake("Job", kopf.Body(job)) == []
