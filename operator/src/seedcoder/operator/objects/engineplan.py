"""Which engine each pool needs: the pure step from a spec to engine keys and build plans.

Why separate: the engine key decides sharing (one build per distinct key), the
rollover (a new key means build first, then roll), and the status; computing it
in one pure function from the spec and the engines' profiles makes all three
agree and is easy to test. Mistakes the CRD's CEL rules cannot see (limits that
exceed a profile, a gateway budget larger than an engine's input, an engine whose
weights and KV cache cannot fit on its card: ``seedcoder.engines.memory``) become
:class:`InvalidSpec` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from seedcoder.api.spec import PoolSpec, SeedCoderDeploymentSpec
from seedcoder.engines import memory
from seedcoder.engines.buildcmd import BuildPlan, ModelSource, make_plan
from seedcoder.engines.layout import CACHE_MOUNT
from seedcoder.engines.profiles import GpuProfile, get_profile, limits_for
from seedcoder.engines.trtllm_constraints import ConstraintError
from seedcoder.operator.objects.image_choice import ImageChoice, choose
from seedcoder.operator.settings import OperatorSettings

MODELS_MOUNT = "/models"
"""Where a pvc model source is mounted in build pods (read-only)."""


class InvalidSpec(ValueError):
    """A spec the CRD accepted but the operator cannot serve; ``field`` names where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PoolEngine:
    """One pool with its GPU profile and the build plan of the engine it needs."""

    pool: PoolSpec
    profile: GpuProfile
    plan: BuildPlan
    image: str
    """The image that builds this engine and serves it (the same: engines are tied to it)."""

    @property
    def key(self) -> str:
        return self.plan.key


def model_source(spec: SeedCoderDeploymentSpec) -> ModelSource:
    """The build program's view of ``spec.model.source``."""
    src = spec.model.source
    if src.pvc is not None:
        location = f"{MODELS_MOUNT}/{src.pvc.path}".rstrip("/") if src.pvc.path else MODELS_MOUNT
        return ModelSource(kind="pvc", location=location)
    if src.s3 is not None:
        return ModelSource(kind="s3", location=src.s3.uri, endpoint=src.s3.endpoint)
    if src.hugging_face is not None:
        return ModelSource(kind="huggingface", location=src.hugging_face.repo or spec.model.name)
    raise InvalidSpec("spec.model.source", "exactly one of pvc, s3 or huggingFace must be set")


def plan_pool(spec: SeedCoderDeploymentSpec, index: int, images: ImageChoice) -> PoolEngine:
    """The engine of ``spec.pools[index]``, built and served by ``images``; raises :class:`InvalidSpec`."""
    pool = spec.pools[index]
    where = f"spec.pools[{index}]"
    try:
        profile = get_profile(pool.gpu, pool.runtime)
    except KeyError as exc:
        raise InvalidSpec(f"{where}.gpu", str(exc.args[0])) from None
    except ValueError as exc:
        raise InvalidSpec(f"{where}.runtime", str(exc)) from None
    eng = spec.engine
    try:
        limits = limits_for(
            profile,
            max_batch_size=eng.max_batch_size,
            max_input_len=eng.max_input_len,
            max_output_len=eng.max_output_len,
            max_num_tokens=eng.max_num_tokens,
        )
    except ValidationError as exc:
        raise InvalidSpec("spec.engine", f"limits invalid for {pool.gpu}: {exc.errors()[0]['msg']}") from None
    precision = pool.precision or eng.precision
    image = images.for_runtime(profile.runtime, profile.arch)
    try:
        plan = make_plan(
            profile,
            model_name=spec.model.name,
            revision=spec.model.revision,
            precision=precision,
            limits=limits,
            source=model_source(spec),
            cache_dir=CACHE_MOUNT,  # where build_job mounts the cache (and triton, read-only)
            build_image=image,
            kv_cache_reuse=eng.kv_cache_reuse,
            calibration_source=eng.calibration,
        )
    except ConstraintError as exc:
        first = exc.violations[0].spec_field
        if first == "precision":
            field = f"{where}.precision" if pool.precision else "spec.engine.precision"
        else:
            field = f"spec.engine.{first}"
        raise InvalidSpec(field, str(exc)) from None
    except ValueError as exc:
        field = f"{where}.precision" if pool.precision else "spec.engine.precision"
        raise InvalidSpec(field, str(exc)) from None
    problem = memory_problem(profile, plan)
    if problem is not None:
        field = f"{where}.precision" if pool.precision else "spec.engine.precision"
        raise InvalidSpec(field, problem)
    return PoolEngine(pool=pool, profile=profile, plan=plan, image=image)


