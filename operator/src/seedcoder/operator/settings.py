"""The operator's settings, read once from the environment into one typed object.

Why one object passed explicitly: handlers, builders and the apply step all read
configuration, and tests run several operators with different settings in one
process; a frozen value handed down (never a module-level global) keeps them
independent. Every field is documented; the environment variable is the field
name upper-cased with the ``SEEDCODER_`` prefix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seedcoder.api.scan import ScanPolicy
from seedcoder.images import check_reference
from seedcoder.observability.monitors import KUBE_PROMETHEUS_STACK_LABELS

ENV_PREFIX = "SEEDCODER_"
FIELD_MANAGER = "seedcoder-operator"
"""The one server-side-apply field manager of everything the operator writes."""
AUTOSCALER_FIELD_MANAGER = "seedcoder-autoscaler"
"""The field manager that owns Triton Deployment replicas in ``slo`` mode."""
DEFAULT_MONITORING_LABELS = KUBE_PROMETHEUS_STACK_LABELS
_LABEL_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class OperatorSettings(BaseModel):
    """Operator configuration (environment variable = ``SEEDCODER_`` + field name upper-cased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespaces: tuple[str, ...] = Field(
        default=(),
        description="Namespaces to watch (comma-separated); empty with all_namespaces false is an error.",
    )
    all_namespaces: bool = Field(default=False, description="Watch every namespace (needs a ClusterRole).")
    image_registry: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^[a-zA-Z0-9.-]+(:[0-9]+)?(/[a-z0-9._/-]+)?$",
        description=(
            "Registry (host[:port], optionally with a path prefix) that replaces the registry of every "
            "default image the operator writes, e.g. an internal mirror."
        ),
    )
    gateway_image: str | None = Field(
        default=None,
        description="Full reference of the gateway's image (the seedcoder image); wins over image_registry.",
    )
    triton_cpu_image: str | None = Field(
        default=None,
        description="Full reference of the image that builds and serves CPU (llama.cpp) pools.",
    )
    triton_trtllm_image: str | None = Field(
        default=None,
        description="Full reference of the image that builds and serves TensorRT-LLM pools.",
    )
    triton_llamacpp_cuda_image: str | None = Field(
        default=None,
        description="Full reference of the image that builds and serves llama.cpp pools on GPUs (CUDA).",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", description="imagePullPolicy of every container the operator creates."
    )
    image_pull_secrets: tuple[str, ...] = Field(
        default=(),
        description="imagePullSecrets (comma-separated Secret names) for every pod the operator creates.",
    )
    resync_seconds: float = Field(
        default=30.0, gt=0, description="Timer interval: level-based resync and autoscaling hook."
    )
    max_concurrent_reconciles: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Reconciles running at once; the others wait their turn, and their triggers coalesce.",
    )
    build_backoff_limit: int = Field(
        default=3, ge=0, le=20, description="Pod retries of one build Job (the Job controller backs off)."
    )
    build_retry_seconds: float = Field(
        default=600.0, ge=0, description="After a build Job failed for good, wait this long, then try again."
    )
    build_deadline_seconds: int = Field(
        default=4 * 3600, ge=60, description="activeDeadlineSeconds of a build."
    )
    prometheus_url: str | None = Field(
        default=None,
        description=(
            "Prometheus HTTP API the SLO autoscaler reads the gateway's metrics from; "
            "a resource's spec.autoscaling.prometheusUrl overrides it; unset: scrape the gateway pods."
        ),
    )
    operator_namespace: str | None = Field(
        default=None,
        description=(
            "Namespace of the operator's pod (falls back to POD_NAMESPACE, set from the downward API): "
            "the gateways' NetworkPolicy admits the operator from there when it scrapes their /metrics."
        ),
    )
    default_scan_policy: ScanPolicy = Field(
        default="annotate",
        description="Scan policy of gateways whose resource sets no spec.gateway.scan: off, annotate, block.",
    )
    cluster_domain: str = Field(default="cluster.local", description="DNS domain of Services.")
    probe_port: int = Field(default=8080, ge=0, le=65535, description="Kopf liveness endpoint port (0: off).")
    metrics_port: int = Field(default=9090, ge=0, le=65535, description="Prometheus /metrics port (0: off).")
    bind_address: str = Field(default="0.0.0.0", description="Address of the probe and metrics servers.")  # noqa: S104
    kubeconfig: str | None = Field(default=None, description="Kubeconfig path; in-cluster config when unset.")
    monitoring_labels: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MONITORING_LABELS),
        description=(
            "Labels (comma-separated key=value) on every PodMonitor and PrometheusRule the operator writes: "
            "what the Prometheus' podMonitorSelector and ruleSelector match. The default suits a "
            "kube-prometheus-stack installed as release 'kube-prometheus-stack'."
        ),
    )

    @field_validator("monitoring_labels", mode="before")
    @classmethod
    def _labels(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        labels: dict[str, str] = {}
        for item in (i.strip() for i in value.split(",")):
            if not item:
                continue
            key, sep, val = item.partition("=")
            if not sep:
                raise ValueError(f"monitoring_labels: {item!r} is not key=value")
            labels[key.strip()] = val.strip()
        return labels

    @field_validator("monitoring_labels")
    @classmethod
    def _valid_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(f"monitoring_labels: {key!r} is not a valid Kubernetes label key")
            if not _LABEL_VALUE.fullmatch(val):
                raise ValueError(f"monitoring_labels: value {val!r} of {key!r} is not a valid label value")
        return value

    @field_validator("image_registry", mode="before")
    @classmethod
    def _registry(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("gateway_image", "triton_cpu_image", "triton_trtllm_image", "triton_llamacpp_cuda_image")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        return None if not value else check_reference(value)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OperatorSettings:
        """Settings from ``SEEDCODER_*`` variables; unknown ``SEEDCODER_OPERATOR_*`` ones are ignored."""
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is None:
                continue
            if name in {"namespaces", "image_pull_secrets"}:
                values[name] = tuple(n.strip() for n in raw.split(",") if n.strip())
            elif name == "all_namespaces":
                values[name] = raw.strip().lower() in {"1", "true", "yes"}
            else:
                values[name] = raw
        if "operator_namespace" not in values and env.get("POD_NAMESPACE"):
            values["operator_namespace"] = env["POD_NAMESPACE"]
        if "kubeconfig" not in values and env.get("KUBECONFIG"):
            values["kubeconfig"] = env["KUBECONFIG"]
        return cls.model_validate(values)
