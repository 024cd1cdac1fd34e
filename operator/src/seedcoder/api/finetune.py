"""The SeedCoderFineTune resource: accepted completions -> LoRA adapter -> gate -> served adapter.

Why a resource of its own (not a section of SeedCoderDeployment): a platform
team runs several adapters on one deployment (one per team or code base), each
with its own data filters, schedule, training budget and gate, and wants to
pause, inspect or delete one without touching serving. A SeedCoderFineTune
names the deployment whose feedback it learns from and whose pools serve the
adapter it publishes. The CRD (``manifests/crds/seedcoderfinetunes.yaml``) is
generated from these models by ``seedcoder.api.finetune_crd``, so every field
below is what ``kubectl explain seedcoderfinetune.spec`` prints.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, JsonValue

from seedcoder.api._base import ApiModel
from seedcoder.api.fields import DnsLabel, GpuKind, LabelValue, rules
from seedcoder.api.spec import Toleration

KIND: Final = "SeedCoderFineTune"
PLURAL: Final = "seedcoderfinetunes"
SINGULAR: Final = "seedcoderfinetune"
SHORT_NAMES: Final = ("scft",)
MAX_NAME_LENGTH: Final = 40

_CRON = r"^(\S+\s+){4}\S+$"
TargetModule = Literal["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _attention() -> list[TargetModule]:
    return ["q_proj", "k_proj", "v_proj", "o_proj"]


class DeploymentRef(ApiModel):
    """The SeedCoderDeployment (same namespace) whose feedback trains the adapter and whose pools serve it."""

    name: DnsLabel = Field(description="Name of the SeedCoderDeployment.")


class WorkspaceSpec(ApiModel):
    """Storage for data set snapshots, adapters and evaluation reports (ReadWriteMany)."""

    claim_name: DnsLabel = Field(description="PersistentVolumeClaim (same namespace) holding the workspace.")


class BaseModelSpec(ApiModel):
    """The Hugging Face checkpoint the adapter is trained on (the served engine's source weights)."""

    name: str = Field(
        default="ByteDance-Seed/Seed-Coder-8B-Base",
        max_length=256,
        description="Hugging Face repository id, or a folder path inside claimName.",
    )
    revision: str | None = Field(default=None, max_length=64, description="Git revision of the repository.")
    claim_name: DnsLabel | None = Field(
        default=None,
        description="PersistentVolumeClaim with the checkpoint (mounted read-only); else download.",
    )


class TriggerSpec(ApiModel):
    """When a training run starts: on a schedule, once enough new samples arrived, or both."""

    schedule: str | None = Field(
        default=None,
        max_length=64,
        pattern=_CRON,
        description="Cron schedule (five fields, UTC) at which a run starts if minNewSamples is met; "
        "empty: runs start as soon as minNewSamples new samples are in the data set.",
    )
    min_new_samples: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="New training samples since the last run needed before another run starts.",
    )
    suspend: bool = Field(default=False, description="No new runs while true; a running one finishes.")


class DataSpec(ApiModel):
    """How feedback records become the training and held-out sets."""

    min_samples: int = Field(
        default=500, ge=1, le=10_000_000, description="Training samples needed before the first run."
    )
    held_out_fraction: float = Field(
        default=0.1,
        ge=0.01,
        le=0.5,
        description="Share of files (never single samples) held out for the gate.",
    )
    near_duplicate_threshold: float = Field(
        default=0.8,
        ge=0.05,
        le=1,
        description="Estimated Jaccard similarity at which two samples count as one.",
    )
    min_middle_chars: int = Field(
        default=8,
        ge=1,
        le=10_000,
        description="Accepted completions shorter than this (non-blank) are dropped.",
    )
    include_edited: bool = Field(
        default=True, description="Train on completions the developer edited (the kept text is the target)."
    )


