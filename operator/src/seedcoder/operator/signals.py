"""Where the autoscaler's signals come from: Prometheus' HTTP API, or the gateway pods directly.

Why: the policy needs, per pool, the request rate, the p95 time to first token
(the gateway's histogram is the SLO's source of truth; Triton has none), the
in-flight count and, when Triton exports it, the queue depth, plus *when* those
were observed so that stale data makes the policy hold. Clusters with
Prometheus get PromQL over ``spec.slo.windowMinutes``; clusters without it get
the gateway pods' ``/metrics`` scraped and differenced here. Both are async,
with explicit timeouts, and report a missing signal as ``None``, never as 0.

Prometheus labels assumed: the gateway's own ``pool`` label, and ``namespace``
added by the scrape (PodMonitor). Triton queue metrics need a ``pool`` label
too (relabelled from the pod label ``seedcoder.dev/pool``); without it the
queue depth is simply missing.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from seedcoder import metricnames as mn
from seedcoder.api.spec import TTFT_OBJECTIVE_QUANTILE


@dataclass(frozen=True)
class PoolSignals:
    """One pool's signals; ``None`` means missing (never read as zero)."""

    observed_at: float | None = None
    request_rate: float | None = None
    ttft_p95_ms: float | None = None
    inflight: float | None = None
    queue_depth: float | None = None


class SignalSource(Protocol):
    async def read(self, pools: Sequence[str], now: float) -> dict[str, PoolSignals]: ...


def _matchers(labels: Mapping[str, str], pools: Sequence[str] = ()) -> str:
    out = [f'{k}="{v}"' for k, v in sorted(labels.items())]
    if pools:  # pool names are DNS labels: no regex metacharacters to escape
        out.append(f'pool=~"{"|".join(sorted(pools))}"')
    return ",".join(out)


def promql(window_s: float, labels: Mapping[str, str], pools: Sequence[str] = ()) -> dict[str, str]:
    """The PromQL queries, by signal name (each returns one series per ``pool``).

    ``labels`` should name the resource (``namespace`` and ``deployment``, the labels
    the PodMonitor puts on every series): two resources in one namespace may have
    pools of the same name. ``pools`` limits the series to the resource's pools.
    """
    sel = _matchers(labels, pools)
    win = f"{max(1, round(window_s))}s"
    return {
        "ttft_p95": (
            f"histogram_quantile({TTFT_OBJECTIVE_QUANTILE}, sum by (pool, le) "
            f"(rate({mn.GATEWAY_TTFT_SECONDS}_bucket{{{sel}}}[{win}])))"
        ),
        "rate": f"sum by (pool) (rate({mn.GATEWAY_REQUESTS_TOTAL}{{{sel}}}[{win}]))",
        "inflight": f"sum by (pool) ({mn.GATEWAY_INFLIGHT}{{{sel}}})",
        "queue": f"sum by (pool) ({mn.TRITON_PENDING_REQUESTS}{{{sel}}})",
        "seen": f"max by (pool) (timestamp({mn.GATEWAY_INFLIGHT}{{{sel}}}))",
    }


def _vector(payload: object) -> dict[str, float]:
    """``{pool: value}`` from an instant-query answer; NaN/Inf values are dropped."""
    out: dict[str, float] = {}
    if not isinstance(payload, dict) or payload.get("status") != "success":
        return out
    data = payload.get("data") or {}
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        return out
    for item in data.get("result") or []:
        pool = (item.get("metric") or {}).get("pool")
        try:
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        if pool is not None and math.isfinite(value):
            out[pool] = value
    return out


