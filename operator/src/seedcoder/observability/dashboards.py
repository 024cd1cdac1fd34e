"""The Grafana dashboards an SRE watches SeedCoder with.

Why generated: every query names its metrics through :mod:`seedcoder.metricnames`
or the recording rules of :mod:`seedcoder.observability.rules`, so a renamed metric
changes the dashboards too, and a test checks each name is really scraped.
Dashboards are chosen per ``namespace`` and ``deployment`` (one SeedCoderDeployment).
"""

from __future__ import annotations

from typing import Any

from seedcoder import metricnames as m
from seedcoder.observability import rules as r
from seedcoder.observability.grafana import Query, annotation, dashboard, query_variable, stat, timeseries

SEL = 'namespace="$namespace", deployment="$deployment"'
POOL_SEL = SEL + ', pool=~"$pool"'
USED = 'kv_cache_block_type="used"'
MAX = 'kv_cache_block_type="max"'


def _hq(q: str, metric: str, by: str, window: str) -> str:
    """A quantile of a histogram family over ``window``, aggregated ``by`` labels."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({q}, sum by ({labels}) (rate({metric}_bucket[{window}])))"


def _variables(with_pool: bool = False) -> list[dict[str, Any]]:
    variables = [
        query_variable("namespace", "Namespace", f"label_values({m.GATEWAY_REQUESTS_TOTAL}, namespace)"),
        query_variable(
            "deployment",
            "SeedCoderDeployment",
            f'label_values({m.GATEWAY_REQUESTS_TOTAL}{{namespace="$namespace"}}, deployment)',
        ),
    ]
    if with_pool:
        variables.append(
            query_variable(
                "pool",
                "Pool",
                f"label_values({m.AUTOSCALER_DESIRED_REPLICAS}{{{SEL}}}, pool)",
                include_all=True,
            )
        )
    return variables


def _decisions() -> dict[str, Any]:
    return annotation(
        "Autoscaler decisions",
        f"sum by (pool, direction) (increase({m.AUTOSCALER_DECISIONS_TOTAL}{{{SEL}}}[1m])) > 0",
        "Scaled {{direction}}",
        "pool {{pool}}",
    )


def _quantile(template: str, q: str, sel: str = SEL) -> str:
    return f"{template.format(q=q)}{{{sel}}}"


def _budget_left(ratio_template: str, objective: str) -> str:
    return (
        f"1 - (\n  {ratio_template.format(w='3d')}{{{SEL}}}\n/ on (namespace, deployment)\n"
        f"  (1 - {objective}{{{SEL}}})\n)"
    )


def _burn(ratio_template: str, objective: str, window: str) -> Query:
    return Query(
        f"{ratio_template.format(w=window)}{{{SEL}}}\n"
        f"/ on (namespace, deployment)\n(1 - {objective}{{{SEL}}})",
        f"burn rate {window}",
    )


def slo_overview() -> dict[str, Any]:
    """TTFT quantiles against the target, error budget left, burn rates, traffic and errors."""
    burn_thresholds = ((None, "green"), (1.0, "yellow"), (6.0, "orange"), (14.4, "red"))
    rows = [
        [
            stat(
                "TTFT p95 (5m)",
                "95th percentile of the time to first token over the last 5 minutes, all pools.",
                Query(_quantile(r.DEP_TTFT_QUANTILE, "95"), "p95"),
                unit="s",
            ),
            stat(
                "TTFT objective",
                "The latency threshold of the TTFT SLO (the histogram bucket it is measured at).",
                Query(f"{r.SLO_TTFT_THRESHOLD}{{{SEL}}}", "threshold"),
                unit="s",
            ),
            stat(
                "TTFT error budget left (3d)",
                "Share of the TTFT error budget not yet spent over the last 3 days.",
                Query(_budget_left(r.TTFT_SLOW_RATIO, r.SLO_TTFT_OBJECTIVE), "budget left"),
                unit="percentunit",
                thresholds=((None, "red"), (0.25, "orange"), (0.5, "green")),
            ),
            stat(
                "Availability error budget left (3d)",
                "Share of the availability (non-5xx) error budget not yet spent over the last 3 days.",
                Query(_budget_left(r.AVAILABILITY_ERROR_RATIO, r.SLO_AVAILABILITY_OBJECTIVE), "budget left"),
                unit="percentunit",
                thresholds=((None, "red"), (0.25, "orange"), (0.5, "green")),
            ),
        ],
        [
            timeseries(
                "Time to first token vs objective",
                "p50, p95 and p99 of the time to first token across pools; the objective bounds the p95.",
                Query(_quantile(r.DEP_TTFT_QUANTILE, "50"), "p50"),
                Query(_quantile(r.DEP_TTFT_QUANTILE, "95"), "p95"),
                Query(_quantile(r.DEP_TTFT_QUANTILE, "99"), "p99"),
                Query(f"{r.SLO_TTFT_THRESHOLD}{{{SEL}}}", "objective"),
                unit="s",
            ),
            timeseries(
                "TTFT p95 by pool",
                "Which pool is slow: the 95th percentile of time to first token per pool.",
                Query(_quantile(r.TTFT_QUANTILE, "95"), "{{pool}}"),
                unit="s",
            ),
        ],
        [
            timeseries(
                "TTFT burn rate",
                "How fast the TTFT error budget burns (1 = exactly on budget). Pages above 14.4 (1h) "
                "and 6 (6h), tickets above 3 (1d) and 1 (3d).",
                *(_burn(r.TTFT_SLOW_RATIO, r.SLO_TTFT_OBJECTIVE, w) for w in ("5m", "1h", "6h", "3d")),
                thresholds=burn_thresholds,
                options={"legend": {"displayMode": "table", "placement": "right", "showLegend": True}},
            ),
            timeseries(
                "Availability burn rate",
                "How fast the availability (5xx) error budget burns (1 = exactly on budget).",
                *(
                    _burn(r.AVAILABILITY_ERROR_RATIO, r.SLO_AVAILABILITY_OBJECTIVE, w)
                    for w in ("5m", "1h", "6h", "3d")
                ),
                thresholds=burn_thresholds,
                options={"legend": {"displayMode": "table", "placement": "right", "showLegend": True}},
            ),
        ],
        [
            timeseries(
                "Requests per second by pool",
                "Completion requests the gateway answered, per pool.",
                Query(f"{r.REQUEST_RATE}{{{SEL}}}", "{{pool}}"),
                unit="reqps",
            ),
            timeseries(
                "5xx ratio by pool",
                "Share of requests answered with a 5xx status, per pool.",
                Query(f"{r.ERROR_RATIO}{{{SEL}}}", "{{pool}}"),
                unit="percentunit",
            ),
        ],
        [
            timeseries(
                "End-to-end latency by pool",
                "p95 and p99 of the whole request duration, per pool.",
                Query(_quantile(r.E2E_QUANTILE, "95"), "p95 {{pool}}"),
                Query(_quantile(r.E2E_QUANTILE, "99"), "p99 {{pool}}"),
                unit="s",
                width=24,
            ),
        ],
    ]
    return dashboard(
        "seedcoder-slo",
        "SeedCoder / SLO overview",
        "Time to first token and availability of one SeedCoderDeployment against its SLO.",
        rows,
        _variables(),
        [_decisions()],
    )


def pool_capacity() -> dict[str, Any]:
    """Replicas desired vs ready, GPUs, queues, KV cache and the autoscaler's decisions per pool."""
    rows = [
        [
            timeseries(
                "Replicas: desired vs ready",
                "What the SLO autoscaler asked for and how many Triton replicas are ready, per pool.",
                Query(f"{m.AUTOSCALER_DESIRED_REPLICAS}{{{POOL_SEL}}}", "desired {{pool}}"),
                Query(f"{m.AUTOSCALER_READY_REPLICAS}{{{POOL_SEL}}}", "ready {{pool}}"),
            ),
            timeseries(
                "GPUs held",
                "GPUs held by ready replicas, per pool and GPU kind: the cost side of the SLO.",
                Query(f"sum by (pool, gpu) ({m.AUTOSCALER_POOL_GPUS}{{{POOL_SEL}}})", "{{pool}} ({{gpu}})"),
            ),
        ],
        [
            timeseries(
                "Scaling decisions",
                "Scale-ups and scale-downs per pool (also drawn as annotations).",
                Query(
                    f"sum by (pool, direction) (increase({m.AUTOSCALER_DECISIONS_TOTAL}{{{POOL_SEL}}}[5m]))",
                    "{{direction}} {{pool}}",
                ),
            ),
            timeseries(
                "Pool health",
                "1 while the gateway's health checks of the pool pass.",
                Query(f"min by (pool) ({m.GATEWAY_POOL_HEALTHY}{{{POOL_SEL}}})", "{{pool}}"),
                min=0,
                max=1,
            ),
        ],
        [
            timeseries(
                "Requests in flight (gateway)",
                "Requests the gateway is serving now, per pool.",
                Query(f"sum by (pool) ({m.GATEWAY_INFLIGHT}{{{POOL_SEL}}})", "{{pool}}"),
                width=8,
            ),
            timeseries(
                "Queue depth (Triton)",
                "Requests waiting inside Triton, per pool.",
                Query(f"sum by (pool) ({m.TRITON_PENDING_REQUESTS}{{{POOL_SEL}}})", "{{pool}}"),
                width=8,
            ),
            timeseries(
                "Queue time per request (Triton)",
                "Average time a request waited in Triton's queue over 5 minutes, per pool.",
                Query(
                    f"sum by (pool) (rate({m.TRITON_QUEUE_US}{{{POOL_SEL}}}[5m])) / 1e6\n/\n"
                    f"sum by (pool) (rate({m.TRITON_REQUEST_SUCCESS}{{{POOL_SEL}}}[5m]))",
                    "{{pool}}",
                ),
                unit="s",
                width=8,
            ),
        ],
        [
            timeseries(
                "KV cache in use (TensorRT-LLM)",
                "Share of the paged KV-cache blocks in use, per pool (TensorRT-LLM pools only).",
                Query(
                    f"sum by (pool) ({m.TRTLLM_KV_CACHE_BLOCKS}{{{POOL_SEL}, {USED}}})\n/\n"
                    f"sum by (pool) ({m.TRTLLM_KV_CACHE_BLOCKS}{{{POOL_SEL}, {MAX}}})",
                    "{{pool}}",
                ),
                unit="percentunit",
                min=0,
                max=1,
            ),
            timeseries(
                "Triton failures per second",
                "Inference requests Triton failed, per pool.",
                Query(f"sum by (pool) (rate({m.TRITON_REQUEST_FAILURE}{{{POOL_SEL}}}[5m]))", "{{pool}}"),
                unit="reqps",
            ),
        ],
    ]
    return dashboard(
        "seedcoder-capacity",
        "SeedCoder / Pool capacity",
        "Per-pool capacity of one SeedCoderDeployment and what the SLO autoscaler did about it.",
        rows,
        _variables(with_pool=True),
        [_decisions()],
    )


