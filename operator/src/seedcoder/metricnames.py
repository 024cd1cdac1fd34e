"""Every Prometheus metric name the project exports or queries, in one place.

Why: the gateway exports these, the autoscaler queries them, and the recording
rules, alerts and Grafana dashboards are generated from them. A rename here
reaches all of them at once, and a test checks that every name a dashboard or
rule uses is really scraped.
"""

from typing import Final

# --- gateway (the SLO's source of truth: Triton has no time-to-first-token metric)
GATEWAY_TTFT_SECONDS: Final = "seedcoder_gateway_time_to_first_token_seconds"
"""Histogram, labels ``pool``, ``model``: request received to first token sent."""
GATEWAY_E2E_SECONDS: Final = "seedcoder_gateway_request_duration_seconds"
"""Histogram, labels ``pool``, ``model``, ``endpoint``: whole request duration."""
GATEWAY_REQUESTS_TOTAL: Final = "seedcoder_gateway_requests_total"
"""Counter, labels ``pool``, ``model``, ``endpoint``, ``code`` (HTTP status)."""
GATEWAY_ERRORS_TOTAL: Final = "seedcoder_gateway_errors_total"
"""Counter, label ``type`` (invalid_request, auth, rate_limited, backend_unavailable, timeout, ...)."""
GATEWAY_TOKENS_TOTAL: Final = "seedcoder_gateway_tokens_total"
"""Counter, labels ``pool``, ``model``, ``direction`` (``prompt`` or ``completion``)."""
GATEWAY_CANCELLATIONS_TOTAL: Final = "seedcoder_gateway_cancellations_total"
"""Counter, labels ``pool``, ``reason`` (``client_disconnect``, ``timeout``)."""
GATEWAY_CACHE_HITS_TOTAL: Final = "seedcoder_gateway_cache_hits_total"
"""Counter: responses served from the exact-match cache."""
GATEWAY_INFLIGHT: Final = "seedcoder_gateway_inflight_requests"
"""Gauge, label ``pool``: requests being served now."""
GATEWAY_FEEDBACK_TOTAL: Final = "seedcoder_gateway_feedback_total"
"""Counter, label ``outcome`` (``accepted``, ``rejected``, ``edited``)."""
GATEWAY_POOL_HEALTHY: Final = "seedcoder_gateway_pool_healthy"
"""Gauge, label ``pool``: 1 while the pool passes health checks, else 0."""
GATEWAY_POOL_ENDPOINTS: Final = "seedcoder_gateway_pool_endpoints"
"""Gauge, labels ``pool``, ``state`` (``healthy``, ``unhealthy``, ``draining``): Triton replicas known."""
GATEWAY_ENDPOINT_REQUESTS_TOTAL: Final = "seedcoder_gateway_endpoint_requests_total"
"""Counter, labels ``pool``, ``address``: backend requests sent to each Triton replica."""
GATEWAY_CONTEXT_TRIMMED_TOKENS_TOTAL: Final = "seedcoder_gateway_context_trimmed_tokens_total"
"""Counter: prompt tokens dropped by the context budget."""

# --- operator and autoscaler
OPERATOR_RECONCILE_SECONDS: Final = "seedcoder_operator_reconcile_duration_seconds"
"""Histogram: one level-based reconcile of one resource."""
OPERATOR_RECONCILE_ERRORS_TOTAL: Final = "seedcoder_operator_reconcile_errors_total"
"""Counter, label ``reason``."""
OPERATOR_WRITES_TOTAL: Final = "seedcoder_operator_api_writes_total"
"""Counter, labels ``kind``, ``verb``: writes the operator sent to the Kubernetes API."""
OPERATOR_QUEUE_DEPTH: Final = "seedcoder_operator_reconcile_queue_depth"
"""Reconciles waiting for their resource's lock (a burst of events or a slow API shows here)."""
OPERATOR_RESOURCES: Final = "seedcoder_operator_resources"
"""SeedCoderDeployments the operator watches."""
OPERATOR_ENGINE_BUILDS: Final = "seedcoder_operator_engine_builds"
"""Gauge, labels ``arch``, ``state``: engine builds per state."""
OPERATOR_ENGINE_BUILD_SECONDS: Final = "seedcoder_operator_engine_build_duration_seconds"
"""Histogram, label ``arch``: a build Job's duration, start to finish."""
AUTOSCALER_DESIRED_REPLICAS: Final = "seedcoder_autoscaler_desired_replicas"
"""Gauge, labels ``namespace``, ``deployment``, ``pool``: what the policy asked for."""
AUTOSCALER_READY_REPLICAS: Final = "seedcoder_autoscaler_ready_replicas"
"""Gauge, labels ``namespace``, ``deployment``, ``pool``: ready Triton replicas seen."""
AUTOSCALER_DECISIONS_TOTAL: Final = "seedcoder_autoscaler_decisions_total"
"""Counter, labels ``namespace``, ``deployment``, ``pool``, ``direction`` (``up``, ``down``)."""
AUTOSCALER_POOL_GPUS: Final = "seedcoder_autoscaler_pool_gpus"
"""Gauge, labels ``namespace``, ``deployment``, ``pool``, ``gpu``: GPUs held by ready replicas."""

# --- Triton and the llama.cpp runtime (exported by Triton on its metrics port)
TRITON_REQUEST_SUCCESS: Final = "nv_inference_request_success"
TRITON_REQUEST_FAILURE: Final = "nv_inference_request_failure"
TRITON_PENDING_REQUESTS: Final = "nv_inference_pending_request_count"
TRITON_QUEUE_US: Final = "nv_inference_queue_duration_us"
TRTLLM_REQUEST_METRICS: Final = "nv_trt_llm_request_metrics"
TRTLLM_KV_CACHE_BLOCKS: Final = "nv_trt_llm_kv_cache_block_metrics"
LLAMACPP_GENERATED_TOKENS_TOTAL: Final = "seedcoder_llamacpp_generated_tokens_total"
"""Counter (custom Triton metric of the llama.cpp model): tokens generated."""
LLAMACPP_CANCELLED_TOTAL: Final = "seedcoder_llamacpp_cancelled_requests_total"
"""Counter (custom Triton metric of the llama.cpp model): requests stopped by cancellation."""