class PrometheusSignals:
    """Signals from Prometheus' ``/api/v1/query`` (one instant query per signal, run concurrently)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        *,
        window_s: float,
        labels: Mapping[str, str],
        timeout_s: float = 5.0,
    ) -> None:
        self._client, self._url = client, url.rstrip("/")
        self._window, self._labels = window_s, dict(labels)
        self._timeout = timeout_s

    async def _query(self, q: str, now: float) -> dict[str, float] | None:
        try:
            r = await self._client.get(
                f"{self._url}/api/v1/query", params={"query": q, "time": f"{now:.3f}"}, timeout=self._timeout
            )
            r.raise_for_status()
            return _vector(r.json())
        except (httpx.HTTPError, ValueError):
            return None

    async def read(self, pools: Sequence[str], now: float) -> dict[str, PoolSignals]:
        queries = promql(self._window, self._labels, pools)
        names = list(queries)
        answers = await asyncio.gather(*(self._query(queries[n], now) for n in names))
        got = dict(zip(names, answers, strict=True))
        out: dict[str, PoolSignals] = {}
        for pool in pools:

            def val(name: str, pool: str = pool) -> float | None:
                vec = got[name]
                return None if vec is None else vec.get(pool)

            seen = val("seen")
            rate = val("rate")
            if rate is None and seen is not None:
                rate = 0.0  # the gateway is scraped but has served nothing yet in this pool
            p95 = val("ttft_p95")
            out[pool] = PoolSignals(
                observed_at=seen,
                request_rate=rate,
                ttft_p95_ms=None if p95 is None else p95 * 1000.0,
                inflight=val("inflight"),
                queue_depth=val("queue"),
            )
        return out


# ---------------------------------------------------------------------- direct scrape of the gateway pods


@dataclass
class Snapshot:
    """Cumulative counters of all gateway pods at one time, per pool."""

    at: float
    requests: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)
    inflight: dict[str, float] = field(default_factory=dict)


def parse_exposition(text: str, at: float, into: Snapshot | None = None) -> Snapshot:
    """Add one pod's text exposition to a snapshot (sums over pods and over other labels)."""
    snap = into or Snapshot(at=at)
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            pool = s.labels.get("pool")
            if pool is None:
                continue
            if s.name == f"{mn.GATEWAY_REQUESTS_TOTAL}":
                snap.requests[pool] = snap.requests.get(pool, 0.0) + s.value
            elif s.name == f"{mn.GATEWAY_TTFT_SECONDS}_bucket":
                le = float(s.labels["le"])
                b = snap.buckets.setdefault(pool, {})
                b[le] = b.get(le, 0.0) + s.value
            elif s.name == mn.GATEWAY_INFLIGHT:
                snap.inflight[pool] = snap.inflight.get(pool, 0.0) + s.value
    return snap


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` on cumulative bucket counts (linear within a bucket)."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    total = items[-1][1]
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in items:
        if c >= rank:
            if math.isinf(le):
                return prev_le
            if c == prev_c:
                return le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c)
        prev_le, prev_c = le, c
    return prev_le


def difference(old: Snapshot, new: Snapshot, pools: Sequence[str]) -> dict[str, PoolSignals]:
    """Rates and p95 between two snapshots (a counter that went down means a pod restarted: missing)."""
    dt = new.at - old.at
    out: dict[str, PoolSignals] = {}
    for pool in pools:
        rate = p95 = None
        if dt > 0 and pool in new.requests:
            d = new.requests[pool] - old.requests.get(pool, 0.0)
            rate = d / dt if d >= 0 else None
        nb, ob = new.buckets.get(pool), old.buckets.get(pool, {})
        if nb is not None:
            delta = {le: c - ob.get(le, 0.0) for le, c in nb.items()}
            if all(v >= 0 for v in delta.values()):
                p = histogram_quantile(TTFT_OBJECTIVE_QUANTILE, delta)
                p95 = None if p is None else p * 1000.0
        out[pool] = PoolSignals(
            observed_at=new.at, request_rate=rate, ttft_p95_ms=p95, inflight=new.inflight.get(pool)
        )
    return out


class GatewayScrapeSignals:
    """Scrapes every gateway pod's ``/metrics``; rates and p95 over up to ``window_s`` of kept snapshots.

    Keeps its snapshots in memory (the operator holds one instance per resource); the
    first call has nothing to difference against, so rates are missing and the policy holds.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        urls: Sequence[str],
        *,
        window_s: float,
        timeout_s: float = 5.0,
        history: deque[Snapshot] | None = None,
    ) -> None:
        self._client, self.urls, self._window, self._timeout = client, list(urls), window_s, timeout_s
        self._history: deque[Snapshot] = history if history is not None else deque()

    async def _scrape(self, url: str) -> str | None:
        try:
            r = await self._client.get(url, timeout=self._timeout)
            r.raise_for_status()
            return r.text
        except httpx.HTTPError:
            return None

    async def read(self, pools: Sequence[str], now: float) -> dict[str, PoolSignals]:
        texts = await asyncio.gather(*(self._scrape(u) for u in self.urls))
        if not self.urls or any(t is None for t in texts):
            return {p: PoolSignals() for p in pools}  # a missing pod would read as a drop in load
        snap = Snapshot(at=now)
        for text in texts:
            assert text is not None
            parse_exposition(text, now, snap)
        hist = self._history
        hist.append(snap)
        while len(hist) > 2 and hist[1].at <= now - self._window:
            hist.popleft()
        if len(hist) < 2:
            return {p: PoolSignals(observed_at=now, inflight=snap.inflight.get(p)) for p in pools}
        return difference(hist[0], snap, pools)