def engine_builds() -> dict[str, Any]:
    """TensorRT-LLM engine builds (state, duration) and the operator's own health."""
    rows = [
        [
            stat(
                "Failed builds",
                "Engine builds whose Job failed and that no newer build replaced.",
                Query(f'sum({m.OPERATOR_ENGINE_BUILDS}{{state="Failed"}}) or vector(0)', "failed"),
                thresholds=((None, "green"), (1.0, "red")),
            ),
            stat(
                "Builds running",
                "Engines being built now (state Building: their Job runs).",
                Query(f'sum({m.OPERATOR_ENGINE_BUILDS}{{state="Building"}})', "building"),
            ),
            timeseries(
                "Engine builds by state",
                "Engine builds per GPU architecture and state.",
                Query(f"sum by (arch, state) ({m.OPERATOR_ENGINE_BUILDS})", "{{arch}} {{state}}"),
            ),
        ],
        [
            timeseries(
                "Build duration",
                "p50 and p95 of an engine build Job's duration, per GPU architecture, over 1 day.",
                Query(
                    _hq("0.5", m.OPERATOR_ENGINE_BUILD_SECONDS, "arch", "1d"),
                    "p50 {{arch}}",
                ),
                Query(
                    _hq("0.95", m.OPERATOR_ENGINE_BUILD_SECONDS, "arch", "1d"),
                    "p95 {{arch}}",
                ),
                unit="s",
            ),
            timeseries(
                "Reconcile duration",
                "p50 and p99 of one level-based reconcile of one SeedCoderDeployment.",
                Query(
                    _hq("0.5", m.OPERATOR_RECONCILE_SECONDS, "", "5m"),
                    "p50",
                ),
                Query(
                    _hq("0.99", m.OPERATOR_RECONCILE_SECONDS, "", "5m"),
                    "p99",
                ),
                unit="s",
            ),
        ],
        [
            timeseries(
                "Reconcile errors",
                "Failed reconciles per second, by reason.",
                Query(f"sum by (reason) (rate({m.OPERATOR_RECONCILE_ERRORS_TOTAL}[5m]))", "{{reason}}"),
                unit="ops",
            ),
            timeseries(
                "Kubernetes API writes",
                "Writes the operator sent to the API server; a no-op reconcile writes nothing.",
                Query(f"sum by (kind, verb) (rate({m.OPERATOR_WRITES_TOTAL}[5m]))", "{{verb}} {{kind}}"),
                unit="wps",
            ),
        ],
        [
            timeseries(
                "Operator load",
                "Resources watched and reconciles waiting for their resource's lock (a burst or a slow API).",
                Query(f"sum({m.OPERATOR_RESOURCES})", "resources"),
                Query(f"sum({m.OPERATOR_QUEUE_DEPTH})", "queued reconciles"),
            ),
            timeseries(
                "Operator memory",
                "Resident memory of the operator process (grows with the resources it watches).",
                Query(f"max({m.OPERATOR_MEMORY_BYTES})", "resident"),
                unit="bytes",
            ),
        ],
    ]
    return dashboard(
        "seedcoder-engines",
        "SeedCoder / Engine builds and operator",
        "TensorRT-LLM engine builds per GPU architecture and the health of the operator's reconcile loop.",
        rows,
        [],
    )


