"""Publishing a passing adapter: the record in ``status.adapter``, and the gateway's adapter entry.

Why pure: what is published follows from the run (its id, the workspace folder
the training Job wrote, the scores that passed) and the spec (adapter name,
teams), so it is tested without a cluster, and publishing twice writes the
same record.

MERGE POINT: the deployment's gateway configuration is written by the
SeedCoderDeployment's reconcile alone (one writer per field). That reconcile
fills the typed ``adapters:`` list of ``seedcoder.api.gateway_config`` from the
SeedCoderFineTunes naming it (``spec.deploymentRef``), one entry per
``status.adapter``, built by :func:`gateway_adapter_entry`; and this resource's
reconcile counts an adapter as served once the gateway configuration lists it
(:func:`served_adapters`). Until both sides are joined, the published record in
the status is the publication.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from seedcoder.api.finetune import PublishedAdapter, SeedCoderFineTuneStatus
from seedcoder.finetune import plan

GGUF_FILE = "adapter.gguf"
"""The llama.cpp (GGUF LoRA) form of the adapter, next to PEFT's files in its folder."""


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


def task_id(adapter: PublishedAdapter) -> int:
    """A stable TensorRT-LLM LoRA task id (a positive int63) for one adapter version."""
    digest = hashlib.sha256(f"{adapter.claim_name}/{adapter.path}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1 or 1


def gateway_adapter_entry(adapter: PublishedAdapter) -> dict[str, object]:
    """MERGE POINT: one entry of the gateway configuration's ``adapters:`` list for ``adapter``.

    Name, teams, TensorRT-LLM task id and GGUF LoRA path, as the typed list in
    ``seedcoder.api.gateway_config`` is specified; the SeedCoderDeployment's
    reconcile validates it into that model when both sides are joined.
    """
    return {
        "name": adapter.name,
        "teams": list(adapter.teams),
        "taskId": task_id(adapter),
        "ggufLoraPath": f"{adapter.path}/{GGUF_FILE}",
        "claimName": adapter.claim_name,
        "version": adapter.version,
    }


def served_adapters(status: SeedCoderFineTuneStatus) -> frozenset[str]:
    """MERGE POINT: the versioned ids of this resource's adapters the gateway serves.

    Joined with adapter serving, this reads the deployment's gateway configuration
    (its ``adapters:`` entries); until then the published record counts as served.
    """
    return frozenset({served_id(status.adapter)}) if status.adapter is not None else frozenset()
