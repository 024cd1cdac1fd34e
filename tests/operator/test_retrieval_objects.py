"""spec.retrieval: the indexing CronJob and Job, their NetworkPolicy, the gateway's index mount
and configuration (golden YAML), and status.retrieval from the indexing pods' reports."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.operator.objects import retrieval_objects
from seedcoder.operator.objects.desired import plan
from seedcoder.operator.reconcile.observe import may_have_index_objects

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import live, sample, with_path

GOLDEN = Path(__file__).parent / "golden" / "retrieval.yaml"
pytestmark = pytest.mark.usefixtures("pinned_repository_source")

RETRIEVAL: dict[str, Any] = {
    "index": {"claimName": "code-index"},
    "schedule": "15 */4 * * *",
    "sourceCIDRs": ["10.20.0.0/16"],
    "sources": {
        "git": [
            {
                "name": "payments",
                "url": "https://git.corp.internal/payments/core.git",
                "branch": "release",
                "credentialsSecretRef": {"name": "git-reader"},
                "include": ["**/*.py", "docs/**"],
                "exclude": ["vendor/**"],
            },
            {"name": "web-client", "url": "git://git.corp.internal/web.git"},
        ],
        "docs": [{"name": "handbook", "pvc": {"claimName": "docs"}, "path": "platform/handbook"}],
    },
    "prompt": {"maxChunks": 3, "budgetPercent": 30},
}


def _objects(retrieval: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    scd, pools = parsed(sample(retrieval=retrieval))
    p = plan(scd, pools, all_built(pools), SETTINGS)
    return {(o["kind"], o["metadata"]["name"]): o for o in p.owned}


def test_retrieval_objects_golden() -> None:
    objs = _objects(RETRIEVAL)
    job_name = next(n for k, n in objs if k == "Job")
    picked = [objs[("CronJob", "completions-index")], objs[("Job", job_name)],
              objs[("NetworkPolicy", "completions-index")]]  # fmt: skip
    text = yaml.safe_dump_all(picked, sort_keys=True, width=110)
    if os.environ.get("SEEDCODER_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), (
        "retrieval.yaml differs from the golden file (SEEDCODER_UPDATE_GOLDEN=1)"
    )


def test_pod_runs_the_index_command_with_sources_credentials_and_read_only_docs() -> None:
    objs = _objects(RETRIEVAL)
    cron = objs[("CronJob", "completions-index")]
    assert cron["spec"]["schedule"] == "15 */4 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["command"] == ["seedcoder", "index", "--out", "/var/lib/seedcoder/index",
                            "--docs-root", "/var/lib/seedcoder/docs"]  # fmt: skip
    env = {e["name"]: e for e in c["env"]}
    sources = json.loads(env["SEEDCODER_INDEX_SOURCES"]["value"])
    assert sources["git"][0]["branch"] == "release"
    assert env["SEEDCODER_GIT_PASSWORD_PAYMENTS"]["valueFrom"] == {
        "secretKeyRef": {"name": "git-reader", "key": "password"}
    }
    assert "SEEDCODER_GIT_PASSWORD_WEB_CLIENT" not in env  # no Secret, no variable
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    handbook = mounts["docs-handbook"]
    assert handbook["mountPath"] == "/var/lib/seedcoder/docs/handbook"
    assert (handbook["readOnly"], handbook["subPath"]) == (True, "platform/handbook")
    assert "readOnly" not in mounts["index"]
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    pol = objs[("NetworkPolicy", "completions-index")]["spec"]
    assert pol["ingress"] == []
    assert pol["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/16"}}]


def test_gateway_mounts_the_index_read_only_and_is_configured() -> None:
    objs = _objects(RETRIEVAL)
    dep = objs[("Deployment", "completions-gateway")]["spec"]["template"]["spec"]
    vols = {v["name"]: v for v in dep["volumes"]}
    assert vols["index"]["persistentVolumeClaim"] == {"claimName": "code-index", "readOnly": True}
    mount = next(m for m in dep["containers"][0]["volumeMounts"] if m["name"] == "index")
    assert mount["readOnly"] is True
    cm = objs[("ConfigMap", "completions-gateway")]
    cfg = GatewayConfig.model_validate_json(cm["data"]["gateway.json"])
    assert cfg.retrieval is not None
    assert (cfg.retrieval.index_dir, cfg.retrieval.max_chunks, cfg.retrieval.budget_fraction) == (
        "/var/lib/seedcoder/index", 3, 0.3)  # fmt: skip
    plain = _objects_without()
    assert ("CronJob", "completions-index") not in plain
    assert "index" not in {v["name"] for v in plain[("Deployment", "completions-gateway")]["spec"]["template"]
                           ["spec"]["volumes"]}  # fmt: skip


def _objects_without() -> dict[tuple[str, str], dict[str, Any]]:
    scd, pools = parsed(sample())
    p = plan(scd, pools, all_built(pools), SETTINGS)
    return {(o["kind"], o["metadata"]["name"]): o for o in p.owned}


def test_job_name_follows_the_sources() -> None:
    a = [n for k, n in _objects(RETRIEVAL) if k == "Job"]
    changed = json.loads(json.dumps(RETRIEVAL))
    changed["sources"]["git"][0]["branch"] = "main"
    b = [n for k, n in _objects(changed) if k == "Job"]
    assert len(a) == len(b) == 1
    assert a != b
    assert a == [n for k, n in _objects(RETRIEVAL) if k == "Job"]  # deterministic


def test_invalid_retrieval_specs_name_the_field() -> None:
    base = sample()["spec"]
    for bad, where in [
        ({**RETRIEVAL, "sources": {"git": [{"name": "Payments", "url": "https://x/y.git"}]}}, "name"),
        ({**RETRIEVAL, "sources": {"git": [{"name": "p", "url": "ssh://x/y.git"}]}}, "url"),
        ({**RETRIEVAL, "prompt": {"budgetPercent": 95}}, "budgetPercent"),
        (
            {**RETRIEVAL, "sources": {"docs": [{"name": "d", "pvc": {"claimName": "d"}, "path": "/etc"}]}},
            "path",
        ),
    ]:
        with pytest.raises(ValidationError, match=where):
            SeedCoderDeploymentSpec.model_validate({**base, "retrieval": bad})


def _pod(job: str, finished: str, message: str | None) -> dict[str, Any]:
    term = {"exitCode": 0, "finishedAt": finished, **({"message": message} if message is not None else {})}
    return {
        "metadata": {"labels": {"batch.kubernetes.io/job-name": job}},
        "status": {"containerStatuses": [{"name": "index", "state": {"terminated": term}}]},
    }


def test_index_status_from_termination_messages() -> None:
    assert retrieval_objects.index_status([]).state == "Pending"
    ok = json.dumps({"builtAt": "2026-12-01T10:00:00Z", "documents": 40, "chunks": 900, "errors": [],
                     "published": True})  # fmt: skip
    failed = json.dumps({"builtAt": "2026-12-01T14:00:00Z", "documents": 0, "chunks": 0,
                         "errors": ["git source 'payments': 401"], "published": False})  # fmt: skip
    st = retrieval_objects.index_status([_pod("a", "2026-12-01T10:01:00Z", ok)])
    assert (st.state, st.documents, st.chunks, st.last_index_time, st.job) == (
        "Indexed", 40, 900, "2026-12-01T10:00:00Z", "a")  # fmt: skip
    # the newest run failed: its errors show, the counts stay those of the index still served
    st = retrieval_objects.index_status(
        [_pod("b", "2026-12-01T14:01:00Z", failed), _pod("a", "2026-12-01T10:01:00Z", ok),
         _pod("c", "2026-12-01T09:00:00Z", "not json")]
    )  # fmt: skip
    assert (st.state, st.chunks, st.last_index_time, st.job) == ("Failed", 900, "2026-12-01T10:00:00Z", "b")
    assert st.errors == ["git source 'payments': 401"]


def test_a_failed_job_without_a_report_makes_the_status_failed() -> None:
    ok = json.dumps({"builtAt": "2026-12-01T10:00:00Z", "documents": 4, "chunks": 90, "errors": [],
                     "published": True})  # fmt: skip
    failed_job = {
        "metadata": {"name": "completions-index-29000000"},
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit",
                                   "lastTransitionTime": "2026-12-01T16:00:00Z"}]},
    }  # fmt: skip
    st = retrieval_objects.index_status([_pod("a", "2026-12-01T10:01:00Z", ok)], [failed_job])
    assert (st.state, st.job, st.chunks) == ("Failed", "completions-index-29000000", 90)
    assert st.errors == [
        "index Job completions-index-29000000 failed (BackoffLimitExceeded: Job has reached the specified "
        "backoff limit)"
    ]
    # an older failure does not hide a newer successful run
    old = json.loads(json.dumps(failed_job))
    old["status"]["conditions"][0]["lastTransitionTime"] = "2026-12-01T09:00:00Z"
    assert retrieval_objects.index_status([_pod("a", "2026-12-01T10:01:00Z", ok)], [old]).state == "Indexed"


def test_retrieval_children_are_listed_only_while_they_may_exist() -> None:
    def settled(body: dict[str, Any], status: dict[str, Any]) -> SeedCoderDeployment:
        out = live(body)
        out["status"] = {"observedGeneration": 1, **status}
        return SeedCoderDeployment.parse(out)

    plain = sample()
    assert not may_have_index_objects(settled(plain, {}))
    assert may_have_index_objects(SeedCoderDeployment.parse(live(plain)))  # not reconciled yet
    assert may_have_index_objects(settled(with_path(plain, "retrieval", RETRIEVAL), {}))
    # removed from the spec: listed until a status without the index is written
    assert may_have_index_objects(settled(plain, {"retrieval": {}}))
