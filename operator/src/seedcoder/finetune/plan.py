"""Desired state of one fine-tuning run: the data set, training and evaluation Jobs, as manifests.

Pure builders in the style of the engine build Job: each returns a complete
``batch/v1`` Job (owner reference to the SeedCoderFineTune, deterministic name
``<name>-<stage>-<run>``, restricted security context, no service account
token) that the reconcile would create with server-side apply. The stages share
one workspace claim:

* ``datasets/<name>/<version>/`` written by the data set Job (CPU), which reads
  the deployment's feedback claim read-only and reports its manifest through
  the termination message;
* ``adapters/<name>/<run>/`` written by the training Job (PEFT LoRA with
  transformers on the chosen GPU kind, ``seedcoder finetune train``);
* ``reports/<name>/<run>/`` written by the evaluation Job (CPU), which asks the
  deployment's gateway for the base model and for the staged candidate adapter
  (``<model>:<adapter>-<run>``) and reports the scores the gate reads through
  its termination message.

The training Job is planned and tested here but has not run on a GPU in this
repository's tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from seedcoder.api.finetune import SeedCoderFineTuneSpec
from seedcoder.api.resource import API_VERSION
from seedcoder.engines.profiles import load_profiles
from seedcoder.operator.objects import names, podsec
from seedcoder.operator.objects.placement import gpu_terms

Manifest = dict[str, Any]
KIND: Final = "SeedCoderFineTune"
WORKSPACE: Final = "/workspace"
FEEDBACK: Final = "/feedback"
BASE_MODEL: Final = "/base-model"
COMPONENT_DATASET: Final = "finetune-dataset"
COMPONENT_TRAIN: Final = "finetune-train"
COMPONENT_EVALUATE: Final = "finetune-evaluate"
LABEL_RUN: Final = "seedcoder.dev/finetune-run"
TERMINATION_LOG: Final = podsec.TERMINATION_LOG
_RUN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class RunContext:
    """Everything a run's Jobs depend on besides the spec."""

    namespace: str
    name: str  # the SeedCoderFineTune
    uid: str
    run: str  # DNS-label fragment, at most 12 characters (e.g. "r7")
    spec: SeedCoderFineTuneSpec
    image: str  # the product image (the seedcoder command)
    training_image: str  # seedcoder-train: the product image with torch, transformers and peft (GPU)
    served_model: str  # the deployment's model name, e.g. seed-coder-8b-base
    feedback_claim: str  # the deployment's feedback claim
    gateway_url: str  # e.g. http://demo-gateway.ml.svc:8000/v1

    def __post_init__(self) -> None:
        if not _RUN.match(self.run):
            raise ValueError(f"run id {self.run!r} must be a DNS label of at most 12 characters")

    @property
    def adapter(self) -> str:
        return self.spec.publish.adapter_name or self.name

    @property
    def candidate_model(self) -> str:
        """The model name under which the staged (not yet published) adapter answers."""
        return f"{self.served_model}:{self.adapter}-{self.run}"

    def datasets_dir(self) -> str:
        return f"{WORKSPACE}/datasets/{self.name}"

    def adapter_dir(self) -> str:
        return f"{WORKSPACE}/adapters/{self.name}/{self.run}"

    def reports_dir(self) -> str:
        return f"{WORKSPACE}/reports/{self.name}/{self.run}"


def job_name(ctx: RunContext, stage: str) -> str:
    return f"{ctx.name}-{stage}-{ctx.run}"


def _labels(ctx: RunContext, component: str) -> dict[str, str]:
    return {**names.instance_labels(ctx.name, component), LABEL_RUN: ctx.run}


