"""slo.ttftP95Ms has one meaning in every layer: 95% of requests within X (p95 <= X)."""

from __future__ import annotations

from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.spec import TTFT_OBJECTIVE_QUANTILE, SloSpec
from seedcoder.observability import rules
from seedcoder.operator.autoscaling.signals import promql

from tests.operator.sample import live, sample


def _recorded(doc: dict[str, object], record: str) -> str:
    for group in doc["groups"]:  # type: ignore[attr-defined]
        for rule in group["rules"]:
            if rule.get("record") == record:
                return str(rule["expr"])
    raise AssertionError(f"{record} not recorded")


def test_the_objective_is_the_95th_percentile() -> None:
    assert TTFT_OBJECTIVE_QUANTILE == 0.95
    assert "95%" in (SloSpec.model_fields["ttft_p95_ms"].description or "")


def test_alerts_and_autoscaler_share_the_quantile() -> None:
    scd = SeedCoderDeployment.parse(live(sample()))
    rule, _ = rules.monitoring_objects(scd)
    objective = _recorded(rule["spec"], rules.SLO_TTFT_OBJECTIVE)
    assert float(objective.removeprefix("vector(").removesuffix(")")) == TTFT_OBJECTIVE_QUANTILE
    assert "The objective is 0.95 (error budget 0.05)" in str(rule["spec"])
    assert promql(60, {"namespace": "ml"})["ttft_p95"].startswith(
        f"histogram_quantile({TTFT_OBJECTIVE_QUANTILE},"
    )


def test_the_unused_e2e_field_is_gone() -> None:
    assert "e2e_p95_ms" not in SloSpec.model_fields