def memory_budget(profile: GpuProfile, plan: BuildPlan) -> memory.MemoryBudget | None:
    """The memory budget of a TensorRT-LLM engine on its card (None: llama.cpp or CPU)."""
    if profile.runtime != "tensorrt-llm" or not profile.gpu_memory_gib:
        return None
    return memory.budget(profile, plan.inputs.precision, plan.inputs.limits)


def memory_problem(profile: GpuProfile, plan: BuildPlan) -> str | None:
    """Why the engine cannot fit on one card of ``profile`` (by how much, and what to change), or None."""
    mb = memory_budget(profile, plan)
    if mb is None or mb.fits:
        return None
    return (
        f"the engine does not fit on one {profile.gpu}: {mb.summary()}. Choose a smaller precision "
        "(int4-awq, fp8) or lower spec.engine.maxBatchSize / maxInputLen / maxOutputLen"
    )


def plan_engines(spec: SeedCoderDeploymentSpec, settings: OperatorSettings | None = None) -> list[PoolEngine]:
    """Every pool's engine, in pool order; raises :class:`InvalidSpec` for the first bad pool.

    Images come from ``spec.images`` over ``settings`` (the defaults when omitted).

    A pool whose engine takes shorter prompts than the gateway's budget is fine (the
    gateway routes longer prompts elsewhere), but at least one pool must take them all.
    """
    images = choose(settings or OperatorSettings(), spec.images)
    pools = [plan_pool(spec, i, images) for i in range(len(spec.pools))]
    longest = max(pe.plan.inputs.limits.max_input_len for pe in pools)
    if spec.gateway.max_context_tokens > longest:
        raise InvalidSpec(
            "spec.gateway.maxContextTokens",
            f"{spec.gateway.max_context_tokens} exceeds every pool's maxInputLen (at most {longest}); "
            "lower it or raise spec.engine.maxInputLen",
        )
    return pools


SHARED_ACCESS_MODE = "ReadWriteMany"


def cache_problem(spec: SeedCoderDeploymentSpec, pvc: Mapping[str, Any] | None) -> InvalidSpec | None:
    """Why the engine cache claim cannot be shared (build Jobs write it, Triton pods on many nodes
    read it), or None. A claim not found (yet) is not judged: its pods wait for it."""
    if pvc is None:
        return None
    claim = spec.engine.cache.pvc.claim_name
    modes = list((pvc.get("spec") or {}).get("accessModes") or [])
    if SHARED_ACCESS_MODE in modes:
        return None
    return InvalidSpec(
        "spec.engine.cache.pvc.claimName",
        f"PersistentVolumeClaim {claim} has accessModes {modes or '[]'}; the engine cache must be "
        f"{SHARED_ACCESS_MODE}: build Jobs write it and Triton pods on every node of a pool mount it "
        "(use a ReadWriteMany storage class: NFS, CephFS, EFS, Filestore, Azure Files)",
    )


def distinct_engines(pools: list[PoolEngine]) -> dict[str, list[PoolEngine]]:
    """Pools grouped by engine key (one build per key), keys in first-use order."""
    out: dict[str, list[PoolEngine]] = {}
    for pe in pools:
        out.setdefault(pe.key, []).append(pe)
    return out
