"""The desired state of one resource, from its spec and what was observed (pure).

Why one function: a level-based reconcile is "compute everything that should
exist, then make it so"; keeping the computation pure (no API calls) lets golden
tests pin every manifest and lets the rollover rule live in one readable place:
a pool serves its desired engine only once that engine is built; until then its
live Deployment (serving the previous engine) is left exactly as it is.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from seedcoder.api.gateway_config import PoolEndpoint
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.operator.objects import engine_gate, gateway_objects, names, netpol, retrieval_objects, triton
from seedcoder.operator.objects.build_job import build_job
from seedcoder.operator.objects.engineplan import PoolEngine, distinct_engines
from seedcoder.operator.objects.finetune_adapters import DeploymentAdapters
from seedcoder.operator.objects.image_choice import ImageChoice, choose
from seedcoder.operator.objects.observed import DeploymentView, JobView
from seedcoder.operator.objects.podsec import Manifest
from seedcoder.operator.settings import OperatorSettings


def desired_hash(manifest: Manifest, *, ignore_replicas: bool = False) -> str:
    """Hash of the canonical JSON of a manifest (optionally without spec.replicas)."""
    body = copy.deepcopy(manifest)
    body.get("metadata", {}).get("annotations", {}).pop(names.ANNOTATION_HASH, None)
    if ignore_replicas:
        body.get("spec", {}).pop("replicas", None)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def stamp(manifest: Manifest, *, ignore_replicas: bool = False) -> Manifest:
    """A deep copy of the manifest (no shared sub-objects) with its desired-hash annotation set."""
    manifest = json.loads(json.dumps(manifest))
    digest = desired_hash(manifest, ignore_replicas=ignore_replicas)
    manifest.setdefault("metadata", {}).setdefault("annotations", {})[names.ANNOTATION_HASH] = digest
    return manifest


def _replicas_left_to_the_autoscaler(manifest: Manifest, autoscaled: bool) -> bool:
    """A Triton Deployment in SLO mode: its ``spec.replicas`` belongs to the autoscaler."""
    labels = manifest.get("metadata", {}).get("labels") or {}
    return (
        autoscaled
        and manifest.get("kind") == "Deployment"
        and labels.get(names.LABEL_COMPONENT) == names.COMPONENT_TRITON
    )


def stamp_all(
    manifests: Sequence[Manifest], *, owner: Mapping[str, object], autoscaled: bool
) -> list[Manifest]:
    """The one stamp of the desired set: each manifest deep-copied, with its desired-hash
    annotation and the resource's controller ``owner`` reference.

    Applied once, at the end of :func:`plan`, to every object the resource owns; the
    builders leave both out. The hash is taken before the ownerReference is added (it
    covers what the builders decide). With ``autoscaled`` (SLO mode) a Triton
    Deployment is hashed without ``spec.replicas``, so a replica change by the
    autoscaler never reads as drift.
    """
    out = []
    for m in manifests:
        stamped = stamp(m, ignore_replicas=_replicas_left_to_the_autoscaler(m, autoscaled))
        stamped["metadata"]["ownerReferences"] = [dict(owner)]
        out.append(stamped)
    return out


def monitoring_objects(
    scd: SeedCoderDeployment, objects: Sequence[Manifest], settings: OperatorSettings
) -> list[Manifest]:
    """The monitoring generators' objects, put in the resource's namespace and labelled as its own."""
    out = []
    for obj in objects:
        meta = obj.setdefault("metadata", {})
        meta["namespace"] = scd.metadata.namespace
        labels = meta.setdefault("labels", {})
        labels.update(settings.monitoring_labels)  # what the cluster's Prometheus selects by
        labels.update(names.instance_labels(scd.metadata.name, "monitoring"))
        out.append(obj)
    return out


def must_replace(desired: Manifest, live: Manifest | None) -> bool:
    """Whether ``live`` must be deleted before ``desired`` can be applied (an immutable field differs).

    The one case: a pool's Triton Service became headless (``clusterIP: None``) while
    the live one, from an earlier version, has a cluster IP, which the API server
    never lets an update change.
    """
    if live is None or desired.get("kind") != "Service":
        return False
    want = desired.get("spec", {}).get("clusterIP")
    have = (live.get("spec") or {}).get("clusterIP")
    return want == "None" and have not in (None, "None")


@dataclass
class Observed:
    """What the reconcile read from the API server for one resource."""

    jobs: dict[str, JobView] = field(default_factory=dict)
    """Build Jobs of the namespace by engine key."""
    triton: dict[str, DeploymentView] = field(default_factory=dict)
    """The resource's Triton Deployments by pool name."""
    gateway: DeploymentView | None = None
    adapters: DeploymentAdapters = field(default_factory=DeploymentAdapters)
    """What the gateway serves of the SeedCoderFineTunes naming the resource (``finetune_adapters``)."""
    canaries: dict[str, DeploymentView] = field(default_factory=dict)
    """The engine gate's canary Deployments by pool name."""
    gate_jobs: dict[str, engine_gate.GateJobView] = field(default_factory=dict)
    """The engine gate's evaluation Jobs by name."""
    read_at: datetime | None = None
    """When it was read (None: a pure test that needs no clock)."""


