"""Desired objects are pinned by golden YAML (``SEEDCODER_UPDATE_GOLDEN=1`` rewrites them).

The golden files are the review surface of every manifest the operator writes:
a change to a builder shows up as a diff of these files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.objects.finetune_adapters import deployment_adapters

from tests.operator.helpers import SETTINGS, all_built, deployment, parsed
from tests.operator.sample import sample, with_path
from tests.operator.test_finetune_adapters import EVALUATING, PUBLISHED, finetune

GOLDEN = Path(__file__).parent / "golden"
pytestmark = pytest.mark.usefixtures("pinned_repository_source")


def _check(name: str, objects: list[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(objects, sort_keys=True, width=110)
    path = GOLDEN / name
    if os.environ.get("SEEDCODER_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}: run with SEEDCODER_UPDATE_GOLDEN=1"
    assert text == path.read_text(), (
        f"{name} differs from the golden file (SEEDCODER_UPDATE_GOLDEN=1 to accept)"
    )


def test_nothing_built_yet_plans_one_build_job_per_arch() -> None:
    scd, pools = parsed()
    p = plan(scd, pools, Observed(), SETTINGS)
    assert p.serving == {}
    assert not p.gateway_deployed
    _check("build-jobs.yaml", p.new_jobs)
    _check("network-before-serving.yaml", p.owned)


def test_all_engines_built_plans_every_serving_object() -> None:
    scd, pools = parsed()
    p = plan(scd, pools, all_built(pools), SETTINGS)
    assert p.new_jobs == []
    assert p.serving == {"h100": pools[0].key, "a100": pools[1].key}
    _check("serving.yaml", p.owned)


def test_internal_load_balancer_and_s3_source() -> None:
    body = with_path(
        sample(),
        "model.source",
        {
            "s3": {
                "uri": "s3://models/seed-coder",
                "endpoint": "https://bucket.vpce-1.s3.us-east-1.vpce.amazonaws.com",
                "secretRef": {"name": "s3-creds"},
            }
        },
    )
    body = with_path(body, "network.exposure", "InternalLoadBalancer")
    body = with_path(body, "network.modelSourceCIDRs", ["10.20.0.0/16"])
    scd, pools = parsed(body)
    p = plan(scd, pools, all_built(pools), SETTINGS)
    picked = [
        o
        for o in p.owned
        if (o["kind"], o["metadata"]["name"])
        in {("Service", "completions-gateway"), ("NetworkPolicy", "completions-engine-build")}
    ]
    _check("internal-lb-s3.yaml", picked + plan(scd, pools, Observed(), SETTINGS).new_jobs[:1])


def test_slo_mode_leaves_replicas_to_the_autoscaler_once_it_took_them() -> None:
    scd, pools = parsed(with_path(sample(), "autoscaling.mode", "slo"))
    observed = all_built(pools)
    first = plan(scd, pools, observed, SETTINGS)
    deps = {o["metadata"]["name"]: o for o in first.owned if o["kind"] == "Deployment"}
    assert deps["completions-triton-h100"]["spec"]["replicas"] == 1  # created at minReplicas
    observed.triton["h100"] = deployment("completions-triton-h100", pools[0].key, replicas=3, owns=False)
    later = plan(scd, pools, observed, SETTINGS)
    dep = next(
        o
        for o in later.owned
        if o["metadata"]["name"] == "completions-triton-h100" and o["kind"] == "Deployment"
    )
    assert "replicas" not in dep["spec"]
    # the hash ignores replicas in slo mode, so the hand-over itself causes no write
    h = "seedcoder.dev/desired-hash"
    assert dep["metadata"]["annotations"][h] == deps["completions-triton-h100"]["metadata"]["annotations"][h]


def test_new_engine_builds_while_the_old_one_keeps_serving() -> None:
    scd, pools = parsed()
    old_key = "0123456789abcdef"
    observed = Observed(jobs={pools[1].key: all_built(pools).jobs[pools[1].key]})
    observed.triton["h100"] = deployment("completions-triton-h100", old_key)
    p = plan(scd, pools, observed, SETTINGS)
    assert p.kept == {"completions-triton-h100"}
    assert p.serving["h100"] == old_key
    assert old_key in p.keys_in_use
    assert pools[0].key in p.keys_in_use
    assert [j["metadata"]["name"] for j in p.new_jobs] == [f"seedcoder-engine-{pools[0].key}"]
    assert not any(
        o["kind"] == "Deployment" and o["metadata"]["name"] == "completions-triton-h100" for o in p.owned
    )


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_every_pod_is_restricted(kind: str) -> None:
    scd, pools = parsed()
    objs = (
        plan(scd, pools, all_built(pools), SETTINGS).owned + plan(scd, pools, Observed(), SETTINGS).new_jobs
    )
    for obj in (o for o in objs if o["kind"] == kind):
        pod = obj["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}


def test_a_llamacpp_pool_serving_fine_tuned_adapters() -> None:
    """The gateway file lists the staged and the published adapter; Triton mounts their folder."""
    body = with_path(sample(), "pools", [{"name": "cpu", "gpu": "CPU"}])
    scd, pools = parsed(with_path(body, "gateway.maxContextTokens", 1024))
    observed = all_built(pools)
    observed.adapters = deployment_adapters(
        "completions", [finetune(status={"run": "r2", "stages": EVALUATING, "adapter": PUBLISHED})]
    )
    p = plan(scd, pools, observed, SETTINGS)
    picked = [o for o in p.owned if o["kind"] in ("ConfigMap", "Deployment")]
    _check("serving-adapters.yaml", picked)
