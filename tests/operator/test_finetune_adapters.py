"""The deployment's gateway lists its fine-tunes' adapters: staged during evaluation, published after
the gate, gone after a rollback; llama.cpp pods mount the adapters; a fine-tune's change wakes its
deployment (pure: the objects the API server returns, no cluster)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import kopf
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.engines.lora import SERVING_LORA_DIR
from seedcoder.finetune import serving
from seedcoder.operator.finetune import publish
from seedcoder.operator.handlers import Runtime
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.objects import finetune_adapters, gateway_objects
from seedcoder.operator.objects.desired import Observed, plan
from seedcoder.operator.objects.finetune_adapters import deployment_adapters
from seedcoder.operator.settings import OperatorSettings

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path

PUBLISHED = {
    "name": "payments",
    "version": "r1",
    "model": "ByteDance-Seed/Seed-Coder-8B-Base:payments",
    "claimName": "finetune-workspace",
    "path": "adapters/pay-tune/r1",
    "teams": ["team-a"],
    "publishedTime": "2026-12-01T10:00:00Z",
}


def _stages(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": n, "state": s} for n, s in pairs]


EVALUATING = _stages(("Dataset", "Succeeded"), ("Training", "Succeeded"), ("Evaluation", "Running"))
PUBLISHING = _stages(
    ("Dataset", "Succeeded"),
    ("Training", "Succeeded"),
    ("Evaluation", "Succeeded"),
    ("Gate", "Succeeded"),
    ("Publish", "Running"),
)


def finetune(
    name: str = "pay-tune",
    *,
    deployment: str = "completions",
    status: dict[str, Any] | None = None,
    claim: str = "finetune-workspace",
    adapter: str | None = "payments",
    teams: tuple[str, ...] = ("team-a",),
) -> dict[str, Any]:
    publish_spec: dict[str, Any] = {"teams": list(teams)}
    if adapter:
        publish_spec["adapterName"] = adapter
    return {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderFineTune",
        "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}"},
        "spec": {
            "deploymentRef": {"name": deployment},
            "workspace": {"claimName": claim},
            "gate": {"apiKeySecretRef": "eval-key"},
            "publish": publish_spec,
        },
        "status": status or {},
    }


def test_a_run_under_evaluation_is_staged_unpublished_by_its_versioned_name() -> None:
    got = deployment_adapters("completions", [finetune(status={"run": "r2", "stages": EVALUATING})])
    assert got.claim == "finetune-workspace"
    assert got.adapters == [
        serving.adapter_entry(
            namespace="ml", finetune="pay-tune", run="r2", name="payments-r2", published=False
        )
    ]
    (entry,) = got.adapters
    assert (entry.published, entry.teams, entry.gguf) == (False, [], "pay-tune/r2/adapter.gguf")


def test_a_published_adapter_is_served_by_its_name_for_its_teams_beside_the_next_candidate() -> None:
    status = {"run": "r2", "stages": EVALUATING, "adapter": PUBLISHED}
    got = deployment_adapters("completions", [finetune(status=status)])
    assert [(a.name, a.published, a.teams, a.gguf) for a in got.adapters] == [
        ("payments", True, ["team-a"], "pay-tune/r1/adapter.gguf"),
        ("payments-r2", False, [], "pay-tune/r2/adapter.gguf"),
    ]
    assert got.adapters[0].created == int(
        datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()
    )  # publishedTime as Unix time (/v1/models)
    # the staged entry leaves once evaluation ended; the published one stays
    judged = {
        "run": "r2",
        "stages": _stages(("Evaluation", "Succeeded"), ("Gate", "Failed")),
        "adapter": PUBLISHED,
    }
    assert [a.name for a in deployment_adapters("completions", [finetune(status=judged)]).adapters] == [
        "payments"
    ]


def test_rollback_other_deployments_deleted_and_invalid_fine_tunes_give_nothing() -> None:
    rolled = {
        "adapter": PUBLISHED,
        "rollback": {
            "adapter": "payments",
            "version": "r1",
            "reason": "AcceptanceBelowBase",
            "message": "rolled back",
            "time": "2026-12-02T00:00:00Z",
        },
    }
    deleting = finetune(status={"adapter": PUBLISHED})
    deleting["metadata"]["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    invalid = finetune(status={"adapter": PUBLISHED})
    del invalid["spec"]["gate"]
    for body in (
        finetune(status=rolled),
        finetune(deployment="other", status={"adapter": PUBLISHED}),
        deleting,
        invalid,
        finetune(status={"run": "r1", "stages": PUBLISHING}),  # no record yet: nothing to serve
    ):
        assert deployment_adapters("completions", [body]).adapters == [], body


def test_clashes_are_settled_by_name_order_one_claim_one_name_one_team() -> None:
    first = finetune(
        "a-tune",
        adapter="shared",
        status={"adapter": {**PUBLISHED, "name": "shared", "path": "adapters/a-tune/r1"}},
    )
    same_name = finetune(
        "b-tune",
        adapter="shared",
        status={"adapter": {**PUBLISHED, "name": "shared", "path": "adapters/b-tune/r1"}},
    )
    same_team = finetune(
        "c-tune",
        adapter="cee",
        status={"adapter": {**PUBLISHED, "name": "cee", "path": "adapters/c-tune/r1"}},
    )
    other_claim = finetune(
        "d-tune",
        adapter="dee",
        claim="elsewhere",
        teams=(),
        status={"adapter": {**PUBLISHED, "name": "dee", "teams": []}},
    )
    fine = finetune(
        "e-tune",
        adapter="eee",
        teams=("team-e",),
        status={"adapter": {**PUBLISHED, "name": "eee", "teams": ["team-e"], "path": "adapters/e-tune/r1"}},
    )
    bodies = [fine, other_claim, same_team, same_name, first]
    got = deployment_adapters("completions", bodies)
    assert [(a.name, a.gguf) for a in got.adapters] == [
        ("eee", "e-tune/r1/adapter.gguf"),
        ("shared", "a-tune/r1/adapter.gguf"),
    ]
    assert got == deployment_adapters("completions", list(reversed(bodies)))  # stable: no ConfigMap churn
    # what is listed is a valid gateway configuration
    scd, pools = parsed()
    p = plan(scd, pools, _observed(pools, bodies), SETTINGS)
    assert [a.name for a in _config(p).adapters] == ["eee", "shared"]


def _observed(pools: list[Any], finetunes: list[dict[str, Any]]) -> Observed:
    observed = all_built(pools)
    observed.adapters = deployment_adapters("completions", finetunes)
    return observed


def _config(p: Any) -> GatewayConfig:
    (cm,) = [
        o for o in p.owned if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "completions-gateway"
    ]
    return GatewayConfig.model_validate_json(cm["data"][gateway_objects.CONFIG_KEY])


def _triton_pods(p: Any) -> list[dict[str, Any]]:
    return [
        o["spec"]["template"]["spec"]
        for o in p.owned
        if o["kind"] == "Deployment" and o["metadata"]["name"] != "completions-gateway"
    ]


def test_the_plan_lists_the_adapters_and_the_publish_stage_sees_them_in_the_config_map() -> None:
    scd, pools = parsed()
    bare = plan(scd, pools, all_built(pools), SETTINGS)
    status = {"run": "r2", "stages": EVALUATING, "adapter": PUBLISHED}
    p = plan(scd, pools, _observed(pools, [finetune(status=status)]), SETTINGS)
    config = _config(p)
    assert [(a.name, a.published) for a in config.adapters] == [("payments", True), ("payments-r2", False)]
    cm = next(
        o for o in p.owned if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "completions-gateway"
    )
    assert publish.served_adapters("pay-tune", cm) == {"payments-r1"}  # the staged one is not "served"
    assert publish.served_adapters("pay-tune", None) == frozenset()
    assert publish.served_adapters("pay-tune", {"data": {gateway_objects.CONFIG_KEY: "{"}}) == frozenset()
    # the gateway pods roll to the new file (its checksum); without adapters nothing changed at all
    gw = [o for o in p.owned if o["metadata"]["name"] == "completions-gateway" and o["kind"] == "Deployment"]
    gw_bare = [
        o for o in bare.owned if o["metadata"]["name"] == "completions-gateway" and o["kind"] == "Deployment"
    ]
    assert gw[0]["spec"]["template"]["metadata"] != gw_bare[0]["spec"]["template"]["metadata"]
    assert "adapters" not in json.loads(_config_text(bare))
    assert plan(scd, pools, _observed(pools, []), SETTINGS).owned == bare.owned
    # TensorRT-LLM pools read adapters through their engine's own lora_dir: no workspace mount
    for pod in _triton_pods(p):
        assert "adapters" not in {v["name"] for v in pod["volumes"]}


def _config_text(p: Any) -> str:
    cm = next(
        o for o in p.owned if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "completions-gateway"
    )
    text: str = cm["data"][gateway_objects.CONFIG_KEY]
    return text


def test_llamacpp_pods_mount_the_workspace_adapters_read_only_only_while_there_are_adapters() -> None:
    body = with_path(sample(), "pools", [{"name": "cpu", "gpu": "CPU"}])
    scd, pools = parsed(with_path(body, "gateway.maxContextTokens", 1024))
    without = _triton_pods(plan(scd, pools, all_built(pools), SETTINGS))
    (pod,) = _triton_pods(
        plan(scd, pools, _observed(pools, [finetune(status={"adapter": PUBLISHED})]), SETTINGS)
    )
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["adapters"] == {
        "name": "adapters",
        "persistentVolumeClaim": {"claimName": "finetune-workspace", "readOnly": True},
    }
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "adapters"]
    assert mount == {
        "name": "adapters",
        "mountPath": SERVING_LORA_DIR,
        "subPath": "adapters",
        "readOnly": True,
    }
    assert "adapters" not in {v["name"] for v in without[0]["volumes"]}


def _runtime(*deployments: str) -> Runtime:
    deps = SimpleNamespace(settings=OperatorSettings())  # no reconcile runs here: no API client
    rt = Runtime(deps=deps, metrics=OperatorMetrics())  # type: ignore[arg-type]
    for name in deployments:
        rt.seen(kopf.Body({"metadata": {"uid": f"uid-{name}", "name": name, "namespace": "ml"}}))
    return rt


def test_a_fine_tune_wakes_the_deployments_whose_adapters_it_changes_and_only_those() -> None:
    rt = _runtime("completions", "other")
    key = (finetune_adapters.KIND, "pay-tune")
    created = finetune()
    assert rt.deployments_to_wake(kopf.Body(created), deleted=False) == []  # gives nobody an adapter yet
    evaluating = finetune(status={"run": "r1", "stages": EVALUATING})
    assert rt.deployments_to_wake(kopf.Body(evaluating), deleted=False) == [
        ("uid-completions", "completions")
    ]
    rt.children["uid-completions"] = {key: finetune_adapters.fingerprint("completions", evaluating)}
    assert rt.deployments_to_wake(kopf.Body(copy.deepcopy(evaluating)), deleted=False) == []  # seen
    published = finetune(status={"run": "r1", "stages": PUBLISHING, "adapter": PUBLISHED})
    assert rt.deployments_to_wake(kopf.Body(published), deleted=False) == [("uid-completions", "completions")]
    rt.children["uid-completions"] = {key: finetune_adapters.fingerprint("completions", published)}
    # moved to another deployment: the old one drops its adapter, the new one lists it
    moved = finetune(deployment="other", status=published["status"])
    assert rt.deployments_to_wake(kopf.Body(moved), deleted=False) == [
        ("uid-completions", "completions"),
        ("uid-other", "other"),
    ]
    assert rt.deployments_to_wake(kopf.Body(published), deleted=True) == [("uid-completions", "completions")]
    elsewhere = copy.deepcopy(published)
    elsewhere["metadata"]["namespace"] = "team-b"
    assert rt.deployments_to_wake(kopf.Body(elsewhere), deleted=False) == []