class LoraSpec(ApiModel):
    """The LoRA adapter and its training budget (PEFT on the base model's weights)."""

    rank: int = Field(default=16, ge=1, le=256, description="LoRA rank r.")
    alpha: int = Field(default=32, ge=1, le=1024, description="LoRA alpha (scaling is alpha / rank).")
    dropout: float = Field(default=0.05, ge=0, le=0.9, description="Dropout on the LoRA path.")
    target_modules: list[TargetModule] = Field(
        default_factory=_attention,
        min_length=1,
        max_length=7,
        description="Linear layers that get adapters (attention projections by default).",
        json_schema_extra={"x-kubernetes-list-type": "set", "default": list[JsonValue](_attention())},
    )
    steps: int = Field(default=1000, ge=1, le=1_000_000, description="Optimizer steps.")
    learning_rate: float = Field(
        default=2e-4, ge=1e-7, le=1e-2, description="Peak learning rate (AdamW, cosine)."
    )
    batch_size: int = Field(default=8, ge=1, le=1024, description="Samples per optimizer step.")
    max_sequence_tokens: int = Field(
        default=2048, ge=64, le=32_768, description="Longer samples are cut around the hole to this length."
    )


class TrainingResources(ApiModel):
    """Where the training Job runs."""

    gpu: GpuKind = Field(
        default="H100", description="GPU kind of the training nodes; CPU only for the small demo model."
    )
    gpu_count: int = Field(default=1, ge=1, le=8, description="GPUs for the training pod (one node).")
    node_selector: dict[str, LabelValue] = Field(
        default_factory=dict, description="Extra node labels the training pod requires."
    )
    tolerations: list[Toleration] = Field(
        default_factory=list,
        max_length=16,
        description="Extra tolerations (the nvidia.com/gpu taint is tolerated).",
    )
    memory: str = Field(
        default="64Gi",
        max_length=16,
        description="Memory request and limit of the pod (a quantity).",
        json_schema_extra=rules({"rule": "isQuantity(self)", "message": "must be a quantity such as 64Gi"}),
    )
    timeout_seconds: int = Field(
        default=6 * 3600,
        ge=60,
        le=7 * 86400,
        description="A run that takes longer fails (activeDeadlineSeconds).",
    )


class GateSpec(ApiModel):
    """When a trained adapter may be served: better on the held-out code, not worse elsewhere."""

    held_out_margin: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Held-out edit similarity of the adapter must exceed the base's by at least this.",
    )
    public_margin: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Public regression set edit similarity may fall below the base's by at most this.",
    )
    api_key_secret_ref: DnsLabel = Field(
        description="Secret (key 'api-key') with a gateway API key the evaluation Job uses."
    )
    min_held_out_tasks: int = Field(
        default=20, ge=1, le=100_000, description="Fewer held-out tasks than this: the run is not judged."
    )
    max_tokens: int = Field(default=64, ge=1, le=1024, description="Completion length used in evaluation.")


class PublishSpec(ApiModel):
    """How a published adapter is offered."""

    adapter_name: DnsLabel | None = Field(
        default=None,
        description="Served as model '<deployment model>:<adapterName>'; default: this resource's name.",
    )
    teams: list[LabelValue] = Field(
        default_factory=list,
        max_length=64,
        description="API key teams whose requests go to the adapter by default.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    rollback_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Live acceptance rate below the base's by more than this rolls the adapter back.",
    )


class SeedCoderFineTuneSpec(ApiModel):
    """A LoRA fine-tuning loop over one deployment's accepted completions."""

    deployment_ref: DeploymentRef = Field(description="The deployment to learn from and serve on.")
    workspace: WorkspaceSpec = Field(description="Where snapshots, adapters and reports are kept.")
    base_model: BaseModelSpec = Field(
        default_factory=BaseModelSpec, json_schema_extra={"default": {}}, description="Weights to adapt."
    )
    trigger: TriggerSpec = Field(
        default_factory=TriggerSpec, json_schema_extra={"default": {}}, description="When runs start."
    )
    data: DataSpec = Field(
        default_factory=DataSpec, json_schema_extra={"default": {}}, description="Data set building."
    )
    lora: LoraSpec = Field(
        default_factory=LoraSpec,
        json_schema_extra={"default": {}},
        description="Adapter shape and training budget.",
    )
    training: TrainingResources = Field(
        default_factory=TrainingResources,
        json_schema_extra={"default": {}},
        description="Training placement.",
    )
    gate: GateSpec = Field(description="Quality gate before serving.")
    publish: PublishSpec = Field(
        default_factory=PublishSpec,
        json_schema_extra={"default": {}},
        description="Serving of the published adapter.",
    )


