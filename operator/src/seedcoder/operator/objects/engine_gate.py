"""The engine gate: a pool's new engine takes traffic only after it scored as well as the one serving.

Why: a new engine for a pool that already serves (FP8 or INT4 after BF16, a new
build image, other limits) changes what the model writes; without a check, a
quantisation that hurts completions would roll out silently. With
``spec.engine.gate`` set, a pool whose desired engine is built but differs from
the one it serves goes through these steps, each decided from what exists (pure
functions of the observed objects; the reconcile only applies them):

1. **Canary**: the pool's Deployment keeps serving the old engine untouched; a
   one-replica Deployment ``<instance>-canary-<pool>`` serves the new engine behind
   its own headless Service, and the gateway lists it as the *candidate* pool
   ``<pool>.candidate``, which answers only requests pinned to it
   (``<model>@<pool>.candidate``) and never ordinary traffic.
2. **Evaluating**: once the canary has a ready replica, the Job
   ``<instance>-gate-<hash>`` runs the FIM harness (``seedcoder evaluate``) through
   the gateway on the pool's serving engine (``<model>@<pool>``) and on the
   candidate, the same tasks, greedy; it first waits until both answer.
3. **Decided** from the Job's summary (its termination message) by
   :func:`seedcoder.finetune.gate.decide_engine`: no task set's edit similarity
   down by more than ``maxDrop`` -> *Passed*, the pool's Deployment rolls onto the
   new engine (the canary goes); else *Regressed*: the pool keeps its engine, the
   canary goes, and the status and a Warning Event (``EngineRegressed``) give the
   numbers. A Job that fails (no scores) is *Failed*, with the same effect.

The Job is the record of the verdict: it is kept (no TTL) while the pool's spec
asks for the same engine change, and deleted when the spec moves on; deleting it
by hand runs the evaluation again. Its name hashes the pool, both engine keys and
the gate settings, so any of them changing means a new evaluation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from seedcoder.api.model import EngineGateSpec
from seedcoder.api.status import EngineGateStatus
from seedcoder.finetune.gate import SummaryError, decide_engine, engine_scores_from_summary
from seedcoder.operator.objects import names, podsec, triton
from seedcoder.operator.objects.image_choice import ImageChoice
from seedcoder.operator.objects.observed import DeploymentView
from seedcoder.operator.objects.podsec import Manifest

COMPONENT_CANARY: Final = names.COMPONENT_CANARY
COMPONENT_GATE: Final = names.COMPONENT_GATE
CANDIDATE_SUFFIX: Final = ".candidate"
"""Appended to a pool's name for its candidate in the gateway configuration: not a DNS label,
so no pool of the resource can be named like it."""
POOL_PIN: Final = "@"
LABEL_CANDIDATE_KEY: Final = "seedcoder.dev/candidate-engine-key"
LABEL_SERVING_KEY: Final = "seedcoder.dev/serving-engine-key"
TERMINATION_LOG: Final = podsec.TERMINATION_LOG
WAIT_READY_S: Final = 900
"""How long the evaluation waits for the gateway to answer for both engines (a rollout of the
gateway with the candidate listed, the canary's engine loading)."""
JOB_DEADLINE_S: Final = 4 * 3600
REPORT_GRACE: Final = timedelta(seconds=60)

Stage = Literal["Canary", "Evaluating", "Passed", "Regressed", "Failed"]


def candidate_pool(pool: str) -> str:
    """The candidate's pool name in the gateway configuration."""
    return f"{pool}{CANDIDATE_SUFFIX}"


def canary_name(instance: str, pool: str) -> str:
    """``<instance>-canary-<pool>``: as long as the pool's own ``<instance>-triton-<pool>``."""
    return f"{instance}-canary-{pool}"


def pinned_model(model: str, pool: str) -> str:
    """The model id that pins a request to ``pool`` of the gateway."""
    return f"{model}{POOL_PIN}{pool}"


def job_name(instance: str, pool: str, serving: str, candidate: str, gate: EngineGateSpec) -> str:
    """Deterministic: a change of pool, engines or gate settings is a new evaluation."""
    text = json.dumps([pool, serving, candidate, gate.model_dump(mode="json")], sort_keys=True)
    return f"{instance}-gate-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def canary_labels(instance: str, pool: str) -> dict[str, str]:
    """Selector of a pool's canary pods: not the pool Service's (component ``triton``)."""
    return {names.LABEL_INSTANCE: instance, names.LABEL_COMPONENT: COMPONENT_CANARY, names.LABEL_POOL: pool}


def canary(pool_deployment: Manifest, instance: str, pool: str) -> Manifest:
    """The canary of a pool: its Deployment for the new engine, renamed and relabelled, one replica.

    Built from the pool's own Deployment (same image, engine repository, placement,
    resources and probes) so that what is measured is what would roll out.
    """
    dep: Manifest = json.loads(json.dumps(pool_deployment))
    sel = canary_labels(instance, pool)
    for labels in (dep["metadata"]["labels"], dep["spec"]["template"]["metadata"]["labels"]):
        labels[names.LABEL_COMPONENT] = COMPONENT_CANARY
    dep["metadata"]["name"] = canary_name(instance, pool)
    dep["spec"]["replicas"] = 1
    dep["spec"]["selector"] = {"matchLabels": sel}
    dep["spec"]["template"]["spec"].pop("topologySpreadConstraints", None)  # one replica
    return dep


def canary_service(instance: str, namespace: str, pool: str) -> Manifest:
    """Headless Service of the canary: the candidate pool's address in the gateway configuration."""
    svc_labels = {**names.instance_labels(instance, COMPONENT_CANARY), names.LABEL_POOL: pool}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": canary_name(instance, pool), "namespace": namespace, "labels": svc_labels},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "None",
            "selector": canary_labels(instance, pool),
            "ports": [{"name": "grpc", "port": triton.GRPC, "targetPort": "grpc", "protocol": "TCP"}],
        },
    }


