"""The model and engine parts of a SeedCoderDeployment spec: what to serve and how to build it.

Why separate from the pools and networking: these fields are exactly the inputs
of the engine key (model, revision, precision, limits) plus where the weights
and built engines live; keeping them together makes it easy to see what causes
a rebuild.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from seedcoder.api._base import ApiModel
from seedcoder.api.fields import (
    DNS_SUBDOMAIN,
    LABEL_KEYS_RULE,
    AnnotationValue,
    DnsLabel,
    LabelValue,
    Precision,
    rules,
)


class SecretRef(ApiModel):
    """A Secret in the resource's namespace."""

    name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="Name of the Secret.")


class PvcModelSource(ApiModel):
    """Weights already on a PersistentVolumeClaim (no network needed to build)."""

    claim_name: str = Field(
        max_length=253, pattern=DNS_SUBDOMAIN, description="PersistentVolumeClaim holding the weights."
    )
    path: str = Field(
        default="",
        max_length=1024,
        pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$",
        json_schema_extra=rules({"rule": "!self.split('/').exists(p, p == '..')", "message": "no '..'"}),
        description="Directory of the Hugging Face checkpoint inside the volume (relative, no '..').",
    )


class S3ModelSource(ApiModel):
    """Weights in an S3-compatible bucket, read through a VPC endpoint."""

    uri: str = Field(
        max_length=1024,
        pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$",
        description="s3://bucket/prefix of the Hugging Face checkpoint.",
    )
    endpoint: str | None = Field(
        default=None,
        max_length=512,
        pattern=r"^https://[^\s]+$",
        description="HTTPS endpoint URL (a VPC interface endpoint keeps traffic private).",
    )
    secret_ref: SecretRef | None = Field(
        default=None,
        description="Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (else workload identity).",
    )


class HuggingFaceModelSource(ApiModel):
    """Download from the Hugging Face Hub (leaves the VPC: needs network.allowModelDownload)."""

    repo: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$",
        description="Hub repository id; defaults to model.name.",
    )
    token_secret_ref: SecretRef | None = Field(
        default=None, description="Secret whose key HF_TOKEN holds a Hub access token."
    )


class ModelSource(ApiModel):
    """Where the engine build reads the weights. Set exactly one."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            {
                "rule": "[has(self.pvc), has(self.s3), has(self.huggingFace)].filter(x, x).size() == 1",
                "message": "exactly one of pvc, s3 or huggingFace must be set",
            }
        )
    )

    pvc: PvcModelSource | None = Field(default=None, description="Weights on a PersistentVolumeClaim.")
    s3: S3ModelSource | None = Field(default=None, description="Weights in an S3-compatible bucket.")
    hugging_face: HuggingFaceModelSource | None = Field(
        default=None, description="Weights downloaded from the Hugging Face Hub."
    )


class ModelSpec(ApiModel):
    """Which model to serve, pinned to a revision."""

    name: str = Field(
        default="ByteDance-Seed/Seed-Coder-8B-Base",
        max_length=200,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9._-]+$",
        description="Model id (org/name) that clients send and /v1/models lists.",
    )
    revision: str = Field(
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Pinned revision (commit sha) of the weights; part of the engine key.",
    )
    source: ModelSource = Field(description="Where the weights are read from (exactly one source).")


class ClaimRef(ApiModel):
    """A PersistentVolumeClaim in the resource's namespace."""

    claim_name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN, description="Name of the claim.")


class EngineCacheSpec(ApiModel):
    """Where built engines are kept. Shared per namespace: every resource of the namespace that names
    the same claim shares its engines and builds (one build per engine key); resources in other
    namespaces build their own. The claim must be ReadWriteMany (build Jobs write it, Triton pods on
    every node of a pool read it); another access mode is reported as Ready=False, InvalidSpec."""

    pvc: ClaimRef = Field(
        default=ClaimRef(claim_name="seedcoder-engine-cache"),
        json_schema_extra={"default": {"claimName": "seedcoder-engine-cache"}},
        description="ReadWriteMany claim in the resource's namespace, mounted read-write by engine builds "
        "and read-only by Triton; engines are shared by the namespace's resources only.",
    )