StageName = Literal["Dataset", "Training", "Evaluation", "Gate", "Publish"]
StageState = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]


class StageStatus(ApiModel):
    """One stage of the latest run."""

    name: StageName
    state: StageState
    job: str | None = Field(default=None, description="The Job running this stage.")
    message: str | None = Field(default=None, max_length=1024)
    start_time: str | None = None
    completion_time: str | None = None


class SetScores(ApiModel):
    """Scores of one endpoint on one task set."""

    tasks: int = Field(ge=0, description="Tasks scored.")
    exact_match: float = Field(description="Share of answers equal to the expected middle (0..1).")
    edit_similarity: float = Field(description="Mean normalised edit similarity to the middle (0..1).")
    pass_at_1: float | None = Field(
        default=None, description="Share of tasks whose tests pass (tasks with tests only)."
    )


class RunScores(ApiModel):
    """Base vs adapter on the held-out and public sets."""

    base_held_out: SetScores | None = None
    adapter_held_out: SetScores | None = None
    base_public: SetScores | None = None
    adapter_public: SetScores | None = None


class GateDecisionStatus(ApiModel):
    """What the gate decided and why."""

    publish: bool
    reason: str = Field(description="CamelCase reason, e.g. HeldOutImproved, PublicRegressed.")
    message: str
    held_out_delta: float | None = None
    public_delta: float | None = None


class PublishedAdapter(ApiModel):
    """The adapter a passing run published: what the deployment's gateway serves for this resource."""

    name: DnsLabel = Field(description="Served as model '<model>:<name>'.")
    version: str = Field(max_length=12, description="The run that trained it (r1, r2, ...).")
    model: str = Field(max_length=256, description="The model name clients send for it.")
    claim_name: DnsLabel = Field(description="PersistentVolumeClaim (the workspace) holding the adapter.")
    path: str = Field(
        max_length=512,
        description="Folder of the adapter inside claimName (PEFT adapter_config.json and weights).",
    )
    teams: list[LabelValue] = Field(
        default_factory=list, description="API key teams routed to it by default (spec.publish.teams)."
    )
    dataset_version: str | None = Field(default=None, description="Snapshot it was trained on.")
    scores: RunScores | None = Field(default=None, description="The scores that passed the gate.")
    published_time: str = Field(description="When it was published (RFC 3339).")


class RollbackStatus(ApiModel):
    """A published adapter taken out of serving because developers accepted it less than the base."""

    adapter: str = Field(max_length=63, description="The adapter rolled back.")
    version: str = Field(max_length=12, description="The run that trained it.")
    reason: str = Field(description="CamelCase reason, e.g. AcceptanceBelowBase.")
    message: str = Field(max_length=1024)
    adapter_acceptance: float | None = None
    base_acceptance: float | None = None
    time: str = Field(description="When it was rolled back (RFC 3339).")


class SeedCoderFineTuneStatus(ApiModel):
    """Observed state: the latest run's stages, scores and decision, and the adapter being served."""

    observed_generation: int | None = None
    run: str | None = Field(default=None, description="Id of the latest run (r1, r2, ...).")
    run_started: str | None = Field(default=None, description="When the latest run started (RFC 3339).")
    dataset_version: str | None = Field(default=None, description="Snapshot the latest run used.")
    dataset_samples: int | None = Field(default=None, description="Training samples in that snapshot.")
    trained_samples: int | None = Field(
        default=None, description="Training samples of the last run that trained (for minNewSamples)."
    )
    stages: list[StageStatus] = Field(default_factory=list)
    scores: RunScores | None = None
    decision: GateDecisionStatus | None = None
    published_adapter: str | None = Field(default=None, description="The adapter currently served.")
    adapter: PublishedAdapter | None = Field(
        default=None, description="The published adapter's record (a rejected run leaves it unchanged)."
    )
    rollback: RollbackStatus | None = Field(
        default=None,
        description="The published adapter's rollback (live acceptance); a new publication clears it.",
    )
