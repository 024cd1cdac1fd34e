"""The completion service: candidates, block-end trimming, cache, streaming, accounting.

Why a service layer: routes only speak HTTP; everything a completion *means*
lives here and returns a value (``CompletionResult``), a typed error (``GatewayError``) or
a stream of domain events (``Delta``/``Finish``/``Summary``) that the route turns
into SSE. Backend failures are mapped in ``errors.map_backend`` only.

The exact-match cache holds greedy requests only (``temperature`` 0): the key is
the final prompt and every parameter that changes the output, including the
answered model id, which carries a pinned pool (``<model>@<pool>``), so a pinned
request never gets another pool's cached answer.

Pools: a request pinned to a pool goes there only; an unpinned one never goes
to a *candidate* pool (``gateway.adapters``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.adapters import AdapterRouter
from seedcoder.gateway.backend import Chunk, GenParams
from seedcoder.gateway.cuts import text_cut
from seedcoder.gateway.errors import BackendTimeout, BackendUnavailable, GatewayError, map_backend
from seedcoder.gateway.feedback import RecentCompletions, Served
from seedcoder.gateway.fim import merge_stops
from seedcoder.gateway.jobs import Job
from seedcoder.gateway.limits import TTLCache
from seedcoder.gateway.merge import Merge
from seedcoder.gateway.metrics import Metrics
from seedcoder.gateway.prepare import Prepared, prepare
from seedcoder.gateway.ranking import Candidate, rank
from seedcoder.gateway.routing import Endpoint, Pool
from seedcoder.gateway.scanning import CONTENT_FILTER, Guard, ScanReport
from seedcoder.retrieval.retriever import Retriever
from seedcoder.scan.scanner import Finding


@dataclass(frozen=True, slots=True)
class CompletionResult:
    id: str
    created: int
    model: str
    pool: str
    choices: list[Candidate]
    prompt_tokens: int
    completion_tokens: int
    trimmed_tokens: int
    cached: bool = False
    first_token_s: float | None = None  # from receipt to the first token (None from the cache)
    scan: ScanReport | None = None


@dataclass(frozen=True, slots=True)
class Delta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class Finish:
    index: int
    reason: str
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    prompt_tokens: int
    completion_tokens: int
    trimmed_tokens: int
    first_token_s: float | None = None


Event = Delta | Finish | Summary


@dataclass(slots=True)
class Stream:
    id: str
    created: int
    model: str
    pool: str
    trimmed_tokens: int
    events: AsyncGenerator[Event, None]


@dataclass(slots=True)
class _Progress:
    """Per-request bookkeeping shared by its candidates."""

    received: float
    first_token: float | None = None
    input_tokens: int | None = None
    output_tokens: dict[int, int] = field(default_factory=dict)


def new_id() -> str:
    return "cmpl-" + secrets.token_hex(12)


class CompletionService:
    def __init__(
        self,
        cfg: GatewayConfig,
        pools: list[Pool],
        metrics: Metrics,
        recent: RecentCompletions,
        mark_down: Callable[[Pool, Endpoint], None],
        clock: Callable[[], float] = time.monotonic,
        retriever: Retriever | None = None,
    ) -> None:
        self.cfg = cfg
        self.retriever = retriever
        self.pools = pools
        self.metrics = metrics
        self.recent = recent
        self._mark_down = mark_down
        self.cache: TTLCache[CompletionResult] = TTLCache(cfg.cache_max_entries, cfg.cache_ttl_s, clock)
        self.guard = Guard(cfg.scan, metrics)
        self.router = AdapterRouter(cfg)

    # ------------------------------------------------------------------ helpers
    async def _prepare(self, job: Job) -> Prepared:
        pools = self._pools(job)
        prep = await prepare(job, self.cfg, pools, self.retriever)
        if (found := prep.retrieved) is not None:
            n = len(found.chunks)
            self.metrics.observe_retrieval(n, prep.retrieved_tokens, found.seconds, found.available)
        return prep

    def _pools(self, job: Job) -> list[Pool]:
        """The pools ``job`` may go to: its pinned pool alone (no fallback: a pin measures that pool), else
        every pool but the candidates; of those, the ones that can apply its adapter."""
        pools = self.router.pools_for(job.adapter, self.pools, job.pool)
        if not pools:
            where = "" if job.pool is None else f" (pinned to pool '{job.pool}')"
            if job.adapter is None:  # only when every configured pool is a candidate
                raise BackendUnavailable(
                    "No pool of this gateway takes ordinary traffic (every pool is a candidate, served only "
                    "when named as '<model>@<pool>')",
                    code="no_healthy_pool",
                    retry_after=1,
                )
            raise BackendUnavailable(
                f"No pool of this gateway serves the adapter '{job.adapter.name}'{where}",
                code="no_pool_for_adapter",
            )
        if job.pool is not None and not pools[0].healthy:
            raise BackendUnavailable(
                f"The pinned pool '{job.pool}' has no healthy replica", code="no_healthy_pool", retry_after=1
            )
        return pools

    def _params(self, job: Job, prep: Prepared, i: int) -> GenParams:
        return GenParams(
            prompt=prep.prompt,
            max_tokens=job.max_tokens,
            temperature=job.temperature,
            top_p=job.top_p,
            top_k=job.top_k,
            seed=None if job.seed is None else (job.seed + i) % 2**63,
            min_p=job.min_p,
            repetition_penalty=job.repetition_penalty,
            stop=merge_stops(job.stop, self.cfg.fim.stop, job.fim),
            log_probs=job.n > 1,
            lora=self.router.selection(job.adapter, prep.pool.name),
        )

    def _cache_key(self, job: Job, prep: Prepared) -> tuple[object, ...] | None:
        if not job.greedy or self.cfg.cache_max_entries <= 0:
            return None
        return (job.model, prep.prompt, job.max_tokens, job.stop, job.n, job.block_end, job.top_k, job.fim,
                job.n_indent, job.min_p, job.repetition_penalty)  # fmt: skip

    def _fail(self, exc: BaseException, pool: Pool, ep: Endpoint) -> GatewayError:
        err = map_backend(exc, pool.name)
        if isinstance(err, BackendUnavailable):
            self._mark_down(pool, ep)
        if isinstance(err, BackendTimeout):
            self.metrics.cancellations.labels(pool.name, "timeout").inc()
        return err

    def _seen(self, chunk: Chunk, i: int, prog: _Progress, pool: Pool, job: Job) -> None:
        if chunk.input_tokens is not None:
            prog.input_tokens = chunk.input_tokens
        if chunk.output_tokens is not None:
            prog.output_tokens[i] = chunk.output_tokens
        if prog.first_token is None and chunk.text:
            prog.first_token = time.perf_counter()
            self.metrics.ttft.labels(pool.name, job.model).observe(prog.first_token - prog.received)

    def _account(self, job: Job, prep: Prepared, prog: _Progress) -> tuple[int, int]:
        prompt_tokens = prog.input_tokens if prog.input_tokens is not None else (prep.prompt_tokens or 0)
        completion_tokens = sum(prog.output_tokens.values())
        pool = prep.pool.name
        self.metrics.tokens.labels(pool, job.model, "prompt").inc(prompt_tokens)
        self.metrics.tokens.labels(pool, job.model, "completion").inc(completion_tokens)
        if prep.trimmed_tokens:
            self.metrics.trimmed.inc(prep.trimmed_tokens)
        return prompt_tokens, completion_tokens

    def _remember(self, cid: str, job: Job, prep: Prepared, texts: list[str]) -> None:
        served = Served(job.model, prep.pool.name, prep.prefix, prep.suffix, texts, int(time.time()))
        self.recent.remember(cid, served)

    # ------------------------------------------------------------------ non-streamed
    def _endpoint(self, pool: Pool) -> Endpoint:
        """The replica of ``pool`` that serves this request, counted as outstanding from now on."""
        ep = pool.pick()
        if ep is None:  # its last replica went down since the pool was chosen
            raise BackendUnavailable(
                f"Pool {pool.name} has no healthy replica", code="no_healthy_pool", retry_after=1
            )
        pool.acquire(ep)
        self.metrics.endpoint_requests.labels(pool.name, ep.address).inc()
        self.metrics.inflight.labels(pool.name).inc()
        return ep

    def _release(self, pool: Pool, ep: Endpoint) -> None:
        pool.release(ep)
        self.metrics.inflight.labels(pool.name).dec()

    async def _collect(self, job: Job, prep: Prepared, ep: Endpoint, i: int, prog: _Progress) -> Candidate:
        gen = ep.backend.generate(self._params(job, prep, i))
        block = text_cut(job.block_end, job.n_indent, prep.prefix, prep.suffix)
        parts: list[str] = []
        reason, logp = "length", None
        try:
            async for chunk in gen:
                self._seen(chunk, i, prog, prep.pool, job)
                parts.append(block.feed(chunk.text) if block else chunk.text)
                reason = chunk.finish_reason or reason
                logp = chunk.cum_log_prob if chunk.cum_log_prob is not None else logp
                if block is not None and block.done:
                    reason = "stop"
                    break
        finally:
            await gen.aclose()
        if block is not None and not block.done:
            parts.append(block.finish())
            reason = "stop" if block.done else reason
        return Candidate("".join(parts), reason, prog.output_tokens.get(i, 0), logp)

    async def complete(self, job: Job, received: float) -> CompletionResult:
        prep = await self._prepare(job)
        key = self._cache_key(job, prep)
        if key is not None and (hit := self.cache.get(key)) is not None:
            self.metrics.cache_hits.inc()
            result = replace(hit, id=new_id(), created=int(time.time()), cached=True, first_token_s=None)
            self._remember(result.id, job, prep, [c.text for c in result.choices])
            return result
        pool, prog = prep.pool, _Progress(received)
        ep = self._endpoint(pool)
        try:
            cands = await asyncio.gather(*(self._collect(job, prep, ep, i, prog) for i in range(job.n)))
        except GatewayError:
            raise
        except asyncio.CancelledError:
            self.metrics.cancellations.labels(pool.name, "client_disconnect").inc()
            raise
        except Exception as exc:
            raise self._fail(exc, pool, ep) from exc
        finally:
            self._release(pool, ep)
        choices = rank(cands) if job.n > 1 else cands
        choices, report = self.guard.check(prep.prefix, prep.suffix, choices)  # before any text leaves
        prompt_tokens, completion_tokens = self._account(job, prep, prog)
        result = CompletionResult(
            new_id(), int(time.time()), job.model, pool.name, choices, prompt_tokens, completion_tokens,
            prep.trimmed_tokens, first_token_s=_since(prog), scan=report,
        )  # fmt: skip
        if key is not None:
            self.cache.put(key, result)
        self._remember(result.id, job, prep, [c.text for c in choices])
        return result

    # ------------------------------------------------------------------ streamed
    async def open_stream(self, job: Job, received: float) -> Stream:
        """Prepare, start the candidates and wait for the first response (so that an
        unreachable backend is still an HTTP error, not a broken stream)."""
        prep = await self._prepare(job)
        cid, created = new_id(), int(time.time())
        key = self._cache_key(job, prep)
        if key is not None and (hit := self.cache.get(key)) is not None:
            self.metrics.cache_hits.inc()
            self._remember(cid, job, prep, [c.text for c in hit.choices])
            return Stream(cid, created, job.model, prep.pool.name, hit.trimmed_tokens, _replay(hit))
        pool = prep.pool
        ep = self._endpoint(pool)  # released when the events end (``_events``) or here on failure
        gens = [ep.backend.generate(self._params(job, prep, i)) for i in range(job.n)]
        try:
            first = await gens[0].__anext__()
        except BaseException as exc:
            for g in gens:
                await g.aclose()
            self._release(pool, ep)
            if not isinstance(exc, Exception):
                raise
            raise self._fail(exc, pool, ep) from exc
        events = self._events(job, prep, ep, cid, gens, first, _Progress(received), key)
        return Stream(cid, created, job.model, pool.name, prep.trimmed_tokens, events)

    async def _events(
        self,
        job: Job,
        prep: Prepared,
        ep: Endpoint,
        cid: str,
        gens: list[AsyncGenerator[Chunk, None]],
        first: Chunk,
        prog: _Progress,
        key: tuple[object, ...] | None,
    ) -> AsyncGenerator[Event, None]:
        pool, n = prep.pool, len(gens)
        blocks = [text_cut(job.block_end, job.n_indent, prep.prefix, prep.suffix) for _ in gens]
        texts = [""] * n
        seen_reason: list[str | None] = [None] * n
        done: list[str | None] = [None] * n
        gates = [self.guard.gate(prep.prefix, prep.suffix) for _ in gens]  # text leaves only through these
        merged = Merge(gens, first)
        try:
            async for i, item in merged:
                if isinstance(item, BaseException):
                    raise self._fail(item, pool, ep) from item
                if done[i] is not None:
                    continue
                self._seen(item, i, prog, pool, job)
                seen_reason[i] = item.finish_reason or seen_reason[i]
                block = blocks[i]
                text = block.feed(item.text) if block else item.text
                if item.final and block is not None and not block.done:
                    text += block.finish()
                text = gates[i].feed(text) if text else text
                if text:
                    texts[i] += text
                    yield Delta(i, text)
                if gates[i].blocked or (block is not None and block.done):
                    done[i] = CONTENT_FILTER if gates[i].blocked else "stop"
                    await merged.stop(i)
                elif item.final:
                    done[i] = seen_reason[i] or "stop"
                if done[i] is not None:
                    rest, found = gates[i].finish()
                    if rest:
                        texts[i] += rest
                        yield Delta(i, rest)
                    done[i] = CONTENT_FILTER if gates[i].blocked else done[i]
                    yield Finish(i, done[i] or "stop", tuple(found))
                    if all(d is not None for d in done):
                        break
            if not all(d is not None for d in done):
                raise self._fail(ConnectionError("the backend stream ended early"), pool, ep)
            prompt_tokens, completion_tokens = self._account(job, prep, prog)
            self._remember(cid, job, prep, texts)
            if key is not None:
                cands = [Candidate(t, d or "stop", 0) for t, d in zip(texts, done, strict=True)]
                self.cache.put(key, CompletionResult(cid, 0, job.model, pool.name, cands, prompt_tokens,
                                           completion_tokens, prep.trimmed_tokens))  # fmt: skip
            yield Summary(prompt_tokens, completion_tokens, prep.trimmed_tokens, _since(prog))
        finally:
            await merged.aclose()
            self._release(pool, ep)


def _since(prog: _Progress) -> float | None:
    return None if prog.first_token is None else prog.first_token - prog.received


async def _replay(hit: CompletionResult) -> AsyncGenerator[Event, None]:
    for i, cand in enumerate(hit.choices):
        if cand.text:
            yield Delta(i, cand.text)
        yield Finish(i, cand.finish_reason)
    yield Summary(hit.prompt_tokens, hit.completion_tokens, hit.trimmed_tokens)
