"""The quality gate: publish an adapter only if it is better on the team's code and no worse elsewhere.

Inputs are the evaluation Job's summary (``seedcoder evaluate --summary``), run
with the base model and with the candidate adapter on the same held-out and
public task sets, greedy, so two runs of one model score identically and any
difference is the adapter's. The rule, on mean edit similarity:

* held-out (the organisation's own accepted completions, files never trained on):
  the adapter must beat the base by at least ``heldOutMargin``;
* public regression set: the adapter may trail the base by at most ``publicMargin``;
* too few held-out tasks (``minHeldOutTasks``) and the run is not judged at all.

Every outcome has a CamelCase reason and a sentence with the numbers, written to
the resource's status as is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seedcoder.api.finetune import GateDecisionStatus, GateSpec, RunScores, SetScores

HELD_OUT_SET = "heldout"
PUBLIC_SET = "public"
_PLACES = 6  # deltas are compared rounded: 0.12 - 0.10 must count as 0.02


class SummaryError(ValueError):
    """An evaluation summary that cannot be read, naming what is missing."""


def _scores(sets: dict[str, Any], name: str) -> SetScores | None:
    raw = sets.get(name)
    if raw is None:
        return None
    return SetScores(
        tasks=raw["tasks"],
        exact_match=raw["exact_match"],
        edit_similarity=raw["edit_similarity"],
        pass_at_1=raw.get("pass_at_1"),
    )


def scores_from_summary(text: str, base_model: str, adapter_model: str) -> RunScores:
    """Base and adapter scores from the evaluation Job's termination message."""
    try:
        runs = {run["model"]: run["sets"] for run in json.loads(text)["runs"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise SummaryError(f"evaluation summary is not the expected JSON: {exc}") from exc
    for model in (base_model, adapter_model):
        if model not in runs:
            raise SummaryError(f"evaluation summary has no run of model {model!r}")
    try:
        return RunScores(
            base_held_out=_scores(runs[base_model], HELD_OUT_SET),
            adapter_held_out=_scores(runs[adapter_model], HELD_OUT_SET),
            base_public=_scores(runs[base_model], PUBLIC_SET),
            adapter_public=_scores(runs[adapter_model], PUBLIC_SET),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SummaryError(f"evaluation summary has incomplete scores: {exc}") from exc


def engine_scores_from_summary(
    text: str, serving_model: str, candidate_model: str
) -> tuple[dict[str, SetScores], dict[str, SetScores]]:
    """Scores by task set of the serving engine and of the candidate, from the engine gate's
    evaluation summary (``seedcoder evaluate --summary``)."""
    try:
        runs = {run["model"]: run["sets"] for run in json.loads(text)["runs"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise SummaryError(f"evaluation summary is not the expected JSON: {exc}") from exc
    out = []
    for model in (serving_model, candidate_model):
        if model not in runs:
            raise SummaryError(f"evaluation summary has no run of model {model!r}")
        try:
            sets = {name: _scores(runs[model], name) for name in runs[model]}
        except (KeyError, TypeError, ValueError) as exc:
            raise SummaryError(f"evaluation summary has incomplete scores: {exc}") from exc
        out.append({name: s for name, s in sets.items() if s is not None})
    return out[0], out[1]


def decide(scores: RunScores, gate: GateSpec) -> GateDecisionStatus:
    """Publish or not, with the reason (see the module docstring)."""
    bh, ah, bp, ap = scores.base_held_out, scores.adapter_held_out, scores.base_public, scores.adapter_public
    if bh is None or ah is None or bp is None or ap is None:
        return GateDecisionStatus(
            publish=False,
            reason="ScoresMissing",
            message="Evaluation did not score base and adapter on both sets.",
        )
    held = round(ah.edit_similarity - bh.edit_similarity, _PLACES)
    public = round(ap.edit_similarity - bp.edit_similarity, _PLACES)

    def verdict(publish: bool, reason: str, message: str) -> GateDecisionStatus:
        return GateDecisionStatus(
            publish=publish, reason=reason, message=message, held_out_delta=held, public_delta=public
        )

    numbers = (
        f"held-out edit similarity {bh.edit_similarity:.3f} -> {ah.edit_similarity:.3f} ({held:+.3f}), "
        f"public {bp.edit_similarity:.3f} -> {ap.edit_similarity:.3f} ({public:+.3f})"
    )
    if min(bh.tasks, ah.tasks) < gate.min_held_out_tasks:
        return verdict(
            False,
            "TooFewHeldOutTasks",
            f"{min(bh.tasks, ah.tasks)} held-out tasks, "
            f"fewer than the {gate.min_held_out_tasks} needed to judge.",
        )
    if public < -round(gate.public_margin, _PLACES):
        return verdict(
            False, "PublicRegressed", f"Not published: {numbers}; allowed drop {gate.public_margin}."
        )
    if held < round(gate.held_out_margin, _PLACES):
        return verdict(
            False, "HeldOutNotImproved", f"Not published: {numbers}; needed gain {gate.held_out_margin}."
        )
    return verdict(True, "HeldOutImproved", f"Published: {numbers}.")


def decide_engine(
    serving: Mapping[str, SetScores], candidate: Mapping[str, SetScores], max_drop: float
) -> GateDecisionStatus:
    """The same gate for a new engine (an FP8 or INT4 build after BF16): it may take traffic only if
    no task set's edit similarity falls by more than ``max_drop`` against the engine serving now.

    Both engines answer the same tasks greedily, so a drop is the new engine's; the worst set
    decides and is named, so a quantisation that hurts completions is never rolled out silently.
    """
    missing = sorted(set(serving) ^ set(candidate))
    if not serving or missing:
        return GateDecisionStatus(
            publish=False,
            reason="ScoresMissing",
            message=f"Engines were not scored on the same sets: {missing}.",
        )
    drops = {
        name: round(candidate[name].edit_similarity - serving[name].edit_similarity, _PLACES)
        for name in serving
    }
    worst = min(drops, key=lambda name: drops[name])
    delta = drops[worst]
    detail = ", ".join(
        f"{n} {serving[n].edit_similarity:.3f} -> {candidate[n].edit_similarity:.3f}" for n in sorted(serving)
    )
    if delta < -round(max_drop, _PLACES):
        return GateDecisionStatus(
            publish=False,
            reason="EngineRegressed",
            message=f"Not rolled out: {worst} edit similarity fell by {-delta:.3f} "
            f"(allowed {max_drop}); {detail}.",
            public_delta=drops.get(PUBLIC_SET),
            held_out_delta=drops.get(HELD_OUT_SET),
        )
    return GateDecisionStatus(
        publish=True,
        reason="EngineWithinMargin",
        message=f"Rolled out: {detail}.",
        public_delta=drops.get(PUBLIC_SET),
        held_out_delta=drops.get(HELD_OUT_SET),
    )
