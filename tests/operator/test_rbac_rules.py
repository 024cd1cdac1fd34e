"""The chart's RBAC rules allow every call the operator's code makes, on the API group it uses.

The cluster tests run the operator under exactly these rules and fail on a 403;
this pure test names the seam directly: each kind in the REST client's table
(``seedcoder.operator.kube.KINDS``) with the verbs the reconcile uses on it, and
the Events API, whose group must be the one the operator posts to (Kopf's own
poster, which would use core/v1 events, is switched off).
"""

from __future__ import annotations

from typing import Any

import kopf
import pytest
import yaml
from seedcoder.operator.handlers import kopf_settings
from seedcoder.operator.kube import KINDS

from tests.operator.harness import RBAC_RULES

USED: dict[str, set[str]] = {
    "SeedCoderDeployment": {"get", "list", "watch"},  # get: a SeedCoderFineTune's deployment
    "SeedCoderFineTune": {"list", "watch"},  # list: a deployment's gateway lists their adapters
    "Job": {"list", "watch", "create", "patch", "delete"},
    "CronJob": {"list", "create", "patch", "delete"},
    "Pod": {"list"},
    "PersistentVolumeClaim": {"get"},
    "Deployment": {"list", "watch", "create", "patch", "delete"},
    "Service": {"list", "create", "patch", "delete"},
    "ConfigMap": {"get", "list", "create", "patch", "delete"},  # get: a fine-tune reads its gateway config
    "PodDisruptionBudget": {"list", "create", "patch", "delete"},
    "NetworkPolicy": {"list", "create", "patch", "delete"},
    "Event": {"create"},
    "PodMonitor": {"list", "create", "patch", "delete"},
    "PrometheusRule": {"list", "create", "patch", "delete"},
}
"""Verbs per kind: list (observe), create + patch (server-side apply may create), delete, watch (Kopf)."""


def _allowed(group: str, resource: str) -> set[str]:
    rules: list[dict[str, Any]] = yaml.safe_load(RBAC_RULES.read_text())
    out: set[str] = set()
    for rule in rules:
        if group in rule["apiGroups"] and resource in rule["resources"]:
            out |= set(rule["verbs"])
    return out


def test_every_kind_the_operator_touches_is_in_the_table() -> None:
    assert set(KINDS) == set(USED)


@pytest.mark.parametrize("kind", sorted(USED))
def test_rules_allow_what_the_operator_does(kind: str) -> None:
    api_version = KINDS[kind].api_version
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    missing = USED[kind] - _allowed(group, KINDS[kind].plural)
    assert not missing, f"{kind} ({api_version}): the rules lack {sorted(missing)}"


def test_events_go_to_the_group_the_rules_allow_and_only_there() -> None:
    assert KINDS["Event"].api_version == "events.k8s.io/v1"
    assert _allowed("events.k8s.io", "events") == {"create"}
    assert _allowed("", "events") == set(), "core/v1 events are not used: Kopf's poster is off"
    assert kopf_settings(kopf.OperatorSettings()).posting.enabled is False


def test_status_is_written_through_its_subresource_and_the_resource_itself_never() -> None:
    assert "patch" in _allowed("seedcoder.dev", "seedcoderdeployments/status")
    assert not _allowed("seedcoder.dev", "seedcoderdeployments") & {"patch", "update", "create", "delete"}
    assert "patch" in _allowed("seedcoder.dev", "seedcoderfinetunes/status")
    assert not _allowed("seedcoder.dev", "seedcoderfinetunes") & {"patch", "update", "create", "delete"}
