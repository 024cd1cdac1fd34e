"""Live rollback wiring: the gateway's per-adapter feedback counts -> decide_rollback -> the fine-tune's
status, the gateway configuration and a Warning Event (pure, on the gateway's own metrics text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from seedcoder.api.finetune import SeedCoderFineTuneSpec, SeedCoderFineTuneStatus
from seedcoder.finetune.rollback import FeedbackCounts, counts_by_adapter
from seedcoder.gateway.metrics import Metrics
from seedcoder.operator.finetune import events, live_feedback
from seedcoder.operator.finetune.reconcile import FineTuneDeps, _judge_live
from seedcoder.operator.finetune.settings import FineTuneSettings
from seedcoder.operator.objects.finetune_adapters import deployment_adapters

T0 = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
SPEC = SeedCoderFineTuneSpec.model_validate(
    {
        "deploymentRef": {"name": "demo"},
        "workspace": {"claimName": "finetune-workspace"},
        "gate": {"apiKeySecretRef": "k"},
        "publish": {"adapterName": "payments", "teams": ["team-a"], "rollbackMargin": 0.05},
    }
)
ADAPTER = {
    "name": "payments",
    "version": "r1",
    "model": "seed-coder-8b-base:payments",
    "claimName": "finetune-workspace",
    "path": "adapters/pay-tune/r1",
    "teams": ["team-a"],
    "publishedTime": "2026-12-01T10:00:00Z",
}
SERVED = SeedCoderFineTuneStatus.model_validate(
    {
        "run": "r1",
        "stages": [{"name": "Publish", "state": "Succeeded"}],
        "adapter": ADAPTER,
        "publishedAdapter": "payments-r1",
    }
)


def _gateway_metrics_text(counts: dict[tuple[str, str], int]) -> str:
    """The ``/metrics`` text of a gateway that recorded these feedback events (adapter, outcome)."""
    m = Metrics()
    for (adapter, outcome), n in counts.items():
        m.feedback.labels(outcome=outcome, adapter=adapter).inc(n)
    return generate_latest(m.registry).decode()


def test_gateway_pods_counters_sum_into_per_adapter_counts() -> None:
    pod_a = _gateway_metrics_text(
        {("base", "accepted"): 150, ("base", "rejected"): 50, ("payments", "accepted"): 60}
    )
    pod_b = _gateway_metrics_text({("base", "edited"): 10, ("payments", "rejected"): 140})
    samples = live_feedback.exposition_samples(pod_a) + live_feedback.exposition_samples(pod_b)
    counts = counts_by_adapter(samples)
    assert counts["base"] == FeedbackCounts(accepted=150, edited=10, rejected=50)
    assert counts["payments"] == FeedbackCounts(accepted=60, rejected=140)


def test_the_recording_rule_answer_gives_the_same_counts() -> None:
    q = live_feedback.feedback_query("ml", "demo")
    assert q == (
        "namespace_deployment_adapter:seedcoder_gateway_feedback_events:increase1d"
        '{namespace="ml",deployment="demo"}'
    )
    payload = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"adapter": "base", "outcome": "accepted"}, "value": [1, "150"]},
                {"metric": {"adapter": "payments", "outcome": "rejected"}, "value": [1, "140"]},
                {"metric": {"adapter": "payments", "outcome": "accepted"}, "value": [1, "NaN"]},
            ],
        },
    }
    samples = live_feedback.prometheus_samples(payload)
    assert samples is not None
    assert counts_by_adapter(samples) == {
        "base": FeedbackCounts(accepted=150),
        "payments": FeedbackCounts(rejected=140),
    }
    assert live_feedback.prometheus_samples({"status": "error"}) is None


def _counts(adapter_accepted: int, adapter_rejected: int) -> dict[str, FeedbackCounts]:
    return {
        "base": FeedbackCounts(accepted=300, rejected=200),  # 0.60
        "payments": FeedbackCounts(accepted=adapter_accepted, rejected=adapter_rejected),
    }


def _body(status: SeedCoderFineTuneStatus) -> dict[str, Any]:
    return {"metadata": {"name": "pay-tune", "namespace": "ml"}, "spec": SPEC.wire(), "status": status.wire()}


def test_an_adapter_trailing_the_base_is_rolled_back_leaves_the_gateway_and_is_a_warning() -> None:
    assert [a.name for a in deployment_adapters("demo", [_body(SERVED)]).adapters] == ["payments"]
    rolled = live_feedback.judge(SPEC, SERVED, _counts(110, 140), T0, min_events=200)  # 0.44 < 0.60 - 0.05
    assert rolled.rollback is not None
    assert (rolled.rollback.adapter, rolled.rollback.version, rolled.rollback.reason) == (
        "payments",
        "r1",
        "AcceptanceBelowBase",
    )
    assert (rolled.rollback.adapter_acceptance, rolled.rollback.base_acceptance) == (0.44, 0.6)
    assert rolled.rollback.time == "2026-12-06T02:00:00Z"
    assert rolled.published_adapter is None
    assert rolled.adapter == SERVED.adapter  # the record of what was published stays
    assert deployment_adapters("demo", [_body(rolled)]).adapters == []
    (news,) = events.news(SERVED, rolled)
    assert (news.reason, news.warning) == ("AdapterRolledBack", True)
    assert "0.440" in news.note
    assert "0.600" in news.note
    # level-based: judged again, nothing changes and nothing is news
    again = live_feedback.judge(SPEC, rolled, _counts(0, 500), T0 + timedelta(hours=1), min_events=200)
    assert again == rolled
    assert events.news(rolled, again) == []


@pytest.mark.parametrize(
    ("accepted", "rejected"),
    [(280, 220), (30, 70)],  # within the margin (0.56 vs 0.60); too few events (100 < 200)
)
def test_an_adapter_within_the_margin_or_without_enough_feedback_stays(accepted: int, rejected: int) -> None:
    assert live_feedback.judge(SPEC, SERVED, _counts(accepted, rejected), T0, min_events=200) == SERVED


def test_only_a_served_adapter_is_judged() -> None:
    publishing = SERVED.model_copy(update={"published_adapter": None})  # Publish still waits for the gateway
    assert not live_feedback.judged(publishing)
    assert live_feedback.judge(SPEC, publishing, _counts(0, 500), T0, min_events=200) == publishing
    assert not live_feedback.judged(SeedCoderFineTuneStatus())


async def test_the_reconcile_reads_counts_at_most_once_per_interval_and_unknown_counts_decide_nothing() -> (
    None
):
    reads: list[str] = []
    answers: list[dict[str, FeedbackCounts] | None] = [None, _counts(110, 140)]

    async def reader(kube: object, scd: Any, settings: object) -> dict[str, FeedbackCounts] | None:
        reads.append(scd.metadata.name)
        return answers.pop(0)

    deps = FineTuneDeps(
        kube=None,  # type: ignore[arg-type]  # the reader is the only caller of the API here
        settings=None,  # type: ignore[arg-type]
        finetune=FineTuneSettings(finetune_rollback_interval_seconds=300),
        feedback=reader,
    )
    meta = SimpleNamespace(uid="uid-1", namespace="ml", name="pay-tune")
    scd = SimpleNamespace(metadata=SimpleNamespace(name="demo"))
    first = await _judge_live(deps, meta, SPEC, scd, SERVED, T0)  # type: ignore[arg-type]
    assert first == SERVED  # a gateway pod did not answer: no decision on part of the traffic
    soon = await _judge_live(deps, meta, SPEC, scd, SERVED, T0 + timedelta(seconds=60))  # type: ignore[arg-type]
    assert soon == SERVED
    assert reads == ["demo"]
    later = await _judge_live(deps, meta, SPEC, scd, SERVED, T0 + timedelta(seconds=301))  # type: ignore[arg-type]
    assert later.rollback is not None
    assert reads == ["demo", "demo"]