def gate_labels(instance: str, pool: str, serving: str, candidate: str) -> dict[str, str]:
    return {
        **names.instance_labels(instance, COMPONENT_GATE),
        names.LABEL_POOL: pool,
        LABEL_SERVING_KEY: serving,
        LABEL_CANDIDATE_KEY: candidate,
    }


def gate_selector(instance: str) -> str:
    return f"{names.LABEL_INSTANCE}={instance},{names.LABEL_COMPONENT}={COMPONENT_GATE}"


@dataclass(frozen=True, slots=True)
class GateInputs:
    """What one pool's evaluation Job needs besides the gate settings."""

    instance: str
    namespace: str
    pool: str
    serving_key: str
    candidate_key: str
    model: str  # the model id the gateway serves
    gateway_url: str  # .../v1


def evaluation_job(g: GateInputs, gate: EngineGateSpec, images: ImageChoice) -> Manifest:
    """The Job scoring the serving engine and the candidate through the gateway (CPU; no GPU)."""
    labels = gate_labels(g.instance, g.pool, g.serving_key, g.candidate_key)
    command = ["seedcoder", "evaluate", "--endpoint", g.gateway_url,
               "--model", pinned_model(g.model, g.pool),
               "--compare-model", pinned_model(g.model, candidate_pool(g.pool)),
               "--tasks", "public", "--max-tokens", str(gate.max_tokens),
               "--wait-ready", str(WAIT_READY_S), "--summary", TERMINATION_LOG]  # fmt: skip
    if gate.limit:
        command += ["--limit", str(gate.limit)]
    env: list[Manifest] = [{"name": "HOME", "value": "/tmp"}]
    if gate.api_key_secret_ref:
        key = {"secretKeyRef": {"name": gate.api_key_secret_ref, "key": "api-key"}}
        env.insert(0, {"name": "SEEDCODER_API_KEY", "valueFrom": key})
    container: Manifest = {
        "name": "evaluate",
        "image": images.seedcoder,
        "imagePullPolicy": images.pull_policy,
        "command": command,
        "env": env,
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
    }
    pod = {**podsec.run_to_completion(container, []), **images.pod_fields()}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(g.instance, g.pool, g.serving_key, g.candidate_key, gate),
            "namespace": g.namespace,
            "labels": labels,
        },
        "spec": {
            "backoffLimit": 2,
            "activeDeadlineSeconds": JOB_DEADLINE_S,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


@dataclass(frozen=True, slots=True)
class GateJobView:
    """An evaluation Job as observed, with the summary its finished pod left."""

    name: str
    pool: str
    serving_key: str
    candidate_key: str
    complete: bool
    failed: bool
    summary: str | None
    """The termination message of the newest pod that ended (the harness's summary JSON)."""
    failure: str = ""
    finished_at: datetime | None = None
    """When it completed (``status.completionTime``)."""

    def awaiting_report(self, now: datetime | None) -> bool:
        """Complete with no summary yet, within :data:`REPORT_GRACE`: the kubelet writes the
        termination message before the pod ends, but a late status write (or a simulated node that
        runs no program) is given a moment before the evaluation counts as failed."""
        if not self.complete or self.summary or now is None or self.finished_at is None:
            return False
        return now - self.finished_at < REPORT_GRACE


def _true(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype and cond.get("status") == "True":
            found: Mapping[str, Any] = cond
            return found
    return None


def parse_gate_job(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> GateJobView:
    meta = job.get("metadata") or {}
    labels = meta.get("labels") or {}
    summary, failure = None, ""
    for pod in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp", "")):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("state") or {}).get("terminated")
            if not term:
                continue
            if term.get("exitCode") == 0:
                summary = term.get("message") or summary
            else:
                failure = (term.get("message") or term.get("reason") or "").strip()[-400:]
    failed = _true(job, "Failed")
    finished = (job.get("status") or {}).get("completionTime")
    if failed is not None and not failure:
        failure = f"{failed.get('reason', '')}: {failed.get('message', '')}".strip(": ")
    return GateJobView(
        name=str(meta.get("name", "")),
        pool=labels.get(names.LABEL_POOL, ""),
        serving_key=labels.get(LABEL_SERVING_KEY, ""),
        candidate_key=labels.get(LABEL_CANDIDATE_KEY, ""),
        complete=_true(job, "Complete") is not None,
        failed=failed is not None,
        summary=summary,
        failure=failure,
        finished_at=datetime.fromisoformat(finished.replace("Z", "+00:00")) if finished else None,
    )


@dataclass(frozen=True, slots=True)
class PoolGate:
    """Where one pool's engine change stands, and what the status says of it."""

    stage: Stage
    status: EngineGateStatus

    @property
    def rolls_out(self) -> bool:
        return self.stage == "Passed"

    @property
    def needs_canary(self) -> bool:
        return self.stage in ("Canary", "Evaluating")


def decide(
    *,
    instance: str,
    pool: str,
    serving_key: str,
    candidate_key: str,
    model: str,
    gate: EngineGateSpec,
    canary_dep: DeploymentView | None,
    job: GateJobView | None,
    now: datetime | None = None,
) -> PoolGate:
    """The stage of a pool whose built engine ``candidate_key`` differs from ``serving_key`` (pure)."""
    name = job_name(instance, pool, serving_key, candidate_key, gate)
    base = {"serving": serving_key, "candidate": candidate_key, "job": name}
    if job is None:
        if canary_dep is not None and canary_dep.ready_replicas > 0:
            return PoolGate(
                "Evaluating", EngineGateStatus(**base, state="Evaluating", message="Evaluation Job created")
            )
        return PoolGate(
            "Canary",
            EngineGateStatus(
                **base, state="Canary", message="Waiting for the canary serving the new engine to be ready"
            ),
        )
    if job.failed:
        return PoolGate(
            "Failed",
            EngineGateStatus(
                **base,
                state="Failed",
                reason="EvaluationFailed",
                message=f"Not rolled out: evaluation Job {job.name} failed ({job.failure or 'no scores'}); "
                f"delete it to evaluate again",
            ),
        )
    if not job.complete or job.awaiting_report(now):
        return PoolGate(
            "Evaluating", EngineGateStatus(**base, state="Evaluating", message="Evaluation running")
        )
    try:
        serving, candidate = engine_scores_from_summary(
            job.summary or "", pinned_model(model, pool), pinned_model(model, candidate_pool(pool))
        )
    except SummaryError as exc:
        return PoolGate(
            "Failed",
            EngineGateStatus(
                **base,
                state="Failed",
                reason="ScoresMissing",
                message=f"Not rolled out: evaluation Job {job.name} left no usable scores ({exc}); "
                "delete it to evaluate again",
            ),
        )
    verdict = decide_engine(serving, candidate, gate.max_drop)
    deltas = {n: round(candidate[n].edit_similarity - serving[n].edit_similarity, 6) for n in serving}
    stage: Stage = "Passed" if verdict.publish else "Failed"
    if verdict.reason == "EngineRegressed":
        stage = "Regressed"
    status = EngineGateStatus(
        **base,
        state=stage,
        reason=verdict.reason,
        message=verdict.message,
        edit_similarity_deltas=deltas,
        serving_scores=serving,
        candidate_scores=candidate,
    )
    return PoolGate(stage, status)
