"""Where a pool's pods (and its engine's build) may run: the GPU architecture, merged with the user's rules.

Why: an engine runs on the GPU architecture that built it, not on one product.
Selecting one exact ``nvidia.com/gpu.product`` left H100 PCIe/NVL, A100 40 GB and
clusters labelled differently Pending, and overriding the pool's own
``nodeSelector`` threw the user's placement away. So the GPU match is a required
node affinity with two alternative terms (GPU Feature Discovery's
``nvidia.com/gpu.compute.major/minor``, or any product name of the architecture),
or the one product a pool names; the pool's ``nodeSelector`` is kept as the pod's
``nodeSelector`` (ANDed by the scheduler), the pool's required node-affinity terms
are ANDed with the GPU terms (every combination: terms are ORed, expressions in a
term ANDed), its preferences and tolerations are appended.

Kinds that share an architecture (sm89: L40S 48 GB, RTX 4090 and L4 24 GB) are told
apart in the compute-capability term by GPU Feature Discovery's
``nvidia.com/gpu.memory`` (MiB): an engine sized for 48 GB must not land on a 24 GB
card, and a 24 GB pool should not take an L40S.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seedcoder.api.spec import PoolSpec
from seedcoder.engines.profiles import GpuProfile
from seedcoder.operator.objects import names

Manifest = dict[str, Any]

COMPUTE_MAJOR_LABEL = "nvidia.com/gpu.compute.major"
COMPUTE_MINOR_LABEL = "nvidia.com/gpu.compute.minor"
MEMORY_LABEL = "nvidia.com/gpu.memory"
"""GPU Feature Discovery: the card's memory as the driver reports it, MiB."""


@dataclass(frozen=True)
class Placement:
    """The scheduling fields of a pod spec."""

    node_selector: dict[str, str] = field(default_factory=dict)
    affinity: Manifest | None = None
    tolerations: list[Manifest] = field(default_factory=list)

    def apply(self, pod_spec: Manifest) -> None:
        """Set nodeSelector, affinity and tolerations on ``pod_spec`` (only those that are not empty)."""
        if self.node_selector:
            pod_spec["nodeSelector"] = dict(self.node_selector)
        if self.affinity:
            pod_spec["affinity"] = self.affinity
        if self.tolerations:
            pod_spec["tolerations"] = list(self.tolerations)


def gpu_terms(profile: GpuProfile, product: str | None = None) -> list[Manifest]:
    """Node selector terms (ORed) matching the nodes of ``profile``'s architecture, or one product."""
    if profile.product_label is None:
        return []
    if product is not None:
        return [{"matchExpressions": [_req(names.GPU_PRODUCT_LABEL, [product])]}]
    terms = [{"matchExpressions": [_req(names.GPU_PRODUCT_LABEL, list(profile.products))]}]
    if profile.compute_capability is not None:
        major, minor = profile.compute_capability.split(".")
        exprs = [_req(COMPUTE_MAJOR_LABEL, [major]), _req(COMPUTE_MINOR_LABEL, [minor])]
        if profile.gpu_memory_mib_range is not None:
            above, below = profile.gpu_memory_mib_range
            exprs += [
                {"key": MEMORY_LABEL, "operator": "Gt", "values": [str(above)]},
                {"key": MEMORY_LABEL, "operator": "Lt", "values": [str(below)]},
            ]
        terms.append({"matchExpressions": exprs})
    return terms


def _req(key: str, values: list[str]) -> Manifest:
    return {"key": key, "operator": "In", "values": values}


def _and(ours: list[Manifest], theirs: list[Manifest]) -> list[Manifest]:
    """Terms matching a node that matches one of ``ours`` AND one of ``theirs``."""
    if not ours:
        return theirs
    if not theirs:
        return ours
    out = []
    for t in theirs:
        for o in ours:
            term: Manifest = {"matchExpressions": [*t.get("matchExpressions", []), *o["matchExpressions"]]}
            if t.get("matchFields"):
                term["matchFields"] = t["matchFields"]
            out.append(term)
    return out


def placement(pool: PoolSpec, profile: GpuProfile) -> Placement:
    """The pool's pods' placement: GPU architecture (or product) AND the pool's own rules."""
    node_affinity: Manifest = {}
    user = pool.affinity.node_affinity if pool.affinity else None
    required_sel = user.required_during_scheduling_ignored_during_execution if user else None
    required = [t.wire() for t in required_sel.node_selector_terms] if required_sel else []
    terms = _and(gpu_terms(profile, pool.gpu_product), required)
    if terms:
        node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    if user and user.preferred_during_scheduling_ignored_during_execution:
        node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            p.wire() for p in user.preferred_during_scheduling_ignored_during_execution
        ]
    tolerations: list[Manifest] = []
    if profile.product_label is not None:
        tolerations.append({"key": names.GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    tolerations += [t.wire() for t in pool.tolerations or []]
    return Placement(
        node_selector=dict(pool.node_selector or {}),
        affinity={"nodeAffinity": node_affinity} if node_affinity else None,
        tolerations=tolerations,
    )