class BuildPodSpec(ApiModel):
    """Extra metadata for engine build pods (cost allocation, node-autoscaler hints)."""

    labels: dict[str, LabelValue] = Field(
        default_factory=dict,
        max_length=16,
        json_schema_extra=rules(LABEL_KEYS_RULE),
        description="Labels added to build pods.",
    )
    annotations: dict[str, AnnotationValue] = Field(
        default_factory=dict,
        max_length=16,
        json_schema_extra=rules(LABEL_KEYS_RULE),
        description="Annotations added to build pods.",
    )


class EngineGateSpec(ApiModel):
    """A pool's new engine takes traffic only after scoring as well as the engine it replaces."""

    max_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Largest fall of mean edit similarity, on any task set, of the new engine against "
        "the engine the pool serves; more and the pool keeps its engine (EngineRegressed).",
    )
    max_tokens: int = Field(default=64, ge=1, le=1024, description="Completion length used in evaluation.")
    limit: int = Field(default=0, ge=0, le=100_000, description="Tasks per set evaluated (0: all of them).")
    api_key_secret_ref: DnsLabel | None = Field(
        default=None,
        description="Secret (key 'api-key') with a gateway API key the evaluation Job uses; required "
        "unless gateway.openMode.",
    )


class EngineSpec(ApiModel):
    """How TensorRT-LLM engines are built; one engine per distinct GPU architecture."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            {
                "rule": "!has(self.maxInputLen) || !has(self.maxOutputLen) || "
                "self.maxInputLen + self.maxOutputLen <= 32768",
                "message": "maxInputLen + maxOutputLen must not exceed the model's 32768 positions",
            }
        )
    )

    precision: Precision = Field(
        default="auto",
        description="Weight/activation precision; auto picks each GPU's best (fp8 on H100/L40S, bf16 on "
        "A100, gguf-q4_k_m on CPU). A pool may override it.",
    )
    max_batch_size: int | None = Field(
        default=None, ge=1, le=1024, description="Requests batched in flight; default from the GPU profile."
    )
    max_input_len: int | None = Field(
        default=None, ge=1, le=32768, description="Longest prompt in tokens; default from the GPU profile."
    )
    max_output_len: int | None = Field(
        default=None, ge=1, le=32768, description="Most generated tokens; default from the GPU profile."
    )
    max_num_tokens: int | None = Field(
        default=None, ge=1, le=262144, description="Tokens per engine step; default from the GPU profile."
    )
    kv_cache_reuse: bool = Field(
        default=True,
        description="Reuse KV-cache blocks of shared prompt prefixes across requests (TensorRT-LLM pools: "
        "the build's KvCacheConfig and Triton's enable_kv_cache_reuse; part of the engine key). "
        "llama.cpp pools ignore it.",
    )
    calibration: Literal["builtin", "modelSource"] = Field(
        default="builtin",
        description="Calibration data of the quantised precisions (fp8, int8-sq, int4-awq): builtin, a "
        "small set of permissively licensed source code shipped with the operator; modelSource, the "
        "directory calibration/ of the model source, holding data files (.jsonl, .json, .parquet, .csv, "
        ".txt) with a text column, as datasets.load_dataset(dir, split='train') reads them (not a "
        "save_to_disk dataset). Part of the engine key.",
    )
    cache: EngineCacheSpec = Field(
        default_factory=EngineCacheSpec,
        json_schema_extra={"default": {}},
        description="Engine cache volume: a ReadWriteMany claim whose engines and builds are shared per "
        "namespace (resources in other namespaces build their own).",
    )
    gate: EngineGateSpec | None = Field(
        default=None,
        description="Evaluate a pool's new engine (an FP8 or INT4 build after BF16, new limits or build "
        "image) with the FIM harness on a one-replica canary before it takes traffic. Unset: a built "
        "engine rolls out at once.",
    )
    build_pod: BuildPodSpec = Field(
        default_factory=BuildPodSpec,
        json_schema_extra={"default": {}},
        description="Extra labels and annotations for build pods.",
    )
