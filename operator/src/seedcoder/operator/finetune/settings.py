"""Settings of the fine-tuning reconcile, read once from the environment.

Why apart from :class:`~seedcoder.operator.settings.OperatorSettings`: only the
fine-tuning Jobs need them, and keeping them here keeps the operator's own
settings untouched by this feature. Same convention: ``SEEDCODER_`` + the
field name upper-cased.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from seedcoder.images import check_reference, default_image
from seedcoder.operator.settings import ENV_PREFIX


class FineTuneSettings(BaseModel):
    """Fine-tuning configuration (environment variable = ``SEEDCODER_`` + field name upper-cased)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    finetune_training_image: str | None = Field(
        default=None,
        description=(
            "Full reference of the training image (the seedcoder image plus torch, transformers and peft: "
            "seedcoder-train); unset: the project's seedcoder-train image at this version, moved to the "
            "operator's image registry."
        ),
    )
    finetune_report_grace_seconds: float = Field(
        default=120.0,
        gt=0,
        description=(
            "How long a finished data set or evaluation Job may take to show its pod's termination "
            "message before the stage fails for want of a report."
        ),
    )

    finetune_rollback_min_events: float = Field(
        default=200.0,
        ge=1,
        description=(
            "Feedback events the adapter and the base each need in the window before a live rollback "
            "is judged at all."
        ),
    )
    finetune_rollback_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How often a served adapter's live acceptance is read and judged.",
    )

    @field_validator("finetune_training_image")
    @classmethod
    def _reference(cls, value: str | None) -> str | None:
        return None if not value else check_reference(value)

    def training_image(self, registry: str | None = None) -> str:
        """The training Jobs' image: the explicit reference, else the default moved to ``registry``."""
        return (
            self.finetune_training_image
            or default_image("seedcoder-train", registry=registry or None).reference
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FineTuneSettings:
        values = {n: env[ENV_PREFIX + n.upper()] for n in cls.model_fields if ENV_PREFIX + n.upper() in env}
        return cls.model_validate(values)