@dataclass
class Plan:
    """Everything the apply step should make true."""

    owned: list[Manifest]
    """Objects owned by the resource, each stamped by :func:`stamp_all` (hash, controller
    ownerReference)."""
    new_jobs: list[Manifest]
    """Build Jobs to create (ownerReferences set at apply)."""
    keys_in_use: set[str]
    """Engine keys this resource needs or still serves."""
    serving: dict[str, str]
    """Pool name -> engine key it serves after this reconcile (absent: not deployed yet)."""
    kept: set[str]
    """Triton Deployments left untouched (still serving a previous engine)."""
    gateway_deployed: bool
    gates: dict[str, engine_gate.PoolGate] = field(default_factory=dict)
    """Pool name -> where its engine change stands under the engine gate (only pools in one)."""


def _replicas(scd: SeedCoderDeployment, pool_min: int, live: DeploymentView | None) -> int | None:
    if scd.spec.autoscaling.mode == "fixed":
        return pool_min
    if live is None:
        return pool_min  # created at minReplicas; the autoscaler takes replicas over from here
    return live.spec_replicas if live.operator_owns_replicas else None


def plan(
    scd: SeedCoderDeployment,
    pools: list[PoolEngine],
    observed: Observed,
    settings: OperatorSettings,
    monitoring: Sequence[Manifest] = (),
) -> Plan:
    """Desired objects of ``scd`` given its pools' engines and the observed children.

    ``monitoring``: the monitoring generators' objects for ``scd`` (empty when the
    cluster has no Prometheus Operator); they are labelled and stamped like the rest.
    """
    ns, inst, spec = scd.metadata.namespace, scd.metadata.name, scd.spec
    images = choose(settings, spec.images)
    slo_mode = spec.autoscaling.mode == "slo"
    owned: list[Manifest] = []
    serving: dict[str, str] = {}
    kept: set[str] = set()
    endpoints = []
    hints = dict(
        zip(
            [pe.pool.name for pe in pools],
            gateway_objects.routing_hints(
                [(pe.profile.gpu, pe.plan.inputs.precision) for pe in pools], float(spec.slo.ttft_p95_ms)
            ),
            strict=True,
        )
    )
    gates: dict[str, engine_gate.PoolGate] = {}
    candidates: list[PoolEndpoint] = []
    gateway_url = gateway_objects.endpoint(inst, ns, settings.cluster_domain)
    for pe in pools:
        job = observed.jobs.get(pe.key)
        live = observed.triton.get(pe.pool.name)
        built = job is not None and job.complete
        gate = None
        if (
            built
            and spec.engine.gate is not None
            and live is not None
            and live.engine_key not in ("", pe.key)
        ):
            gate = gates[pe.pool.name] = _gate(scd, pe.pool.name, live.engine_key, pe.key, observed)
        if built and (gate is None or gate.rolls_out):
            key = pe.key
            replicas = _replicas(scd, pe.pool.min_replicas, live)
            owned.append(_pool_deployment(scd, pe, key, replicas, images, observed))
        elif gate is not None and live is not None:
            key = live.engine_key
            kept.add(live.name)
            candidate_dep = _pool_deployment(scd, pe, pe.key, 1, images, observed)
            objs, candidate = _gate_objects(
                scd, pe, gate, candidate_dep, gateway_url, hints[pe.pool.name], settings
            )
            owned += objs
            candidates += [candidate] if candidate else []
        elif live is not None and live.engine_key:
            key = live.engine_key
            kept.add(live.name)
        else:
            continue
        serving[pe.pool.name] = key
        owned.append(triton.service(instance=inst, namespace=ns, pool=pe.pool, arch=pe.profile.arch))
        sel = triton.selector_labels(inst, pe.pool.name)
        svc_labels = {**names.instance_labels(inst, names.COMPONENT_TRITON), names.LABEL_POOL: pe.pool.name}
        if triton.can_be_disrupted_one_at_a_time(max(pe.pool.min_replicas, pe.pool.max_replicas)):
            owned.append(
                triton.pdb(
                    name=names.triton(inst, pe.pool.name), namespace=ns, labels=svc_labels, selector=sel
                )
            )
        weight, longest = hints[pe.pool.name]
        endpoints.append(
            gateway_objects.pool_endpoint(
                instance=inst,
                namespace=ns,
                pool=pe.pool.name,
                gpu=pe.profile.gpu,
                max_input_len=pe.plan.inputs.limits.max_input_len,
                domain=settings.cluster_domain,
                capacity_weight=weight,
                max_prompt_tokens=longest,
                runtime=pe.profile.runtime,
            )
        )
    if endpoints:
        config = gateway_objects.gateway_config(
            spec, endpoints + candidates, settings.default_scan_policy, adapters=observed.adapters.adapters
        )
        cm = gateway_objects.config_map(instance=inst, namespace=ns, config=config)
        owned.append(cm)
        owned.append(
            gateway_objects.deployment(
                instance=inst,
                namespace=ns,
                spec=spec,
                images=images,
                config_checksum=gateway_objects.config_checksum(cm),
            )
        )
        owned.append(gateway_objects.service(instance=inst, namespace=ns, spec=spec))
        gw_labels = names.instance_labels(inst, names.COMPONENT_GATEWAY)
        if triton.can_be_disrupted_one_at_a_time(spec.gateway.replicas):
            owned.append(
                triton.pdb(
                    name=names.gateway(inst),
                    namespace=ns,
                    labels=gw_labels,
                    selector=gateway_objects.selector_labels(inst),
                )
            )
    if (r := spec.retrieval) is not None:
        owned += [
            retrieval_objects.cronjob(instance=inst, namespace=ns, r=r, images=images),
            retrieval_objects.job(instance=inst, namespace=ns, r=r, images=images),
            retrieval_objects.network_policy(instance=inst, namespace=ns, r=r),
        ]
    by_key = distinct_engines(pools)
    keys_in_use = set(by_key) | set(serving.values())
    owned += [
        netpol.default_deny(inst, ns),
        netpol.triton_policy(inst, ns, spec),
        netpol.gateway_policy(inst, ns, spec, settings),
        netpol.build_policy(inst, ns, spec, sorted(keys_in_use)),
    ]
    if spec.engine.gate is not None:
        owned.append(netpol.gate_policy(inst, ns))
    owned += monitoring_objects(scd, monitoring, settings)
    new_jobs = [
        build_job(spec, group[0], ns, settings) for key, group in by_key.items() if key not in observed.jobs
    ]
    return Plan(
        owned=stamp_all(owned, owner=scd.owner_reference(controller=True), autoscaled=slo_mode),
        new_jobs=new_jobs,
        keys_in_use=keys_in_use,
        serving=serving,
        kept=kept,
        gateway_deployed=bool(endpoints),
        gates=gates,
    )