def _owner(ctx: RunContext) -> Manifest:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ctx.name,
        "uid": ctx.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _job(
    ctx: RunContext,
    stage: str,
    component: str,
    container: Manifest,
    volumes: list[Manifest],
    *,
    deadline_s: int,
    backoff: int,
) -> Manifest:
    labels = _labels(ctx, component)
    pod = podsec.run_to_completion(container, volumes)
    job: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(ctx, stage),
            "namespace": ctx.namespace,
            "labels": labels,
            "ownerReferences": [_owner(ctx)],
        },
        "spec": {
            "backoffLimit": backoff,
            "activeDeadlineSeconds": deadline_s,
            "ttlSecondsAfterFinished": 7 * 86400,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    fresh: Manifest = json.loads(json.dumps(job))  # no shared sub-objects
    return fresh


def _workspace(read_only: bool) -> tuple[Manifest, Manifest]:
    volume = {"name": "workspace", "persistentVolumeClaim": {"claimName": ""}}
    mount = {"name": "workspace", "mountPath": WORKSPACE, "readOnly": read_only}
    return volume, mount


def dataset_job(ctx: RunContext) -> Manifest:
    """Build a snapshot from the deployment's feedback (CPU, read-only feedback)."""
    data = ctx.spec.data
    command = ["seedcoder", "dataset", "build", "--feedback", FEEDBACK, "--out", ctx.datasets_dir(),
               "--held-out-fraction", repr(data.held_out_fraction),
               "--near-duplicate-threshold", repr(data.near_duplicate_threshold),
               "--min-middle-chars", str(data.min_middle_chars),
               "--summary", TERMINATION_LOG]  # fmt: skip
    if not data.include_edited:
        command.append("--no-edited")
    workspace, ws_mount = _workspace(read_only=False)
    workspace["persistentVolumeClaim"]["claimName"] = ctx.spec.workspace.claim_name
    container: Manifest = {
        "name": "dataset",
        "image": ctx.image,
        "command": command,
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "volumeMounts": [{"name": "feedback", "mountPath": FEEDBACK, "readOnly": True}, ws_mount],
    }
    feedback = {
        "name": "feedback",
        "persistentVolumeClaim": {"claimName": ctx.feedback_claim, "readOnly": True},
    }
    return _job(
        ctx, "dataset", COMPONENT_DATASET, container, [feedback, workspace], deadline_s=3600, backoff=2
    )


def training_command(ctx: RunContext, dataset_version: str) -> list[str]:
    lora = ctx.spec.lora
    base = ctx.spec.base_model
    model = f"{BASE_MODEL}/{base.name}" if base.claim_name else base.name
    command = ["seedcoder", "finetune", "train",
               "--train", f"{ctx.datasets_dir()}/{dataset_version}/train.jsonl",
               "--base-model", model, "--out", ctx.adapter_dir(),
               "--rank", str(lora.rank), "--alpha", str(lora.alpha), "--dropout", repr(lora.dropout),
               "--target-modules", ",".join(lora.target_modules),
               "--steps", str(lora.steps), "--learning-rate", repr(lora.learning_rate),
               "--batch-size", str(lora.batch_size),
               "--max-sequence-tokens", str(lora.max_sequence_tokens)]  # fmt: skip
    if base.revision:
        command += ["--revision", base.revision]
    return command


def training_job(ctx: RunContext, dataset_version: str) -> Manifest:
    """Train the LoRA adapter on the snapshot's training split (GPU nodes of the chosen kind)."""
    res = ctx.spec.training
    profile = load_profiles()[res.gpu]
    gpus = res.gpu_count if profile.product_label is not None else 0
    workspace, ws_mount = _workspace(read_only=False)
    workspace["persistentVolumeClaim"]["claimName"] = ctx.spec.workspace.claim_name
    volumes: list[Manifest] = [
        workspace,
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
    ]
    mounts: list[Manifest] = [ws_mount, {"name": "dshm", "mountPath": "/dev/shm"}]
    if ctx.spec.base_model.claim_name:
        claim = {"claimName": ctx.spec.base_model.claim_name, "readOnly": True}
        volumes.append({"name": "base-model", "persistentVolumeClaim": claim})
        mounts.append({"name": "base-model", "mountPath": BASE_MODEL, "readOnly": True})
    resources: Manifest = {
        "requests": {"cpu": "8" if gpus else "2", "memory": res.memory},
        "limits": {"memory": res.memory, **({names.GPU_RESOURCE: gpus} if gpus else {})},
    }
    container: Manifest = {
        "name": "train",
        "image": ctx.training_image,
        "command": training_command(ctx, dataset_version),
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "HF_HOME", "value": f"{WORKSPACE}/hf-cache"},  # the base checkpoint is fetched once
            {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        ],
        "resources": resources,
        "volumeMounts": mounts,
    }
    job = _job(ctx, "train", COMPONENT_TRAIN, container, volumes, deadline_s=res.timeout_seconds, backoff=1)
    pod = job["spec"]["template"]["spec"]
    terms = gpu_terms(profile)
    if terms:
        pod["affinity"] = {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}
        }
    if res.node_selector:
        pod["nodeSelector"] = dict(res.node_selector)
    tolerations = [t.wire() for t in res.tolerations]
    if gpus:
        tolerations.insert(0, {"key": names.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    if tolerations:
        pod["tolerations"] = tolerations
    return job


def evaluation_job(ctx: RunContext, dataset_version: str) -> Manifest:
    """Score the base model and the staged adapter through the gateway on held-out and public tasks."""
    gate = ctx.spec.gate
    reports = ctx.reports_dir()
    command = ["seedcoder", "evaluate", "--endpoint", ctx.gateway_url,
               "--model", ctx.served_model, "--compare-model", ctx.candidate_model,
               "--tasks", "public",
               "--tasks", f"heldout={ctx.datasets_dir()}/{dataset_version}/heldout.jsonl",
               "--max-tokens", str(gate.max_tokens),
               "--json", f"{reports}/report.json", "--markdown", f"{reports}/report.md",
               "--summary", TERMINATION_LOG]  # fmt: skip
    workspace, ws_mount = _workspace(read_only=False)
    workspace["persistentVolumeClaim"]["claimName"] = ctx.spec.workspace.claim_name
    key = {"secretKeyRef": {"name": gate.api_key_secret_ref, "key": "api-key"}}
    container: Manifest = {
        "name": "evaluate",
        "image": ctx.image,
        "command": command,
        "env": [{"name": "SEEDCODER_API_KEY", "valueFrom": key}, {"name": "HOME", "value": "/tmp"}],
        "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
        "volumeMounts": [ws_mount],
    }
    return _job(ctx, "evaluate", COMPONENT_EVALUATE, container, [workspace], deadline_s=4 * 3600, backoff=1)