def acceptance() -> dict[str, Any]:
    """How useful the completions are (acceptance) and how many are abandoned (cancellations)."""
    feedback = m.GATEWAY_FEEDBACK_TOTAL
    rows = [
        [
            stat(
                "Acceptance rate (1h)",
                "Completions the IDE reported as accepted, out of all feedback (accepted, rejected, edited).",
                Query(
                    f'sum(increase({feedback}{{{SEL}, outcome="accepted"}}[1h]))\n/\n'
                    f"sum(increase({feedback}{{{SEL}}}[1h]))",
                    "accepted",
                ),
                unit="percentunit",
            ),
            stat(
                "Cancelled requests (1h)",
                "Share of requests the client abandoned or that timed out before finishing.",
                Query(
                    f"sum(increase({m.GATEWAY_CANCELLATIONS_TOTAL}{{{SEL}}}[1h]))\n/\n"
                    f"sum(increase({m.GATEWAY_REQUESTS_TOTAL}{{{SEL}}}[1h]))",
                    "cancelled",
                ),
                unit="percentunit",
            ),
            stat(
                "Cache hit ratio (1h)",
                "Requests answered from the gateway's exact-match cache.",
                Query(
                    f"sum(increase({m.GATEWAY_CACHE_HITS_TOTAL}{{{SEL}}}[1h]))\n/\n"
                    f"sum(increase({m.GATEWAY_REQUESTS_TOTAL}{{{SEL}}}[1h]))",
                    "hits",
                ),
                unit="percentunit",
            ),
            stat(
                "Context tokens trimmed (1h)",
                "Prompt tokens dropped to fit the context budget.",
                Query(f"sum(increase({m.GATEWAY_CONTEXT_TRIMMED_TOKENS_TOTAL}{{{SEL}}}[1h]))", "tokens"),
            ),
        ],
        [
            timeseries(
                "Feedback by outcome",
                "Feedback events per second reported by IDEs.",
                Query(f"sum by (outcome) (rate({feedback}{{{SEL}}}[5m]))", "{{outcome}}"),
                unit="ops",
            ),
            timeseries(
                "Cancellations",
                "Cancelled requests per second at the gateway (by reason) and inside the llama.cpp runtime.",
                Query(
                    f"sum by (pool, reason) (rate({m.GATEWAY_CANCELLATIONS_TOTAL}{{{SEL}}}[5m]))",
                    "gateway {{pool}} {{reason}}",
                ),
                Query(f"sum by (pool) (rate({m.LLAMACPP_CANCELLED_TOTAL}{{{SEL}}}[5m]))", "runtime {{pool}}"),
                unit="reqps",
            ),
        ],
        [
            timeseries(
                "Acceptance by adapter (1h)",
                "Accepted or edited share of feedback per LoRA adapter (base: the base model); an adapter "
                "falling below the base by its rollbackMargin is rolled back.",
                Query(f"{r.ADAPTER_ACCEPTANCE.format(w='1h')}{{{SEL}}}", "{{adapter}}"),
                unit="percentunit",
            ),
        ],
        [
            timeseries(
                "Tokens per second",
                "Prompt and completion tokens through the gateway; tokens the llama.cpp runtime generated.",
                Query(
                    f"sum by (direction) (rate({m.GATEWAY_TOKENS_TOTAL}{{{SEL}}}[5m]))",
                    "gateway {{direction}}",
                ),
                Query(
                    f"sum(rate({m.LLAMACPP_GENERATED_TOKENS_TOTAL}{{{SEL}}}[5m]))",
                    "runtime generated",
                ),
            ),
            timeseries(
                "Gateway errors by type",
                "Requests the gateway refused or failed, by error type.",
                Query(f"sum by (type) (rate({m.GATEWAY_ERRORS_TOTAL}{{{SEL}}}[5m]))", "{{type}}"),
                unit="reqps",
            ),
        ],
        [
            timeseries(
                "Security scan findings by rule",
                "Findings of the completion scanner per second, by rule and action (annotated: returned to "
                "the IDE; blocked: the candidate never left the gateway).",
                Query(
                    f"sum by (rule, action) (rate({m.GATEWAY_SCAN_FINDINGS_TOTAL}{{{SEL}}}[5m]))",
                    "{{rule}} {{action}}",
                ),
                unit="ops",
            ),
            timeseries(
                "Scan latency and fast-path misses",
                "p99 time the scan added to a completion; background-pass findings the fast rules missed.",
                Query(
                    "histogram_quantile(0.99, sum by (le) "
                    f"(rate({m.GATEWAY_SCAN_SECONDS}_bucket{{{SEL}}}[5m])))",
                    "scan p99 (s)",
                ),
                Query(
                    "sum by (rule) "
                    f'(rate({m.GATEWAY_SCAN_DEEP_FINDINGS_TOTAL}{{{SEL}, fast_path="missed"}}[1h]))',
                    "missed {{rule}}",
                ),
            ),
        ],
    ]
    return dashboard(
        "seedcoder-usage",
        "SeedCoder / Acceptance and cancellations",
        "Whether developers keep the completions, and how many requests are abandoned.",
        rows,
        _variables(),
        [_decisions()],
    )


def all_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard by file name (``<uid>.json``)."""
    boards = [slo_overview(), pool_capacity(), engine_builds(), acceptance()]
    return {f"{b['uid']}.json": b for b in boards}
