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


@dataclass(frozen=True)
class ScrapeTarget:
    """One gateway pod: its ``/metrics`` URL and when it started (its counters were zero then)."""

    url: str
    started_at: float | None = None

    @property
    def key(self) -> str:
        """Same URL and start time: the same process (a pod IP can be reused by a later pod)."""
        return f"{self.url}@{self.started_at}"


@dataclass
class Counters:
    """One pod's cumulative counters, per pool."""

    requests: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, dict[float, float]] = field(default_factory=dict)
    inflight: dict[str, float] = field(default_factory=dict)


@dataclass
class Scrape:
    """Every gateway pod's counters at one time, by pod (``ScrapeTarget.key``)."""

    at: float
    pods: dict[str, Counters] = field(default_factory=dict)
    started: dict[str, float | None] = field(default_factory=dict)


def parse_exposition(text: str) -> Counters:
    """One pod's text exposition, summed over labels other than ``pool``."""
    c = Counters()
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            pool = s.labels.get("pool")
            if pool is None:
                continue
            if s.name == f"{mn.GATEWAY_REQUESTS_TOTAL}":
                c.requests[pool] = c.requests.get(pool, 0.0) + s.value
            elif s.name == f"{mn.GATEWAY_TTFT_SECONDS}_bucket":
                le = float(s.labels["le"])
                b = c.buckets.setdefault(pool, {})
                b[le] = b.get(le, 0.0) + s.value
            elif s.name == mn.GATEWAY_INFLIGHT:
                c.inflight[pool] = c.inflight.get(pool, 0.0) + s.value
    return c


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


def _went_down(old: Counters, new: Counters) -> bool:
    if any(v < old.requests.get(p, 0.0) for p, v in new.requests.items()):
        return True
    if any(p not in new.requests for p in old.requests):
        return True
    return any(c < old.buckets.get(p, {}).get(le, 0.0) for p, b in new.buckets.items() for le, c in b.items())


def _baseline(old: Scrape | None, new: Scrape, key: str, window_s: float) -> tuple[Counters, float] | None:
    """What to subtract from a pod's counters now, and since when; ``None``: it cannot be known.

    Like Prometheus' ``rate()`` over a counter reset: a pod seen before is differenced
    against that scrape, unless its counters went down (its process restarted since:
    count from zero). A pod not seen before started from zero at its start time, so a
    pod that started within the window needs no earlier scrape; requests served before
    the operator's first scrape are not lost.
    """
    now_c = new.pods[key]
    if old is not None and key in old.pods:
        prev = old.pods[key]
        return (Counters(), old.at) if _went_down(prev, now_c) else (prev, old.at)
    started = new.started.get(key)
    if old is not None:
        since = old.at if started is None else max(old.at, started)
        return Counters(), since  # not scraped then: not ready then, so it served nothing before
    if started is not None and new.at - window_s <= started < new.at:
        return Counters(), started
    return None


def difference(
    old: Scrape | None, new: Scrape, pools: Sequence[str], window_s: float
) -> dict[str, PoolSignals]:
    """Per-pool rates and p95 between two scrapes, summed over pods (missing when any pod is unknown)."""
    bases = {k: _baseline(old, new, k, window_s) for k in new.pods}
    known = all(b is not None for b in bases.values())
    out: dict[str, PoolSignals] = {}
    for pool in pools:
        inflight = [c.inflight[pool] for c in new.pods.values() if pool in c.inflight]
        rate = p95 = None
        if known and new.pods and any(pool in c.requests for c in new.pods.values()):
            rate, delta = 0.0, dict[float, float]()
            for k, c in new.pods.items():
                base = bases[k]
                assert base is not None
                prev, since = base
                dt = new.at - since
                if dt > 0:
                    rate += (c.requests.get(pool, 0.0) - prev.requests.get(pool, 0.0)) / dt
                pb = prev.buckets.get(pool, {})
                for le, n in c.buckets.get(pool, {}).items():
                    delta[le] = delta.get(le, 0.0) + n - pb.get(le, 0.0)
            p = histogram_quantile(TTFT_OBJECTIVE_QUANTILE, delta) if delta else None
            p95 = None if p is None else p * 1000.0
        out[pool] = PoolSignals(
            observed_at=new.at if new.pods else None,
            request_rate=rate,
            ttft_p95_ms=p95,
            inflight=sum(inflight) if inflight else None,
        )
    return out


class GatewayScrapeSignals:
    """Scrapes every gateway pod's ``/metrics``; rates and p95 over up to ``window_s`` of kept scrapes.

    Keeps its scrapes in memory (the operator holds one history per resource). Pods are
    differenced one by one, so a pod that comes, goes or restarts between two scrapes
    neither reads as a drop in load nor hides the others' traffic.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        targets: Sequence[ScrapeTarget],
        *,
        window_s: float,
        timeout_s: float = 5.0,
        history: deque[Scrape] | None = None,
    ) -> None:
        self._client, self.targets, self._window, self._timeout = client, list(targets), window_s, timeout_s
        self._history: deque[Scrape] = history if history is not None else deque()

    async def _scrape(self, url: str) -> str | None:
        try:
            r = await self._client.get(url, timeout=self._timeout)
            r.raise_for_status()
            return r.text
        except httpx.HTTPError:
            return None

    async def read(self, pools: Sequence[str], now: float) -> dict[str, PoolSignals]:
        texts = await asyncio.gather(*(self._scrape(t.url) for t in self.targets))
        if not self.targets or any(t is None for t in texts):
            return {p: PoolSignals() for p in pools}  # a missing pod would read as a drop in load
        snap = Scrape(at=now)
        for target, text in zip(self.targets, texts, strict=True):
            assert text is not None
            snap.pods[target.key] = parse_exposition(text)
            snap.started[target.key] = target.started_at
        hist = self._history
        while len(hist) > 1 and hist[1].at <= now - self._window:
            hist.popleft()  # keep the newest scrape at or before the window's start as the base
        base = hist[0] if hist else None
        hist.append(snap)
        return difference(base, snap, pools, self._window)
