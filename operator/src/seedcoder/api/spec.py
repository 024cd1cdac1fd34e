"""The desired state of a SeedCoderDeployment: what users write in ``spec``.

Why here and in this form: these models ARE the API. The CRD's OpenAPI schema
(descriptions, enums, defaults, limits, CEL rules) is generated from them by
:mod:`seedcoder.api.crdgen`, and the operator parses every resource into them once
per reconcile, so the schema the apiserver enforces and the types the code reads
cannot drift apart. Rules the apiserver can check are CEL rules here; what it
cannot (a Secret's contents, the live cluster) is reported by the operator.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import ConfigDict, Field

from seedcoder.api._base import ApiModel
from seedcoder.api.fields import (
    DNS_LABEL,
    LABEL_KEYS_RULE,
    Cidr,
    DnsLabel,
    GpuKind,
    LabelValue,
    Precision,
    PrivateCidr,
    RuntimeName,
    rules,
)
from seedcoder.api.model import ClaimRef, EngineSpec, ModelSpec, SecretRef
from seedcoder.api.retrieval import RetrievalSpec
from seedcoder.api.scan import ScanSpec
from seedcoder.images import IMAGE_REFERENCE_PATTERN

__all__ = ["TTFT_OBJECTIVE_QUANTILE", "GpuKind", "Precision", "RuntimeName", "SeedCoderDeploymentSpec"]


class Toleration(ApiModel):
    """A Kubernetes toleration (core/v1 Toleration)."""

    key: str | None = Field(default=None, max_length=316, description="Taint key; empty matches all.")
    operator: Literal["Exists", "Equal"] = Field(default="Equal", description="Exists or Equal.")
    value: str | None = Field(default=None, max_length=63, description="Taint value for Equal.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect to tolerate; empty matches all."
    )
    toleration_seconds: int | None = Field(
        default=None, ge=0, le=86400, description="How long a NoExecute taint is tolerated."
    )


class NodeSelectorRequirement(ApiModel):
    """A node label requirement (core/v1 NodeSelectorRequirement)."""

    key: str = Field(max_length=316, description="Node label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="In, NotIn, Exists, DoesNotExist, Gt or Lt."
    )
    values: list[LabelValue] | None = Field(default=None, max_length=64, description="Values to compare.")


class NodeSelectorTerm(ApiModel):
    """Requirements that must all hold (core/v1 NodeSelectorTerm)."""

    match_expressions: list[NodeSelectorRequirement] | None = Field(
        default=None, max_length=16, description="Requirements on node labels."
    )
    match_fields: list[NodeSelectorRequirement] | None = Field(
        default=None, max_length=16, description="Requirements on node fields."
    )


class RequiredNodeSelector(ApiModel):
    """Terms of which at least one must hold (core/v1 NodeSelector)."""

    node_selector_terms: list[NodeSelectorTerm] = Field(
        min_length=1, max_length=8, description="A node must match one of these terms."
    )


class PreferredSchedulingTerm(ApiModel):
    """A weighted preference (core/v1 PreferredSchedulingTerm)."""

    weight: int = Field(ge=1, le=100, description="Weight, 1-100.")
    preference: NodeSelectorTerm = Field(description="The preferred node requirements.")


class NodeAffinity(ApiModel):
    """Node affinity (core/v1 NodeAffinity)."""

    required_during_scheduling_ignored_during_execution: RequiredNodeSelector | None = Field(
        default=None, description="Hard requirement; ANDed with the operator's GPU architecture match."
    )
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = Field(
        default=None, max_length=16, description="Soft preferences, kept as given."
    )


class Affinity(ApiModel):
    """Scheduling affinity of a pool's pods (node affinity; merged with the GPU match)."""

    node_affinity: NodeAffinity | None = Field(default=None, description="Node affinity.")


class ResourceList(ApiModel):
    """Container resource quantities (requests or limits)."""

    cpu: int | str | None = Field(default=None, description="CPU quantity, e.g. 8 or 500m.")
    memory: int | str | None = Field(default=None, description="Memory quantity, e.g. 64Gi.")


