"""Automatic rollback of a published adapter from live feedback: read the counts, judge, record.

Why here: the rule (``seedcoder.finetune.rollback.decide_rollback``) is pure; this
module feeds it what the operator already reads for the autoscaler. With a
Prometheus URL (``spec.autoscaling.prometheusUrl`` of the deployment, else the
operator's ``prometheus_url``) it queries the per-adapter recording rule
``namespace_deployment_adapter:seedcoder_gateway_feedback_events:increase1d``
for the deployment; without one it scrapes the deployment's ready gateway pods'
``/metrics`` (``seedcoder_gateway_feedback_total{outcome,adapter}``, counted
since each pod started) and sums them. Counts it cannot read completely (a pod
that does not answer, Prometheus down) decide nothing: a rollback is never
judged on part of the traffic.

A rollback is recorded in the fine-tune's status (``status.rollback``: reason,
message, both rates), which takes the adapter out of the deployment's gateway
configuration (``operator.objects.finetune_adapters``) and posts a Warning
Event (``events.news``); the next passing run publishes again and clears it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from seedcoder import metricnames as mn
from seedcoder.api.adapters import BASE
from seedcoder.api.finetune import RollbackStatus, SeedCoderFineTuneSpec, SeedCoderFineTuneStatus
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.finetune.rollback import FeedbackCounts, counts_by_adapter, decide_rollback
from seedcoder.observability.rules import FEEDBACK_EVENTS
from seedcoder.operator.autoscaling.scaling import gateway_metrics_targets
from seedcoder.operator.kube import Kube
from seedcoder.operator.settings import OperatorSettings

WINDOW = "1d"
"""The recording rule's window the rollback compares over (``observability.rules.ACCEPTANCE_WINDOWS``)."""
TIMEOUT_S = 3.0
Samples = list[tuple[dict[str, str], float]]


def exposition_samples(text: str) -> Samples:
    """``(labels, value)`` of the feedback counter in one gateway pod's ``/metrics`` text."""
    out: Samples = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == mn.GATEWAY_FEEDBACK_TOTAL and math.isfinite(s.value):
                out.append((dict(s.labels), float(s.value)))
    return out


def prometheus_samples(payload: object) -> Samples | None:
    """``(labels, value)`` of an instant-query answer (None: not a successful vector answer)."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        return None
    data = payload.get("data") or {}
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        return None
    out: Samples = []
    for item in data.get("result") or []:
        try:
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            out.append(({str(k): str(v) for k, v in (item.get("metric") or {}).items()}, value))
    return out


def feedback_query(namespace: str, deployment: str) -> str:
    """The PromQL of the deployment's per-adapter, per-outcome feedback events over :data:`WINDOW`."""
    return f'{FEEDBACK_EVENTS.format(w=WINDOW)}{{namespace="{namespace}",deployment="{deployment}"}}'


async def read_feedback(
    kube: Kube, scd: SeedCoderDeployment, settings: OperatorSettings
) -> dict[str, FeedbackCounts] | None:
    """Per-adapter feedback counts of ``scd``'s gateway (``base``: the base model); None: unknown."""
    url = scd.spec.autoscaling.prometheus_url or settings.prometheus_url
    async with httpx.AsyncClient() as client:
        if url:
            try:
                r = await client.get(
                    f"{url.rstrip('/')}/api/v1/query",
                    params={"query": feedback_query(scd.metadata.namespace, scd.metadata.name)},
                    timeout=TIMEOUT_S,
                )
                r.raise_for_status()
                samples = prometheus_samples(r.json())
            except (httpx.HTTPError, ValueError):
                return None
            return counts_by_adapter(samples) if samples is not None else None
        targets = await gateway_metrics_targets(kube, scd)
        if not targets:
            return None

        async def scrape(target_url: str) -> str | None:
            try:
                r = await client.get(target_url, timeout=TIMEOUT_S)
                r.raise_for_status()
                return r.text
            except httpx.HTTPError:
                return None

        texts = await asyncio.gather(*(scrape(t.url) for t in targets))
        if any(t is None for t in texts):
            return None
        return counts_by_adapter([s for text in texts if text is not None for s in exposition_samples(text)])


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def judged(status: SeedCoderFineTuneStatus) -> bool:
    """Whether ``status`` has a served adapter to judge: published, its Publish done, not rolled back."""
    a = status.adapter
    return a is not None and status.rollback is None and status.published_adapter == f"{a.name}-{a.version}"


def judge(
    spec: SeedCoderFineTuneSpec,
    status: SeedCoderFineTuneStatus,
    counts: Mapping[str, FeedbackCounts],
    now: datetime,
    *,
    min_events: float,
) -> SeedCoderFineTuneStatus:
    """``status`` with ``rollback`` recorded when the live acceptance of its adapter trails the base's."""
    if not judged(status) or status.adapter is None:
        return status
    name = status.adapter.name
    decision = decide_rollback(
        name,
        counts.get(name, FeedbackCounts()),
        counts.get(BASE, FeedbackCounts()),
        margin=spec.publish.rollback_margin,
        min_events=min_events,
    )
    if not decision.rollback:
        return status
    record = RollbackStatus(
        adapter=name,
        version=status.adapter.version,
        reason=decision.reason,
        message=decision.message[:1024],
        adapter_acceptance=_round(decision.adapter_acceptance),
        base_acceptance=_round(decision.base_acceptance),
        time=_iso(now),
    )
    return status.model_copy(update={"rollback": record, "published_adapter": None})


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