def _pool_deployment(
    scd: SeedCoderDeployment,
    pe: PoolEngine,
    key: str,
    replicas: int | None,
    images: ImageChoice,
    observed: Observed,
) -> Manifest:
    spec = scd.spec
    return triton.deployment(
        instance=scd.metadata.name,
        namespace=scd.metadata.namespace,
        pool=pe.pool,
        profile=pe.profile,
        key=key,
        cache_claim=spec.engine.cache.pvc.claim_name,
        replicas=replicas,
        image=pe.image,
        images=images,
        adapters_claim=observed.adapters.claim if observed.adapters.adapters else None,
    )


def _gate(
    scd: SeedCoderDeployment, pool: str, serving: str, candidate: str, observed: Observed
) -> engine_gate.PoolGate:
    gate = scd.spec.engine.gate
    assert gate is not None
    name = engine_gate.job_name(scd.metadata.name, pool, serving, candidate, gate)
    return engine_gate.decide(
        instance=scd.metadata.name,
        pool=pool,
        serving_key=serving,
        candidate_key=candidate,
        model=scd.spec.model.name,
        gate=gate,
        canary_dep=observed.canaries.get(pool),
        job=observed.gate_jobs.get(name),
        now=observed.read_at,
    )


def _gate_objects(
    scd: SeedCoderDeployment,
    pe: PoolEngine,
    gate: engine_gate.PoolGate,
    candidate_deployment: Manifest,
    gateway_url: str,
    hint: tuple[float, int | None],
    settings: OperatorSettings,
) -> tuple[list[Manifest], PoolEndpoint | None]:
    """The canary, its Service and its (candidate) gateway endpoint while the gate needs them, and
    the evaluation Job once it runs (kept afterwards as the verdict's record)."""
    inst, ns, pool = scd.metadata.name, scd.metadata.namespace, pe.pool.name
    out: list[Manifest] = []
    candidate = None
    if gate.needs_canary:
        out.append(engine_gate.canary(candidate_deployment, inst, pool))
        out.append(engine_gate.canary_service(inst, ns, pool))
        candidate = gateway_objects.pool_endpoint(
            instance=inst,
            namespace=ns,
            pool=engine_gate.candidate_pool(pool),
            gpu=pe.profile.gpu,
            max_input_len=pe.plan.inputs.limits.max_input_len,
            domain=settings.cluster_domain,
            capacity_weight=hint[0],
            max_prompt_tokens=hint[1],
            runtime=pe.profile.runtime,
            candidate_of=pool,
            service=engine_gate.canary_name(inst, pool),
        )
    spec_gate = scd.spec.engine.gate
    if gate.stage != "Canary" and spec_gate is not None:
        inputs = engine_gate.GateInputs(
            instance=inst,
            namespace=ns,
            pool=pool,
            serving_key=gate.status.serving,
            candidate_key=gate.status.candidate,
            model=scd.spec.model.name,
            gateway_url=gateway_url,
        )
        out.append(engine_gate.evaluation_job(inputs, spec_gate, choose(settings, scd.spec.images)))
    return out, candidate