class PoolResources(ApiModel):
    """Resource overrides for a pool's Triton container (the GPU count is set by the operator)."""

    requests: ResourceList | None = Field(default=None, description="Requested CPU and memory.")
    limits: ResourceList | None = Field(default=None, description="CPU and memory limits.")


class PoolSpec(ApiModel):
    """One group of Triton replicas on one GPU kind."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            {"rule": "self.minReplicas <= self.maxReplicas", "message": "minReplicas must be <= maxReplicas"}
        )
    )

    name: str = Field(
        min_length=1, max_length=15, pattern=DNS_LABEL, description="Pool name, unique in the resource."
    )
    gpu: GpuKind = Field(description="GPU kind of the pool's nodes; selects the build profile and nodes.")
    runtime: RuntimeName | None = Field(
        default=None,
        description="Serving runtime; default the GPU kind's (tensorrt-llm on GPUs, llamacpp on CPU). "
        "RTX4090 and L4 pools may choose llamacpp (GGUF with CUDA) instead.",
    )
    precision: Precision | None = Field(default=None, description="Overrides engine.precision for this pool.")
    min_replicas: int = Field(default=1, ge=0, le=64, description="Fewest Triton replicas.")
    max_replicas: int = Field(default=4, ge=1, le=64, description="Most Triton replicas.")
    node_selector: dict[str, LabelValue] | None = Field(
        default=None,
        max_length=16,
        json_schema_extra=rules(LABEL_KEYS_RULE),
        description="Node labels the pool's pods (and its engine's build) must also match; the GPU "
        "architecture is matched by node affinity, never by overriding these.",
    )
    gpu_product: LabelValue | None = Field(
        default=None,
        description="Run only on nodes whose nvidia.com/gpu.product is this value (one variant, or nodes "
        "labelled otherwise). Unset: any node of the GPU kind's architecture, by GPU Feature Discovery's "
        "nvidia.com/gpu.compute.major/minor or any known product name of that architecture.",
    )
    affinity: Affinity | None = Field(
        default=None,
        description="Node affinity: required terms are ANDed with the GPU architecture match, "
        "preferences kept as given.",
    )
    tolerations: list[Toleration] | None = Field(
        default=None, max_length=16, description="Extra tolerations (the nvidia.com/gpu taint is tolerated)."
    )
    resources: PoolResources | None = Field(
        default=None, description="CPU and memory of the Triton container."
    )


TTFT_OBJECTIVE_QUANTILE: Final = 0.95
"""What ``slo.ttftP95Ms: X`` means, everywhere: 95% of requests get their first token within X ms.

The autoscaler holds the measured p95 at or under X, SLOMet and ``status.slo`` report
it, the recording rules and burn-rate alerts use 0.95 as the objective (a 5% error
budget) and the dashboards draw X as the p95's threshold. One constant, so no layer
can mean p99 where another means p95.
"""


class SloSpec(ApiModel):
    """The latency objective the autoscaler holds."""

    ttft_p95_ms: int = Field(
        default=300,
        ge=50,
        le=60000,
        description="Time to first token objective, ms: 95% of requests (p95) get their first token within "
        "it. The autoscaler holds it, status.slo and SLOMet report it, burn-rate alerts page on its 5% "
        "error budget (at least 50: the TTFT histogram's finest SLO bucket).",
    )
    window_minutes: int = Field(
        default=1,
        ge=1,
        le=60,
        description=(
            "Window the measured percentiles are taken over: the autoscaler's signal and SLOMet "
            "(1 minute is what the autoscaling benchmark scores)."
        ),
    )


class AutoscalingSpec(ApiModel):
    """Who sets each pool's replicas."""

    mode: Literal["slo", "fixed"] = Field(
        default="slo", description="slo: the autoscaler holds the SLO; fixed: minReplicas per pool."
    )
    interval_seconds: int = Field(
        default=15, ge=5, le=600, description="How often the policy runs (the benchmarked setting is 15)."
    )
    scale_up_cooldown_seconds: int = Field(
        default=0,
        ge=0,
        le=3600,
        description="Extra pause after a scale-up before the next one (0: the policy alone decides).",
    )
    scale_down_cooldown_seconds: int = Field(
        default=300, ge=0, le=86400, description="Pause after any scaling before scaling down."
    )
    breach_memory_seconds: int = Field(
        default=1800,
        ge=0,
        le=86400,
        description="How long the fleet that an SLO breach needed is kept before it may shrink.",
    )
    max_step_up: int = Field(
        default=16, ge=1, le=64, description="Most replicas added at once per pool (a safety bound)."
    )
    prometheus_url: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^https?://[^\s]+$",
        description="Prometheus HTTP API to read TTFT from; without it the gateway pods are scraped.",
    )


