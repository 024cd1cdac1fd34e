"""The gateway's Prometheus metrics, in one registry passed explicitly.

Why its own module: the names come from ``seedcoder.metricnames`` (the
autoscaler, alerts and dashboards query the same names), and the gateway's TTFT
histogram is the SLO's source of truth (Triton has no TTFT metric), so its
buckets are chosen for millisecond-scale first tokens around a 300 ms SLO.

Bounded labels: ``model`` is the answered model id (the base,
``<model>:<adapter>``, either pinned as ``...@<pool>``), and ``gateway.adapters``
rejects unknown adapters and pools before any metric is touched, so only
configured names ever become label values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from seedcoder import metricnames as mn

TTFT_BUCKETS = (
    0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0
)  # fmt: skip
RETRIEVAL_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1)
SCAN_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
E2E_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)


class Metrics:
    """Every metric the gateway exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ttft = Histogram(
            mn.GATEWAY_TTFT_SECONDS,
            "Request received to first token sent (streamed) or first token received (not streamed).",
            ["pool", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.e2e = Histogram(
            mn.GATEWAY_E2E_SECONDS,
            "Whole request duration.",
            ["pool", "model", "endpoint"],
            buckets=E2E_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            mn.GATEWAY_REQUESTS_TOTAL, "Requests answered.", ["pool", "model", "endpoint", "code"], registry=r
        )
        self.errors = Counter(mn.GATEWAY_ERRORS_TOTAL, "Errors by type.", ["type"], registry=r)
        self.tokens = Counter(
            mn.GATEWAY_TOKENS_TOTAL,
            "Prompt and completion tokens.",
            ["pool", "model", "direction"],
            registry=r,
        )
        self.cancellations = Counter(
            mn.GATEWAY_CANCELLATIONS_TOTAL, "Backend requests cancelled.", ["pool", "reason"], registry=r
        )
        self.cache_hits = Counter(
            mn.GATEWAY_CACHE_HITS_TOTAL, "Responses served from the exact-match cache.", registry=r
        )
        self.inflight = Gauge(mn.GATEWAY_INFLIGHT, "Requests being served now.", ["pool"], registry=r)
        self.feedback = Counter(
            mn.GATEWAY_FEEDBACK_TOTAL,
            "Feedback events recorded, by outcome and the adapter that served the completion (base: none).",
            ["outcome", "adapter"],
            registry=r,
        )
        self.pool_healthy = Gauge(
            mn.GATEWAY_POOL_HEALTHY, "1 while the pool passes health checks.", ["pool"], registry=r
        )
        self.pool_endpoints = Gauge(
            mn.GATEWAY_POOL_ENDPOINTS,
            "Triton replicas of each pool by state (healthy, unhealthy, draining).",
            ["pool", "state"],
            registry=r,
        )
        self.endpoint_requests = Counter(
            mn.GATEWAY_ENDPOINT_REQUESTS_TOTAL,
            "Backend requests sent to each Triton replica.",
            ["pool", "address"],
            registry=r,
        )
        self.trimmed = Counter(
            mn.GATEWAY_CONTEXT_TRIMMED_TOKENS_TOTAL,
            "Prompt tokens dropped by the context budget.",
            registry=r,
        )
        self.retrieval_seconds = Histogram(
            mn.GATEWAY_RETRIEVAL_SECONDS,
            "Time one retrieval (query, index search, selection) added to a completion.",
            buckets=RETRIEVAL_BUCKETS,
            registry=r,
        )
        self.retrieval_requests = Counter(
            mn.GATEWAY_RETRIEVAL_REQUESTS_TOTAL,
            "Prompts that went through retrieval, by outcome (hit, miss, unavailable).",
            ["outcome"],
            registry=r,
        )
        self.retrieval_chunks = Counter(
            mn.GATEWAY_RETRIEVAL_CHUNKS_TOTAL, "Retrieved chunks placed in prompts.", registry=r
        )
        self.retrieval_tokens = Counter(
            mn.GATEWAY_RETRIEVAL_ADDED_TOKENS_TOTAL,
            "Prompt tokens taken by retrieved chunks (from the prompt's measured tokens per byte).",
            registry=r,
        )

        self.scan_findings = Counter(
            mn.GATEWAY_SCAN_FINDINGS_TOTAL,
            "Security findings of the fast-path scan, by rule and what was done (annotated, blocked).",
            ["rule", "action"],
            registry=r,
        )
        self.scan_seconds = Histogram(
            mn.GATEWAY_SCAN_SECONDS,
            "Time the fast-path scan added to one completion.",
            buckets=SCAN_BUCKETS,
            registry=r,
        )
        self.scan_deep_findings = Counter(
            mn.GATEWAY_SCAN_DEEP_FINDINGS_TOTAL,
            "Background-pass findings on accepted completions; fast_path=missed names rules to improve.",
            ["rule", "engine", "fast_path"],
            registry=r,
        )

    def observe_retrieval(self, chunks: int, tokens: int, seconds: float, ok: bool) -> None:
        """One retrieval's figures."""
        if not ok:
            self.retrieval_requests.labels("unavailable").inc()
            return
        self.retrieval_seconds.observe(seconds)
        self.retrieval_requests.labels("hit" if chunks else "miss").inc()
        self.retrieval_chunks.inc(chunks)
        self.retrieval_tokens.inc(tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
