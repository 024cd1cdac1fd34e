"""Publishing a passing adapter: the record in ``status.adapter``, and when the gateway serves it.

Why pure: what is published follows from the run (its id, the workspace folder
the training Job wrote, the scores that passed) and the spec (adapter name,
teams), so it is tested without a cluster, and publishing twice writes the
same record.

One writer per field: the deployment's gateway configuration is written by the
SeedCoderDeployment's reconcile alone. It fills the gateway's ``adapters:`` from
the SeedCoderFineTunes naming it (``operator.objects.finetune_adapters``, one
entry builder: ``finetune.serving.adapter_entry``): the staged candidate while a
run is evaluated, the published adapter from ``status.adapter`` on. This
resource's Publish stage completes once the gateway's configuration (the
deployment's ConfigMap) lists the adapter (:func:`served_adapters`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from seedcoder.api.finetune import PublishedAdapter, SeedCoderFineTuneStatus
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.finetune import plan
from seedcoder.operator.objects import finetune_adapters, gateway_objects


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def publication(ctx: plan.RunContext, status: SeedCoderFineTuneStatus, now: datetime) -> PublishedAdapter:
    """The record of the adapter ``ctx.run`` trained, once its gate passed (``status.scores``)."""
    relative = ctx.adapter_dir().removeprefix(plan.WORKSPACE).lstrip("/")
    return PublishedAdapter(
        name=ctx.adapter,
        version=ctx.run,
        model=f"{ctx.served_model}:{ctx.adapter}",
        claim_name=ctx.spec.workspace.claim_name,
        path=relative,
        teams=list(ctx.spec.publish.teams),
        dataset_version=status.dataset_version,
        scores=status.scores,
        published_time=_iso(now),
    )


def served_id(adapter: PublishedAdapter) -> str:
    """The versioned id the run step knows a served adapter by (``<name>-<run>``)."""
    return f"{adapter.name}-{adapter.version}"


def gateway_adapters(config_map: Mapping[str, Any] | None) -> GatewayConfig | None:
    """The gateway configuration in the deployment's ConfigMap (None: none yet, or unreadable)."""
    text = ((config_map or {}).get("data") or {}).get(gateway_objects.CONFIG_KEY)
    if not text:
        return None
    try:
        return GatewayConfig.model_validate_json(text)
    except ValidationError:
        return None


def served_adapters(finetune: str, config_map: Mapping[str, Any] | None) -> frozenset[str]:
    """The versioned ids (``<name>-<run>``) of ``finetune``'s published adapters the gateway lists."""
    config = gateway_adapters(config_map)
    return finetune_adapters.served_ids(config.adapters, finetune) if config is not None else frozenset()
