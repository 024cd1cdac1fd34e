"""Every desired object is stamped once, at the end of the plan: the desired-hash
annotation (what makes a no-op reconcile write nothing), the controller
ownerReference (what the garbage collector follows) and the resource's labels."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.observability.rules import monitoring_objects
from seedcoder.operator.objects import names, triton
from seedcoder.operator.objects.desired import Observed, Plan, desired_hash, plan

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path
from tests.operator.test_retrieval_objects import RETRIEVAL

pytestmark = pytest.mark.usefixtures("pinned_repository_source")


def _plans() -> list[tuple[str, SeedCoderDeployment, Plan, bool]]:
    out = []
    for label, body, built in [
        ("nothing built", sample(), False),
        ("fixed, all built", sample(), True),
        ("slo, all built", with_path(sample(), "autoscaling.mode", "slo"), True),
        ("retrieval", sample(retrieval=RETRIEVAL), True),
    ]:
        scd, pools = parsed(body)
        observed = all_built(pools) if built else Observed()
        p = plan(scd, pools, observed, SETTINGS, monitoring_objects(scd))
        out.append((label, scd, p, scd.spec.autoscaling.mode == "slo"))
    return out


def _unstamped(o: dict[str, Any]) -> dict[str, Any]:
    """The object as its builder made it: without the stamp (nor an annotations map it alone filled)."""
    body = copy.deepcopy(o)
    del body["metadata"]["ownerReferences"]
    annotations = body["metadata"]["annotations"]
    annotations.pop(names.ANNOTATION_HASH)
    if not annotations:
        del body["metadata"]["annotations"]
    return body


def _is_triton_deployment(o: dict[str, Any]) -> bool:
    return o["kind"] == "Deployment" and o["metadata"]["labels"][names.LABEL_COMPONENT] == "triton"


def test_every_desired_object_carries_the_stamp() -> None:
    seen_kinds: set[str] = set()
    for label, scd, p, slo in _plans():
        assert p.owned, label
        for o in p.owned:
            what = f"{label}: {o['kind']}/{o['metadata']['name']}"
            seen_kinds.add(o["kind"])
            meta = o["metadata"]
            assert meta["namespace"] == scd.metadata.namespace, what
            assert meta["labels"][names.LABEL_MANAGED_BY] == names.MANAGED_BY, what
            assert meta["labels"][names.LABEL_INSTANCE] == scd.metadata.name, what
            assert meta["ownerReferences"] == [scd.owner_reference(controller=True)], what
            digest = meta["annotations"][names.ANNOTATION_HASH]
            assert digest == desired_hash(_unstamped(o), ignore_replicas=slo and _is_triton_deployment(o)), (
                what
            )
    # the set covers every kind the operator owns, the monitoring objects included
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "NetworkPolicy", "CronJob", "Job",
            "PrometheusRule", "PodMonitor"} <= seen_kinds  # fmt: skip


def test_objects_are_not_shared_between_plans() -> None:
    """The stamp deep-copies: changing one plan's object never changes another's."""
    scd, pools = parsed()
    first = plan(scd, pools, all_built(pools), SETTINGS)
    second = plan(scd, pools, all_built(pools), SETTINGS)
    first.owned[0]["metadata"]["labels"]["changed"] = "yes"
    assert "changed" not in second.owned[0]["metadata"]["labels"]
    assert first.owned[1:] == second.owned[1:]


def test_in_slo_mode_only_the_triton_replicas_leave_the_hash() -> None:
    for mode, ignored in [("slo", True), ("fixed", False)]:
        scd, pools = parsed(with_path(sample(), "autoscaling.mode", mode))
        p = plan(scd, pools, all_built(pools), SETTINGS)
        for o in p.owned:
            if o["kind"] != "Deployment":
                continue
            bumped = {**o, "spec": {**o["spec"], "replicas": (o["spec"].get("replicas") or 0) + 3}}
            same = (
                desired_hash(_unstamped(bumped), ignore_replicas=True)
                == o["metadata"]["annotations"][names.ANNOTATION_HASH]
            )
            assert same == (ignored and _is_triton_deployment(o)), (mode, o["metadata"]["name"])


def test_the_builders_leave_the_stamp_to_the_plan() -> None:
    """One place stamps: a builder's manifest has no desired-hash annotation or owner of its own."""
    _, pools = parsed()
    pe = pools[0]
    svc = triton.service(instance="completions", namespace="ml", pool=pe.pool, arch=pe.profile.arch)
    assert names.ANNOTATION_HASH not in (svc["metadata"].get("annotations") or {})
    assert "ownerReferences" not in svc["metadata"]