class GatewayFeedbackSpec(ApiModel):
    """Where the feedback data set (accepted / rejected / edited events) is written."""

    pvc: ClaimRef = Field(
        description=(
            "Claim mounted by every gateway replica; each writes its own files (named after its pod), "
            "so the folder holds one data set. Needs ReadWriteMany when replicas > 1."
        )
    )


class GatewaySpec(ApiModel):
    """The OpenAI-compatible completion gateway in front of the pools."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            {
                "rule": "self.openMode || has(self.apiKeySecretRef)",
                "message": "apiKeySecretRef is required unless openMode is true",
            }
        )
    )

    replicas: int = Field(default=2, ge=1, le=32, description="Gateway replicas.")
    max_context_tokens: int = Field(default=8192, ge=256, le=32768, description="Prompt token budget.")
    max_output_tokens: int = Field(default=512, ge=1, le=4096, description="Most tokens per completion.")
    api_key_secret_ref: SecretRef | None = Field(
        default=None, description="Secret whose every key holds one API key (mounted read-only)."
    )
    open_mode: bool = Field(default=False, description="Serve without API keys (trusted networks only).")
    rate_limit_rps: int = Field(default=20, ge=1, le=10000, description="Per-key requests per second.")
    resources: PoolResources | None = Field(
        default=None, description="CPU and memory of the gateway container."
    )
    feedback: GatewayFeedbackSpec | None = Field(
        default=None,
        description=(
            "Durable storage of the feedback data set. Unset: each pod's emptyDir, lost with the pod "
            "(status condition FeedbackDurable=False says so)."
        ),
    )
    scan: ScanSpec | None = Field(
        default=None,
        description=(
            "Security scanning of every completion, the API allow/deny lists, and feedback scrubbing. "
            "Unset: the operator's default policy (chart value operator.defaultScanPolicy), no lists."
        ),
    )


class NetworkSpec(ApiModel):
    """Who may reach the gateway; everything stays inside the cluster or VPC."""

    allowed_namespaces: list[DnsLabel] = Field(
        default_factory=list, max_length=32, description="Namespaces whose pods may call the gateway."
    )
    allowed_cidrs: list[PrivateCidr] = Field(
        alias="allowedCIDRs",
        default_factory=list,
        max_length=32,
        description="Private address ranges (VPC) that may call the gateway.",
    )
    exposure: Literal["ClusterIP", "InternalLoadBalancer"] = Field(
        default="ClusterIP", description="Gateway Service type; never public."
    )
    monitoring_namespace: str = Field(
        default="monitoring",
        max_length=63,
        pattern=DNS_LABEL,
        description="Namespace Prometheus scrapes from.",
    )
    allow_model_download: bool = Field(
        default=False, description="Let build pods reach the internet (needed by huggingFace sources)."
    )
    model_source_cidrs: list[Cidr] = Field(
        alias="modelSourceCIDRs",
        default_factory=list,
        max_length=16,
        description="Where s3 build pods may connect (port 443); empty means any address.",
    )


ImageReference = Annotated[str, Field(max_length=512, pattern=IMAGE_REFERENCE_PATTERN)]


class ImagesSpec(ApiModel):
    """Images of this resource's pods, overriding the operator's (a team's mirror, a pinned digest).

    Each is a full reference, ``registry/repository[:tag][@sha256:<digest>]``; a
    digest pins the image. The build image is part of the engine key: changing
    ``tritonTrtllm`` or ``tritonCpu`` builds new engines (the same digest from
    another registry does not).
    """

    gateway: ImageReference | None = Field(
        default=None, description="The gateway's image (the seedcoder image); default: the operator's."
    )
    triton_cpu: ImageReference | None = Field(
        default=None,
        description="Builds and serves llamacpp (CPU) pools (seedcoder-triton-cpu); default: the operator's.",
    )
    triton_trtllm: ImageReference | None = Field(
        default=None,
        description=(
            "Builds and serves tensorrt-llm pools (seedcoder-triton-trtllm); default: the operator's. "
            "Must carry the TensorRT-LLM version of the GPU profile."
        ),
    )
    triton_llamacpp_cuda: ImageReference | None = Field(
        default=None,
        description="Builds and serves llamacpp pools on GPUs (seedcoder-triton-llamacpp-cuda); default: the "
        "operator's.",
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="imagePullPolicy of every container; default: the operator's."
    )
    pull_secrets: list[SecretRef] = Field(
        default_factory=list,
        max_length=8,
        description="imagePullSecrets added to every pod (Secrets in this namespace), after the operator's.",
    )


class SeedCoderDeploymentSpec(ApiModel):
    """A Seed-Coder completion service: engines, Triton pools, gateway, SLO and network rules."""

    # Rules that depend on the GPU build profiles (precision and runtime per GPU
    # kind) are added to the CRD by ``seedcoder.api.crdgen`` from the profiles.

    model_config = ConfigDict(
        json_schema_extra=rules(
            {
                "rule": "self.pools.all(p, self.pools.exists_one(q, q.name == p.name))",
                "message": "pool names must be unique",
                "fieldPath": ".pools",
            },
            {
                "rule": "!has(self.model.source.huggingFace) || self.network.allowModelDownload",
                "message": "a huggingFace source needs network.allowModelDownload: true",
                "fieldPath": ".network.allowModelDownload",
            },
            {
                "rule": "!has(self.engine.gate) || self.gateway.openMode || "
                "has(self.engine.gate.apiKeySecretRef)",
                "message": "engine.gate.apiKeySecretRef is required unless gateway.openMode is true",
                "fieldPath": ".engine.gate",
            },
        )
    )

    model: ModelSpec = Field(description="The model and where its weights come from.")
    engine: EngineSpec = Field(
        default_factory=EngineSpec, json_schema_extra={"default": {}}, description="Engine build settings."
    )
    pools: list[PoolSpec] = Field(
        min_length=1,
        max_length=8,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="Triton pools, one per GPU kind or node group.",
    )
    slo: SloSpec = Field(
        default_factory=SloSpec, json_schema_extra={"default": {}}, description="Latency SLO."
    )
    autoscaling: AutoscalingSpec = Field(
        default_factory=AutoscalingSpec, json_schema_extra={"default": {}}, description="Replica control."
    )
    gateway: GatewaySpec = Field(description="The completion gateway (API keys or openMode must be set).")
    network: NetworkSpec = Field(
        default_factory=NetworkSpec, json_schema_extra={"default": {}}, description="Network isolation."
    )
    images: ImagesSpec = Field(
        default_factory=ImagesSpec,
        json_schema_extra={"default": {}},
        description="Image overrides for this resource's gateway, build Jobs and Triton pods.",
    )
    retrieval: RetrievalSpec | None = Field(
        default=None,
        description=(
            "Index the company's own Git repositories and docs and put the pieces relevant to the cursor "
            "into each prompt (unset: prompts hold only what the IDE sends)."
        ),
    )
