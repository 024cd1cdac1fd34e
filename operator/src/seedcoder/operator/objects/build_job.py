"""The engine build Job: one per engine key, shared by every pool and resource that needs it.

Why this shape: the Job's name is the engine key, so a second resource (or pool)
needing the same engine finds the Job instead of starting another build; it runs
on a node of the target GPU architecture (an engine only runs on the architecture
that built it) within the placement rules of the first pool that needs it, mounts
the engine cache read-write at ``seedcoder.engines.layout.CACHE_MOUNT``
(where Triton pods mount it read-only: the generated model repository names the
engine by absolute path) and runs the one command line
``seedcoder.engines.buildcmd.build_command`` writes. A failure the build
program knows to be permanent fails the Job at once (``podFailurePolicy``);
other failed pods are retried by the Job controller with its exponential
back-off (``backoffLimit``). The build program's JSON reports reach the operator
through the running pod's log (progress) and the termination message (result).
The Job's ownerReferences (one per resource that uses it) are set by the
reconcile, not here: they depend on who else uses the engine.
"""

from __future__ import annotations

import json

from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.engines.build import PERMANENT_EXIT_CODES
from seedcoder.engines.buildcmd import build_command
from seedcoder.engines.buildenv import SCRATCH_MOUNT, SHM_MOUNT, build_environment
from seedcoder.engines.layout import CACHE_MOUNT
from seedcoder.engines.profiles import GpuProfile
from seedcoder.operator.objects import names, podsec
from seedcoder.operator.objects.engineplan import MODELS_MOUNT, PoolEngine
from seedcoder.operator.objects.image_choice import choose
from seedcoder.operator.objects.placement import placement
from seedcoder.operator.objects.podsec import Manifest
from seedcoder.operator.settings import OperatorSettings


def build_labels(pe: PoolEngine) -> dict[str, str]:
    return {
        names.LABEL_NAME: names.APP,
        names.LABEL_COMPONENT: names.COMPONENT_BUILD,
        names.LABEL_MANAGED_BY: names.MANAGED_BY,
        names.LABEL_ENGINE_KEY: pe.key,
        names.LABEL_ARCH: pe.profile.arch,
    }


def _env_and_volumes(
    spec: SeedCoderDeploymentSpec, profile: GpuProfile
) -> tuple[list[Manifest], list[Manifest], list[Manifest]]:
    # The root filesystem is read-only: HOME and every library cache live on a scratch
    # volume (buildenv), and torch/NCCL get a memory-backed /dev/shm sized by the profile.
    env: list[Manifest] = [{"name": k, "value": v} for k, v in build_environment().items()]
    mounts: list[Manifest] = [
        {"name": "engine-cache", "mountPath": CACHE_MOUNT},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "scratch", "mountPath": SCRATCH_MOUNT},
        {"name": "dshm", "mountPath": SHM_MOUNT},
    ]
    volumes: list[Manifest] = [
        {"name": "engine-cache", "persistentVolumeClaim": {"claimName": spec.engine.cache.pvc.claim_name}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "scratch", "emptyDir": {"sizeLimit": f"{profile.build_scratch_gib}Gi"}},
        {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{profile.build_shm_gib}Gi"}},
    ]
    src = spec.model.source
    if src.pvc is not None:
        volumes.append(
            {"name": "model", "persistentVolumeClaim": {"claimName": src.pvc.claim_name, "readOnly": True}}
        )
        mounts.append({"name": "model", "mountPath": MODELS_MOUNT, "readOnly": True})
    if src.s3 is not None and src.s3.secret_ref is not None:
        for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.append(
                {"name": var, "valueFrom": {"secretKeyRef": {"name": src.s3.secret_ref.name, "key": var}}}
            )
    if src.hugging_face is not None and src.hugging_face.token_secret_ref is not None:
        ref = src.hugging_face.token_secret_ref.name
        env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": ref, "key": "HF_TOKEN"}}})
    return env, mounts, volumes


def build_job(
    spec: SeedCoderDeploymentSpec, pe: PoolEngine, namespace: str, settings: OperatorSettings
) -> Manifest:
    """The build Job of ``pe``'s engine (without ownerReferences), run in ``pe.image``."""
    images = choose(settings, spec.images)
    labels = build_labels(pe)
    env, mounts, volumes = _env_and_volumes(spec, pe.profile)
    gpus = podsec.gpu_count(pe.profile)
    resources: Manifest = {
        # A CPU (llama.cpp) build copies and checks a GGUF file and writes the repository:
        # it needs little, and must fit beside the pool on a small CPU node.
        "requests": {"cpu": "4", "memory": "32Gi"} if gpus else {"cpu": "250m", "memory": "1Gi"},
    }
    if gpus:
        resources["limits"] = {names.GPU_RESOURCE: gpus}
    container: Manifest = {
        "name": "build",
        "image": pe.image,
        "imagePullPolicy": images.pull_policy,
        "command": build_command(pe.plan),
        "resources": resources,
        "volumeMounts": mounts,
        "securityContext": podsec.container_security(),
        "terminationMessagePath": pe.plan.termination_log,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    container["env"] = env
    pod_spec: Manifest = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": podsec.pod_security(),
        "containers": [container],
        "volumes": volumes,
        **images.pod_fields(),
    }
    placement(pe.pool, pe.profile).apply(pod_spec)
    job: Manifest = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": names.build_job(pe.key),
            "namespace": namespace,
            "labels": labels,
            "annotations": {
                names.ANNOTATION_ENGINE: f"{pe.plan.inputs.model_name}@{pe.plan.inputs.revision} "
                f"{pe.plan.inputs.precision} {pe.profile.arch} ({pe.profile.gpu})",
            },
        },
        "spec": {
            "backoffLimit": settings.build_backoff_limit,
            "activeDeadlineSeconds": settings.build_deadline_seconds,
            # A failure the same inputs meet again (the build program's exit codes 2 and 10)
            # fails the Job at once, with the build's own error in the pod's termination
            # message; an unexpected one is retried; an evicted or preempted pod is not counted.
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {
                            "containerName": "build",
                            "operator": "In",
                            "values": list(PERMANENT_EXIT_CODES),
                        },
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {
                "metadata": {
                    "labels": {**spec.engine.build_pod.labels, **labels},
                    **(
                        {"annotations": dict(spec.engine.build_pod.annotations)}
                        if spec.engine.build_pod.annotations
                        else {}
                    ),
                },
                "spec": pod_spec,
            },
        },
    }
    fresh: Manifest = json.loads(json.dumps(job))  # no shared sub-objects
    return fresh
