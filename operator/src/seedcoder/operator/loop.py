"""The reconcile machinery every kind the operator watches shares.

Why one: SeedCoderDeployments and SeedCoderFineTunes are reconciled the same way
(level-based, from raw watch events, with no finalizer and no bookkeeping in the
resource), so the parts that keep that honest live once:

- the operator remembers in memory the generation it last reconciled; a watch
  event with a new generation, or a resource seen for the first time (created, or
  the operator restarted), reconciles, and the operator's own status writes do not;
- one lock per resource keeps two reconciles of it apart, and a trigger that
  arrives while another is already queued is dropped (the queued one takes the
  newest body when it starts);
- at most ``max_concurrent`` reconciles run at once, the way controller-runtime
  bounds its workers: a hundred reconciles listing their children together only
  slow the API server, while the triggers waiting their turn coalesce;
- a reconcile the API refused for a passing reason (conflict, throttling, a 5xx)
  is retried with back-off before the resync would;
- the resync reconciles every known resource once per interval, paced (one
  resource every ``interval / N``) so a sweep never holds the event loop in one
  burst, and one resource's failure never stops the others'.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import kopf

from seedcoder.operator.kube import ApiError
from seedcoder.operator.metrics import OperatorMetrics

log = logging.getLogger(__name__)
RETRY_DELAYS_S = (1.0, 2.0, 4.0, 8.0)
"""Back-off for a reconcile the API refused for a passing reason; after that the resync takes over."""

R = TypeVar("R")


class Retryable(Exception):
    """The API refused a write for a passing reason (409, 422, 429, 5xx)."""


def passing(exc: ApiError) -> bool:
    """Whether the API's refusal may pass by itself (retry), or needs a change (do not)."""
    return exc.status in (409, 422, 429) or exc.status >= 500


class ReconcileLoop(Generic[R]):
    """Known resources of one kind, their locks and queue, and the runs of their reconcile.

    ``reconcile(uid, body, timer)`` makes one resource so; ``done(uid, result)``
    keeps what the caller wants of a successful run (under the resource's lock).
    """

    def __init__(
        self,
        kind: str,
        reconcile: Callable[[str, kopf.Body, bool], Awaitable[R]],
        metrics: OperatorMetrics,
        *,
        max_concurrent: int = 1,
        done: Callable[[str, R], None] | None = None,
    ) -> None:
        self.kind = kind
        self._reconcile = reconcile
        self._done = done
        self.metrics = metrics
        self.bodies: dict[str, kopf.Body] = {}
        """The newest body of every resource the watch has shown, by uid."""
        self.reconciled: dict[str, Any] = {}
        """The generation each resource was last reconciled at, by uid."""
        self.locks: dict[str, asyncio.Lock] = {}
        self.queued: set[str] = set()
        self.slots = asyncio.Semaphore(max_concurrent)

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())

    def seen(self, body: kopf.Body) -> None:
        self.bodies[body.metadata.uid or ""] = body

    def forget(self, uid: str) -> None:
        self.bodies.pop(uid, None)
        self.reconciled.pop(uid, None)
        self.locks.pop(uid, None)

    def spec_changed(self, body: kopf.Body) -> bool:
        """First sight of the resource, or a generation not reconciled yet (status writes keep it)."""
        uid = body.metadata.uid or ""
        return uid not in self.reconciled or self.reconciled[uid] != body.metadata.get("generation")

    async def run(self, uid: str, *, timer: bool = False) -> R | None:
        """Reconcile one resource under its lock; ``None`` when coalesced into a queued run or gone."""
        if uid in self.queued and not timer:
            return None
        self.queued.add(uid)
        self.metrics.queue_depth.set(len(self.queued))
        async with self.lock(uid), self.slots:
            self.queued.discard(uid)  # until here, newer triggers of this resource join this run
            self.metrics.queue_depth.set(len(self.queued))
            body = self.bodies.get(uid)
            if body is None:
                return None
            generation = body.metadata.get("generation")
            started = time.perf_counter()
            try:
                result = await self._reconcile(uid, body, timer)
            except ApiError as exc:
                self.metrics.reconcile_errors.labels(reason=exc.reason or str(exc.status)).inc()
                if passing(exc):
                    raise Retryable(f"API answered {exc}") from exc
                raise
            except Exception as exc:
                self.metrics.reconcile_errors.labels(reason=type(exc).__name__).inc()
                raise
            finally:
                self.metrics.reconcile_seconds.observe(time.perf_counter() - started)
            self.reconciled[uid] = generation
            if self._done is not None:
                self._done(uid, result)
        return result

    async def run_with_retries(self, uid: str, what: str) -> R | None:
        """:meth:`run`, retried with back-off on a passing API refusal; other failures are logged."""
        for delay in (*RETRY_DELAYS_S, None):
            try:
                return await self.run(uid)
            except Retryable as exc:
                if delay is None:
                    log.warning("Reconcile of %s %s deferred to the resync: %s", self.kind, what, exc)
                    return None
                log.info("Reconcile of %s %s retried in %.0fs: %s", self.kind, what, delay, exc)
                await asyncio.sleep(delay)
            except ApiError as exc:
                log.error("Reconcile of %s %s failed: %s", self.kind, what, exc)
                return None
        return None

    async def resync_forever(self, interval_s: float) -> None:
        """Reconcile every known resource once per ``interval_s``, spread over the interval."""
        await asyncio.sleep(interval_s)
        while True:
            started = time.monotonic()
            uids = list(self.bodies)
            for i, uid in enumerate(uids):
                await _sleep_until(started + interval_s * i / len(uids))
                body = self.bodies.get(uid)
                if body is None:
                    continue
                try:
                    await self.run(uid, timer=True)
                except Exception as exc:  # one resource's failure must not stop the others' resync
                    what = f"{body.metadata.namespace}/{body.metadata.name}"
                    log.warning("Resync of %s %s failed: %s", self.kind, what, exc)
            await _sleep_until(started + interval_s)


async def _sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
