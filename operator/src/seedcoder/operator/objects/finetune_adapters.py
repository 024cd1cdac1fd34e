"""The gateway's ``adapters:`` of one deployment, from the SeedCoderFineTunes naming it (pure).

Why here: the gateway configuration has one writer, the SeedCoderDeployment's
reconcile, so the adapters a fine-tuning run stages and publishes reach the
gateway through that reconcile's plan (``desired.plan``), read level-based from
the fine-tunes' status each time, never pushed by the fine-tuning reconcile.
Each entry is built by ``seedcoder.finetune.serving.adapter_entry`` (one builder:
name, files, TensorRT-LLM task id), so the serving side and the fine-tuning side
cannot disagree.

Per SeedCoderFineTune with ``spec.deploymentRef`` naming the deployment:

* the staged candidate ``<adapter>-<run>`` (unpublished: it answers only by name)
  while the run's Evaluation stage is running, so the evaluation Job can ask the
  gateway for ``<model>:<adapter>-<run>``;
* the published adapter ``<adapter>`` (its teams) once ``status.adapter`` records
  a passing run, until a rollback (``status.rollback``) takes it out.

One workspace claim per deployment: Triton pods mount one claim's ``adapters/``
folder, so fine-tunes keeping their adapters on another claim than the first
(by name) are left out, as are entries that would clash with an earlier one
(same name, or a team already given to a published adapter); fine-tunes are
taken in name order, so the result is stable and the ConfigMap does not churn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from seedcoder.api.adapters import AdapterConfig
from seedcoder.api.finetune import SeedCoderFineTuneSpec, SeedCoderFineTuneStatus
from seedcoder.finetune import serving

KIND = "SeedCoderFineTune"


@dataclass(frozen=True)
class DeploymentAdapters:
    """What the gateway serves of the deployment's fine-tunes, and the claim their files are on."""

    claim: str | None = None
    adapters: list[AdapterConfig] = field(default_factory=list)


def _unix(text: str | None) -> int:
    if not text:
        return 0
    try:
        return max(0, int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return 0


def _parse(body: Mapping[str, Any]) -> tuple[SeedCoderFineTuneSpec, SeedCoderFineTuneStatus] | None:
    try:
        spec = SeedCoderFineTuneSpec.model_validate(dict(body.get("spec") or {}))
    except ValidationError:
        return None
    try:
        status = SeedCoderFineTuneStatus.model_validate(dict(body.get("status") or {}))
    except ValidationError:
        status = SeedCoderFineTuneStatus()
    return spec, status


def staged(status: SeedCoderFineTuneStatus) -> bool:
    """Whether the run's candidate is under evaluation (the gateway must answer for it by name)."""
    last = status.stages[-1] if status.stages else None
    return (
        status.run is not None and last is not None and last.name == "Evaluation" and last.state == "Running"
    )


def finetune_entries(deployment: str, body: Mapping[str, Any]) -> tuple[str | None, list[AdapterConfig]]:
    """(workspace claim, entries) one SeedCoderFineTune adds to ``deployment``'s gateway (none: another's)."""
    parsed = _parse(body)
    meta = body.get("metadata") or {}
    if parsed is None or meta.get("deletionTimestamp"):
        return None, []
    spec, status = parsed
    if spec.deployment_ref.name != deployment:
        return None, []
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    adapter = spec.publish.adapter_name or name
    entries: list[AdapterConfig] = []
    try:
        if status.adapter is not None and status.rollback is None:
            pub = status.adapter
            entries.append(
                serving.adapter_entry(
                    namespace=ns,
                    finetune=name,
                    run=pub.version,
                    name=pub.name,
                    published=True,
                    teams=pub.teams,
                    created=_unix(pub.published_time),
                )
            )
        if staged(status) and status.run is not None:
            entries.append(
                serving.adapter_entry(
                    namespace=ns,
                    finetune=name,
                    run=status.run,
                    name=f"{adapter}-{status.run}",
                    published=False,
                )
            )
    except ValidationError:  # a name past 63 characters: nothing the gateway could serve
        return None, []
    return spec.workspace.claim_name, entries


def deployment_adapters(deployment: str, finetunes: Iterable[Mapping[str, Any]]) -> DeploymentAdapters:
    """The adapters of ``deployment``'s gateway from the namespace's SeedCoderFineTunes (any order)."""
    claim: str | None = None
    out: list[AdapterConfig] = []
    names: set[str] = set()
    teams: set[str] = set()
    ordered = sorted(finetunes, key=lambda b: str((b.get("metadata") or {}).get("name") or ""))
    for body in ordered:
        ft_claim, entries = finetune_entries(deployment, body)
        if not entries or ft_claim is None:
            continue
        claim = claim or ft_claim
        if ft_claim != claim:
            continue
        for entry in entries:
            if entry.name in names or (entry.published and teams & set(entry.teams)):
                continue
            names.add(entry.name)
            if entry.published:
                teams.update(entry.teams)
            out.append(entry)
    return DeploymentAdapters(claim, sorted(out, key=lambda a: a.name))


def fingerprint(deployment: str, body: Mapping[str, Any]) -> str:
    """What the deployment's reconcile reads of one fine-tune: a change of it must wake that reconcile
    ("" when it gives the deployment nothing)."""
    claim, entries = finetune_entries(deployment, body)
    if not entries:
        return ""
    return json.dumps([claim, [e.model_dump(mode="json") for e in entries]], sort_keys=True)


def served_ids(adapters: Iterable[AdapterConfig], finetune: str) -> frozenset[str]:
    """The versioned ids (``<name>-<run>``) of ``finetune``'s published adapters the gateway lists.

    An entry belongs to the fine-tune by its files (``<finetune>/<run>/...``, the
    one builder's layout); the staged candidate (unpublished) does not count.
    """
    found = set()
    for a in adapters:
        path = a.gguf or (a.trtllm.weights if a.trtllm is not None else "")
        parts = path.split("/")
        if a.published and len(parts) >= 2 and parts[0] == finetune:
            found.add(f"{a.name}-{parts[1]}")
    return frozenset(found)
