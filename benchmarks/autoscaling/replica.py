"""One serving replica at iteration level: in-flight batching with chunked prefill.

Why: time-to-first-token under load is queueing plus the iterations until a
request's prefill completes, and those iterations are shared with decoding
sequences. Modelling iterations (not a queue with a fixed service time) is what
makes long prompts, bursts and batching interact as they do in TensorRT-LLM.

Speed: iterations that carry prefill work are events; decode-only stretches are
advanced lazily (``advance``) in segments between sequence completions, so the
cost is a few operations per request, not per generated token.
"""

from __future__ import annotations

import heapq
import math
from collections import deque

from benchmarks.autoscaling.latency import ATTN_FLOPS_PER_TOKEN_CTX, PARAMS, LatencyProfile
from benchmarks.autoscaling.noise import Noise


class Replica:
    """A replica's engine state; the simulator owns its events and the request arrays."""

    __slots__ = (
        "_c_bw",
        "_c_bytes",
        "_c_dec",
        "_c_f",
        "_c_pref",
        "busy",
        "busy_time",
        "clock",
        "created_at",
        "dec",
        "draining",
        "gen",
        "iters",
        "kv_used",
        "n_dec",
        "noise",
        "pending_tokens",
        "plan",
        "plan_decode_iters",
        "pool",
        "prefill",
        "prof",
        "prompt",
        "queue",
        "ready",
        "ready_at",
        "rid",
        "stopped_at",
        "sum_ctx",
    )

    def __init__(
        self,
        rid: int,
        pool: str,
        prof: LatencyProfile,
        created_at: float,
        ready_at: float,
        noise: Noise,
        prompt: list[int],
        gen: list[int],
    ) -> None:
        self.rid, self.pool, self.prof = rid, pool, prof
        self.created_at, self.ready_at = created_at, ready_at
        self.stopped_at: float | None = None
        self.ready = False
        self.draining = False
        self.queue: deque[int] = deque()
        self.prefill: list[list[int]] = []  # [request, tokens done]
        self.dec: list[tuple[int, int, int]] = []  # heap of (finish iteration, final context, request)
        self.n_dec = 0
        self.sum_ctx = 0.0
        self.iters = 0
        self.clock = ready_at
        self.busy = False
        self.plan: list[tuple[list[int], int]] | None = None
        self.plan_decode_iters = 1
        self.pending_tokens = 0
        self.kv_used = 0
        self.busy_time = 0.0
        self.noise = noise
        self.prompt, self.gen = prompt, gen
        self._c_f = 1.0 / prof.f_eff
        self._c_bw = 1.0 / prof.bw_eff
        self._c_dec = 2.0 * PARAMS
        self._c_pref = ATTN_FLOPS_PER_TOKEN_CTX
        self._c_bytes = prof.kv_bytes_per_token

    # ------------------------------------------------------------------ queries
    def inflight(self) -> int:
        return len(self.queue) + len(self.prefill) + self.n_dec

    def has_prefill_work(self) -> bool:
        return bool(self.queue) or bool(self.prefill)

    def _decode_iter_seconds(self, ctx: float) -> float:
        n = self.n_dec
        flops = self._c_dec * n + self._c_pref * ctx
        nbytes = self.prof.weight_bytes + self._c_bytes * ctx
        return self.prof.t_fix + max(flops * self._c_f, nbytes * self._c_bw)

    # ------------------------------------------------------------------ decode-only stretches
    def _retire(self) -> int:
        """Remove sequences whose last token came out by now; returns how many finished."""
        dec, done = self.dec, 0
        while dec and dec[0][0] <= self.iters:
            _, ctx, req = heapq.heappop(dec)
            self.sum_ctx -= ctx
            self.kv_used -= self.prompt[req] + self.gen[req]
            done += 1
        self.n_dec -= done
        return done

    def advance(self, t: float) -> float:
        """Run decode-only iterations up to the first iteration boundary at or after ``t``.

        Precondition: no iteration with prefill work is planned (``busy`` is false).
        Returns the boundary time, when new work can join the batch.
        """
        while self.n_dec and self.clock < t:
            m = self.dec[0][0] - self.iters
            n = self.n_dec
            d = self._decode_iter_seconds(self.sum_ctx + n * (m - 1) / 2.0) * self.noise.factor(m)
            k = m if self.clock + m * d <= t else max(1, math.ceil((t - self.clock) / d))
            self.clock += k * d
            self.busy_time += k * d
            self.iters += k
            self.sum_ctx += n * k
            self._retire()
        if self.clock < t and t != math.inf:
            self.clock = t
        return self.clock

    # ------------------------------------------------------------------ iterations with prefill work
    def plan_iteration(self, t: float) -> float:
        """Admit what fits, plan the next iteration's prefill chunks; returns its end time."""
        prof, prompt, gen, queue, prefill = self.prof, self.prompt, self.gen, self.queue, self.prefill
        while queue and self.n_dec + len(prefill) < prof.max_batch:
            req = queue[0]
            need = prompt[req] + gen[req]
            if self.kv_used + need > prof.kv_capacity_tokens and (self.n_dec or prefill):
                break  # guaranteed-no-evict: wait for memory
            queue.popleft()
            self.kv_used += need
            prefill.append([req, 0])
        budget = prof.max_num_tokens - self.n_dec
        plan: list[tuple[list[int], int]] = []
        p_tok = 0
        p_attn = 0.0
        p_read = 0.0
        for entry in prefill:
            if budget <= 0:
                break
            done = entry[1]
            chunk = min(prompt[entry[0]] - done, budget)
            budget -= chunk
            plan.append((entry, chunk))
            p_tok += chunk
            p_attn += chunk * done + chunk * (chunk + 1) / 2.0
            p_read += done + chunk
        decode_iters = 1
        if not plan:
            # Batch or memory full: decode until the next sequence leaves.
            decode_iters = max(1, self.dec[0][0] - self.iters) if self.dec else 1
        n = self.n_dec
        ctx = self.sum_ctx + n * (decode_iters - 1) / 2.0
        flops = self._c_dec * (p_tok + n) + self._c_pref * (p_attn + ctx)
        nbytes = prof.weight_bytes + self._c_bytes * (p_read + ctx)
        d = (prof.t_fix + max(flops * self._c_f, nbytes * self._c_bw)) * self.noise.factor(decode_iters)
        self.plan = plan
        self.plan_decode_iters = decode_iters
        self.busy = True
        self.busy_time += d * decode_iters
        self.clock = t + d * decode_iters
        return self.clock

    def finish_iteration(self, t: float, first_tokens: list[int]) -> None:
        """Apply the planned iteration ending at ``t``; requests that got their first token are appended."""
        k = self.plan_decode_iters
        self.iters += k
        self.sum_ctx += self.n_dec * k
        self._retire()
        plan = self.plan or []
        self.plan = None
        prompt, gen = self.prompt, self.gen
        for entry, chunk in plan:
            entry[1] += chunk
            self.pending_tokens -= chunk
            req = entry[0]
            if entry[1] >= prompt[req]:
                first_tokens.append(req)
                g = gen[req]
                if g > 1:
                    heapq.heappush(self.dec, (self.iters + g - 1, prompt[req] + g - 1, req))
                    self.n_dec += 1
                    self.sum_ctx += prompt[req]
                else:
                    self.kv_used -= prompt[req] + g
        if plan:
            self.prefill = [e for e in self.prefill if e[1] < prompt[e[0]]]
        self.busy = False

    def drain_end(self) -> float:
        """When the last sequence of an idle-of-prefill replica finishes (runs decodes to the end)."""
        return self.advance(math.inf) if self.n_dec else self.clock
