"""The gateway's configuration file, written by the operator and read by the gateway.

Why here: the operator (writer) and the gateway (reader) must not import each
other, so the one schema both obey lives in the pure ``api`` layer. The operator
renders it into a ConfigMap key ``gateway.json``; the gateway loads it at start
and on change.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from seedcoder.api.adapters import AdapterConfig, check_adapters
from seedcoder.api.retrieval import RetrievalConfig
from seedcoder.api.scan import ScanSpec
from seedcoder.engines.contract import MODEL_NAME


class FimTemplate(BaseModel):
    """How a prefix and a suffix become one prompt (defaults: Seed-Coder's SPM order)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(
        default="<[fim-suffix]>{suffix}<[fim-prefix]>{prefix}<[fim-middle]>",
        description="Prompt for fill-in-the-middle; {prefix} and {suffix} are replaced.",
    )
    stop: list[str] = Field(
        default_factory=lambda: [
            "<[end▁of▁sentence]>",
            "<[fim-suffix]>",
            "<[fim-prefix]>",
            "<[fim-middle]>",
        ],
        description="Stop sequences always added to FIM requests (EOS and the FIM tokens).",
    )


class PoolEndpoint(BaseModel):
    """One Triton pool the gateway may route to.

    A *candidate* pool (the canary of an engine not yet rolled out, scored by the
    engine quality gate against the serving engine through this gateway) takes
    only requests pinned to it by name (``<model>@<pool>``, ``seedcoder.api.adapters``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Pool name, as in the SeedCoderDeployment.")
    grpc_url: str = Field(
        description=(
            "host:port of the pool's Triton gRPC endpoint: the headless Service's DNS name (every ready "
            "replica), or a literal IP:port (one static endpoint)."
        )
    )
    gpu: str = Field(description="GPU kind of the pool (H100, A100, CPU, ...).")
    runtime: Literal["tensorrt-llm", "llamacpp"] = Field(
        default="llamacpp", description="Serving runtime of the pool: which sampling fields it honours."
    )
    capacity_weight: float = Field(
        default=1.0, gt=0, description="Relative capacity of one replica, for weighted routing."
    )
    max_prompt_tokens: int | None = Field(
        default=None,
        gt=0,
        description="Longest prompt this pool serves within the TTFT SLO; longer ones go elsewhere.",
    )
    candidate: bool = Field(
        default=False,
        description=(
            "A pool under evaluation (an engine not yet rolled out): it answers only requests that name "
            "it ('<model>@<pool>'), never ordinary traffic."
        ),
    )

    @model_serializer(mode="wrap")
    def _omit_not_candidate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A pool that is no candidate is written as it was before candidates existed (the
        ConfigMap's checksum, and so the gateway pods, do not change)."""
        data: dict[str, Any] = handler(self)
        if not self.candidate:
            data.pop("candidate", None)
        return data


class GatewayConfig(BaseModel):
    """Everything the gateway needs to know about the deployment it fronts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(description="Model id clients send and /v1/models lists.")
    triton_model: str = Field(default=MODEL_NAME, description="Model name in the Triton repository.")
    pools: list[PoolEndpoint] = Field(min_length=1)
    fim: FimTemplate = Field(default_factory=FimTemplate)
    max_context_tokens: int = Field(default=8192, gt=0)
    max_output_tokens: int = Field(default=512, gt=0)
    ttft_p95_ms: int = Field(default=300, gt=0)
    open_mode: bool = Field(
        default=False, description="Serve without API keys. Only when explicitly configured."
    )
    api_keys_dir: str | None = Field(
        default="/etc/seedcoder/api-keys",
        description="Directory of a mounted Secret; every file holds one API key.",
    )
    rate_limit_rps: float = Field(default=20.0, gt=0, description="Per-key token bucket refill rate.")
    rate_limit_burst: int = Field(default=40, gt=0, description="Per-key token bucket size.")
    backend_timeout_s: float = Field(default=30.0, gt=0)
    feedback_dir: str = Field(
        default="/var/lib/seedcoder/feedback",
        description="Folder of the feedback data set (shared by every replica on a ReadWriteMany claim).",
    )
    feedback_writer: str | None = Field(
        default=None,
        description=(
            "This replica's name in its feedback file names (set per pod from the environment, never in "
            "the shared file); unset: the host name, which is the pod name in Kubernetes."
        ),
    )
    # Optional knobs (added with the gateway; defaults suit production).
    max_candidates: int = Field(default=8, ge=1, le=64, description="Largest accepted `n`.")
    max_request_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest accepted request body; larger ones get 413."
    )
    cache_max_entries: int = Field(
        default=1024, ge=0, description="Exact-match response cache size (greedy requests); 0 disables it."
    )
    cache_ttl_s: float = Field(default=300.0, gt=0, description="Lifetime of a cached response.")
    health_interval_s: float = Field(
        default=2.0, gt=0, description="How often each pool's Triton model-ready endpoint is checked."
    )
    endpoint_refresh_s: float = Field(
        default=3.0,
        gt=0,
        description=(
            "How often each pool's host name is resolved again to find its ready Triton replicas "
            "(a headless Service answers with every ready pod); a literal IP is never resolved."
        ),
    )
    api_keys_reload_s: float = Field(
        default=5.0, gt=0, description="How often the API key directory is re-read for changes."
    )
    feedback_max_file_bytes: int = Field(
        default=64 * 1024 * 1024, gt=0, description="Feedback JSONL files rotate past this size."
    )
    recent_completions: int = Field(
        default=4096, ge=1, description="Completions remembered so that feedback can name its prompt."
    )
    retrieval: RetrievalConfig | None = Field(
        default=None, description="Retrieved code and docs in prompts (absent: none)."
    )
    trim: Literal["relevance", "nearest"] = Field(
        default="relevance",
        description=(
            "How an over-long prompt is cut: 'relevance' keeps the file's imports, the enclosing "
            "definitions and the definitions of names used near the cursor before distant code; "
            "'nearest' keeps only the lines nearest the cursor."
        ),
    )
    scan: ScanSpec = Field(default_factory=ScanSpec, description="Static analysis of completions.")
    adapters: list[AdapterConfig] = Field(
        default_factory=list,
        description="LoRA adapters served as '<model_name>:<name>' (seedcoder.api.adapters; set on publish).",
    )

    @model_validator(mode="after")
    def _check_adapters(self) -> GatewayConfig:
        check_adapters(self.adapters, [p.name for p in self.pools])
        return self

    @model_serializer(mode="wrap")
    def _omit_no_adapters(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without adapters the file is byte for byte what it was before adapters existed
        (the ConfigMap's checksum, and so the gateway pods, do not change)."""
        data: dict[str, Any] = handler(self)
        if not self.adapters:
            data.pop("adapters", None)
        return data
