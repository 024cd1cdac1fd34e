"""Typed inputs, outputs and state of the SLO autoscaling policy.

Why: the policy is a pure function, and the operator keeps its memory between
calls. Everything it needs goes in as these models and everything it remembers
comes back as ``PolicyState``: a plain pydantic value that serialises to JSON (the
operator stores it in the resource's status), with no hidden globals.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Action = Literal["up", "down", "hold"]
Cause = Literal[
    "Forecast",
    "Load",
    "LatencyFeedback",
    "QueueFeedback",
    "Stabilising",
    "RisingLoad",
    "StepLimit",
    "Steady",
    "StaleMetrics",
    "MissingMetrics",
    "MinReplicas",
    "MaxReplicas",
    "ScaleUpInFlight",
    "UpCooldown",
    "NotDue",
]
"""CamelCase reason codes (events, conditions); ``reason`` carries the sentence."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PolicyPool(_Frozen):
    """A pool as the policy sees it: its GPU kind, bounds and price."""

    name: str
    gpu: str = Field(description="GPU kind (H100, A100, L40S, CPU), as in the pool spec.")
    precision: str = Field(default="", description="Engine precision; empty means the GPU's default.")
    min_replicas: int = Field(ge=0)
    max_replicas: int = Field(ge=0)
    cost_per_hour_usd: float = Field(gt=0, description="Price of one replica-hour (one GPU per replica).")

    @model_validator(mode="after")
    def _bounds(self) -> PolicyPool:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"pool {self.name}: maxReplicas {self.max_replicas} < minReplicas {self.min_replicas}"
            )
        return self


class PolicyConfig(_Frozen):
    """Targets and damping; the defaults are the benchmarked settings."""

    slo_ttft_p95_ms: float = Field(default=300.0, gt=0)
    cold_start_s: float = Field(
        default=120.0, ge=0, description="Scheduling to ready, for the forecast horizon."
    )
    interval_s: float = Field(
        default=15.0,
        gt=0,
        description="How often the policy decides; a call sooner after the last decision changes nothing.",
    )
    scale_up_cooldown_s: float = Field(
        default=0.0, ge=0, description="Pause after a scale-up of a pool before its next one (0: none)."
    )
    max_step_up: int = Field(default=16, ge=1, description="Most replicas added to a pool in one decision.")
    stale_after_s: float = Field(default=120.0, gt=0, description="Older metrics are stale: hold.")
    target_utilisation: float = Field(
        default=0.9, gt=0, le=1, description="Share of learned capacity to plan for."
    )
    staffing_beta: float = Field(
        default=0.5,
        ge=0,
        description="Square-root safety staffing: plan R + beta*sqrt(R) replicas for a load worth R.",
    )
    scale_down_hysteresis: float = Field(
        default=0.05, ge=0, lt=1, description="Extra slack before a scale-down."
    )
    scale_down_stabilisation_s: float = Field(
        default=300.0, ge=0, description="Scale down to the window's max."
    )
    scale_down_step: float = Field(
        default=0.2, gt=0, le=1, description="Largest share removed per scale-down."
    )
    scale_down_min_interval_s: float = Field(default=60.0, ge=0)
    window_s: float = Field(default=60.0, gt=0, description="Window of the observed rate and p95.")
    forecast_window_s: float = Field(default=180.0, gt=0, description="History used for the load trend.")
    queue_per_replica_limit: float = Field(
        default=4.0, gt=0, description="Waiting requests per ready replica."
    )
    queue_drain_s: float = Field(default=30.0, gt=0, description="Time to drain a surprise backlog.")
    learning_rate_down: float = Field(default=0.5, gt=0, le=1)
    learning_rate_up: float = Field(default=0.05, gt=0, le=1)
    breach_memory_s: float = Field(
        default=1800.0, ge=0, description="How long a capacity that broke the SLO caps the estimate."
    )
    long_prompt_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of requests only long-prompt-capable pools may serve, if unobserved.",
    )


class PoolObservation(_Frozen):
    """What the signals said about one pool (``None``: the signal was missing)."""

    replicas: int = Field(ge=0, description="Replicas asked for now (spec), starting ones included.")
    ready: int = Field(ge=0, description="Replicas serving now.")
    observed_at: float | None = Field(default=None, description="Unix time the metrics describe.")
    request_rate: float | None = Field(default=None, ge=0, description="Requests/s over the SLO window.")
    ttft_p95_ms: float | None = Field(default=None, ge=0)
    queue_depth: float | None = Field(default=None, ge=0, description="Requests waiting for a first token.")
    inflight: float | None = Field(default=None, ge=0)
    long_prompt_share: float | None = Field(default=None, ge=0, le=1)


class PoolState(BaseModel):
    """What the policy remembers about one pool between calls."""

    model_config = ConfigDict(extra="forbid")

    capacity_rps: float | None = Field(default=None, description="Learned requests/s per replica at the SLO.")
    load: list[tuple[float, float]] = Field(default_factory=list, description="(time, requests/s) samples.")
    recommendations: list[tuple[float, int]] = Field(default_factory=list, description="(time, replicas).")
    last_up_at: float | None = None
    last_down_at: float | None = None
    ready_since: float | None = Field(default=None, description="When the ready count last changed.")
    breaches: list[tuple[float, float]] = Field(
        default_factory=list, description="(time, capacity implied by an SLO breach), within the memory."
    )
    observing_since: float | None = Field(
        default=None, description="First fresh observation: no scale-down before a full stabilisation window."
    )
    proven_rps: float | None = Field(
        default=None,
        description="Highest requests/s per ready replica seen within the SLO since the last breach.",
    )
    last_queue_over: bool = Field(default=False, description="The queue was over its limit at the last call.")
    last_ready: int | None = None


class PolicyState(BaseModel):
    """The policy's whole memory; pass the last one back in on every call."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    pools: dict[str, PoolState] = Field(default_factory=dict)
    last_decided_at: float | None = Field(
        default=None, description="When the policy last decided: it decides once per ``interval_s``."
    )


class PoolDecision(_Frozen):
    """One pool's outcome of one call, with the reason in words.

    The one decision type from the policy to the resource's status: the operator
    writes the changes (``PolicyResult.changes``) and records them as they are.
    """

    pool: str
    decided_at: float | None = Field(default=None, description="Unix time of the decision.")
    from_replicas: int
    to_replicas: int
    action: Action
    cause: Cause
    reason: str
    demand_rps: float | None = None
    capacity_rps: float | None = None


class PolicyResult(_Frozen):
    """Desired replicas per pool, why, and the state to keep.

    ``decided`` is false when the call came sooner than ``interval_s`` after the
    last decision: then ``desired`` repeats the observed replicas, ``decisions``
    is empty and ``state`` is the one passed in.
    """

    desired: dict[str, int]
    decisions: list[PoolDecision]
    state: PolicyState
    decided: bool = True

    @property
    def changes(self) -> list[PoolDecision]:
        """The decisions that move a pool (what the operator writes and records)."""
        return [d for d in self.decisions if d.to_replicas != d.from_replicas]
