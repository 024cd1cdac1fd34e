"""The observed state of a SeedCoderDeployment: what the operator writes in ``status``.

Why typed: the operator computes the whole status from what it observed and
compares it with the live one, writing only when they differ; a typed model makes
that comparison exact and keeps the CRD's status schema (generated from these
models) honest. Conditions follow the Kubernetes API conventions
(``metav1.Condition``): CamelCase type and reason, observedGeneration, and a
lastTransitionTime that moves only when the status moves.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seedcoder.api._base import ApiModel
from seedcoder.api.finetune import SetScores
from seedcoder.api.retrieval import RetrievalStatus

Phase = Literal["Pending", "BuildingEngines", "Deploying", "Ready", "Degraded", "Failed"]
ConditionStatus = Literal["True", "False", "Unknown"]
EngineState = Literal["Pending", "Building", "Ready", "Failed"]

CONDITION_TYPES = (
    "Ready",
    "EnginesReady",
    "Available",
    "Progressing",
    "SLOMet",
    "FeedbackDurable",
    "EngineGate",
)
MAX_HISTORY = 20
"""Scaling decisions kept in ``status.autoscaling.history``."""


class Condition(ApiModel):
    """One aspect of the resource's state (metav1.Condition)."""

    type: str = Field(max_length=316, pattern=r"^[A-Z][A-Za-z0-9]*$", description="CamelCase condition type.")
    status: ConditionStatus = Field(description="True, False or Unknown.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="metadata.generation the condition was computed from."
    )
    last_transition_time: str = Field(
        json_schema_extra={"format": "date-time"}, description="When status last changed (RFC 3339)."
    )
    reason: str = Field(
        max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$", description="CamelCase reason."
    )
    message: str = Field(default="", max_length=32768, description="Human-readable details.")


class EngineStatus(ApiModel):
    """One engine (one distinct engine key) this resource needs."""

    key: str = Field(max_length=64, description="Engine key: hash of everything that shapes the engine.")
    gpu: str = Field(max_length=32, description="GPU kind the engine is built for.")
    arch: str = Field(max_length=16, description="GPU architecture (sm90, sm80, sm89, cpu).")
    precision: str = Field(max_length=32, description="Resolved precision.")
    pools: list[str] = Field(default_factory=list, max_length=8, description="Pools that serve this engine.")
    state: EngineState = Field(description="Pending, Building, Ready or Failed.")
    stage: str | None = Field(default=None, max_length=32, description="Build stage last reported.")
    percent: int | None = Field(default=None, ge=0, le=100, description="Build progress last reported.")
    job: str = Field(max_length=63, description="Name of the build Job.")
    attempts: int = Field(default=0, ge=0, description="Build pods that failed so far.")
    message: str = Field(default="", max_length=4096, description="Last progress or failure message.")
    memory: str | None = Field(
        default=None,
        max_length=1024,
        description="Memory budget on one card (TensorRT-LLM): weights, activations, runtime and the KV "
        "cache left, in GiB, tokens and requests at the limits.",
    )


EngineGateState = Literal["Canary", "Evaluating", "Passed", "Regressed", "Failed"]


class EngineGateStatus(ApiModel):
    """A pool's engine change under the engine gate (spec.engine.gate)."""

    serving: str = Field(max_length=64, description="Engine key the pool serves.")
    candidate: str = Field(max_length=64, description="Engine key being evaluated.")
    state: EngineGateState = Field(
        description="Canary (starting), Evaluating, Passed (rolling out), Regressed or Failed (kept)."
    )
    job: str = Field(max_length=63, description="The evaluation Job (kept as the verdict's record).")
    reason: str | None = Field(default=None, max_length=64, description="The verdict's CamelCase reason.")
    message: str = Field(default="", max_length=4096, description="The verdict with its numbers.")
    edit_similarity_deltas: dict[str, float] | None = Field(
        default=None, description="Candidate minus serving mean edit similarity, by task set."
    )
    serving_scores: dict[str, SetScores] | None = Field(
        default=None, description="The serving engine's scores by task set (tasks, EM, ES, pass@1)."
    )
    candidate_scores: dict[str, SetScores] | None = Field(
        default=None, description="The new engine's scores by task set."
    )


class PoolStatus(ApiModel):
    """One Triton pool as observed."""

    name: str = Field(max_length=15, description="Pool name.")
    gpu: str = Field(max_length=32, description="GPU kind.")
    arch: str = Field(max_length=16, description="GPU architecture.")
    engine_key: str | None = Field(default=None, max_length=64, description="Engine the pool serves now.")
    replicas: int = Field(default=0, ge=0, description="Replicas the Deployment asks for.")
    ready_replicas: int = Field(default=0, ge=0, description="Replicas ready to serve.")
    desired_replicas: int | None = Field(default=None, ge=0, description="What the autoscaler asked for.")
    last_scale_time: str | None = Field(
        default=None, json_schema_extra={"format": "date-time"}, description="Last scaling decision."
    )
    engine_gate: EngineGateStatus | None = Field(
        default=None, description="The engine change under evaluation or last judged (spec.engine.gate)."
    )


class SloStatus(ApiModel):
    """The measured SLO, when the autoscaler has data."""

    ttft_p95_ms: int | None = Field(default=None, ge=0, description="Measured p95 time to first token, ms.")
    met: bool | None = Field(default=None, description="Whether the TTFT objective is met.")
    observed_at: str | None = Field(
        default=None, json_schema_extra={"format": "date-time"}, description="When it was measured."
    )


class ScaleEvent(ApiModel):
    """One scaling decision."""

    time: str = Field(json_schema_extra={"format": "date-time"}, description="When it was decided.")
    pool: str = Field(max_length=15, description="Pool scaled.")
    from_: int = Field(alias="from", ge=0, description="Replicas before.")
    to: int = Field(ge=0, description="Replicas after.")
    reason: str = Field(max_length=1024, description="Why (the policy's explanation).")


class AutoscalingStatus(ApiModel):
    """Recent scaling decisions."""

    history: list[ScaleEvent] = Field(
        default_factory=list, max_length=MAX_HISTORY, description="Most recent decisions, newest last."
    )


class SeedCoderDeploymentStatus(ApiModel):
    """What the operator observed and did."""

    phase: Phase = Field(default="Pending", description="Summary for humans; read conditions in code.")
    observed_generation: int | None = Field(default=None, ge=0, description="Generation last reconciled.")
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        description=(
            "Ready, EnginesReady, Available, Progressing, SLOMet; FeedbackDurable (not part of Ready): "
            "whether feedback outlives the gateway pods; EngineGate (not part of Ready; with "
            "spec.engine.gate): whether every pool's new engine passed its evaluation."
        ),
    )
    engines: list[EngineStatus] = Field(default_factory=list, max_length=8, description="Engines needed.")
    engines_summary: str = Field(default="", max_length=16, description="Ready engines / needed, e.g. 2/2.")
    build_progress: str = Field(
        default="",
        max_length=256,
        description="Builds not done, by architecture: stage and percent while one runs (sm90 quantize "
        "40%), Failed when one failed; empty when every engine is ready.",
    )
    pools: list[PoolStatus] = Field(default_factory=list, max_length=8, description="Triton pools.")
    slo: SloStatus | None = Field(default=None, description="Measured SLO.")
    autoscaling: AutoscalingStatus | None = Field(default=None, description="Scaling history.")
    endpoint: str | None = Field(default=None, max_length=512, description="Gateway base URL (OpenAI API).")
    retrieval: RetrievalStatus | None = Field(
        default=None, description="The code and docs index: last run, counts and errors (spec.retrieval)."
    )
