"""A PodDisruptionBudget only where it means something: components that may run two replicas."""

from __future__ import annotations

from typing import Any

from seedcoder.operator.objects.desired import plan

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path


def _budgets(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scd, pools = parsed(body)
    owned = plan(scd, pools, all_built(pools), SETTINGS).owned
    return {o["metadata"]["name"]: o for o in owned if o["kind"] == "PodDisruptionBudget"}


def test_scalable_pools_and_a_replicated_gateway_get_one_at_a_time_budgets() -> None:
    budgets = _budgets(sample())
    assert set(budgets) == {"completions-triton-h100", "completions-triton-a100", "completions-gateway"}
    assert all(b["spec"]["maxUnavailable"] == 1 for b in budgets.values())


def test_single_replica_components_get_no_budget_and_it_returns_when_they_may_run_two() -> None:
    single = with_path(sample(), "gateway.replicas", 1)
    single = with_path(single, "pools.0.maxReplicas", 1)
    assert set(_budgets(single)) == {"completions-triton-a100"}
    assert "completions-triton-h100" in _budgets(with_path(single, "pools.0.maxReplicas", 2))
