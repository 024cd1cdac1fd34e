"""Cost-aware split of the forecast load across pools of different GPUs.

Why: a deployment may run pools on several GPU kinds (H100 and A100, say). The
cheapest fleet that meets the SLO fills the pools with the lowest cost per
request at the SLO first, after using the replicas their minimums pay for
anyway; prompts that a slow GPU cannot prefill inside the SLO must be served by
a pool that can (the gateway routes them there), so that share of the load is
placed only on such pools.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PoolCapacity:
    """One pool as placement sees it."""

    name: str
    capacity_rps: float
    """Usable requests/s per replica (learned capacity times target utilisation)."""
    cost_per_hour_usd: float
    min_replicas: int
    max_replicas: int
    serves_long: bool
    """Whether the GPU prefills the longest prompts inside the SLO."""

    @property
    def cost_per_request(self) -> float:
        return self.cost_per_hour_usd / (3600.0 * self.capacity_rps)


@dataclass(frozen=True)
class Placement:
    """Load (requests/s) per pool, and what fits nowhere."""

    load: dict[str, float]
    unplaced_rps: float


def load_of(replicas: int, staffing_beta: float) -> float:
    """The load R (in replicas' worth) that ``replicas`` n hold under square-root staffing.

    Solves R + beta*sqrt(R) = n.
    """
    if replicas <= 0:
        return 0.0
    root = (-staffing_beta + math.sqrt(staffing_beta**2 + 4.0 * replicas)) / 2.0
    return root * root


def place(
    pools: Sequence[PoolCapacity], demand_rps: float, long_share: float, staffing_beta: float = 0.0
) -> Placement:
    """Greedy cheapest-first placement of ``demand_rps``, ``long_share`` of it on long-capable pools.

    The minimum replicas are filled first up to the load they hold with the policy's
    safety staffing (``staffing_beta``), so that filling them never asks for more.
    """
    if not any(p.serves_long for p in pools):
        pools = [
            PoolCapacity(p.name, p.capacity_rps, p.cost_per_hour_usd, p.min_replicas, p.max_replicas, True)
            for p in pools
        ]
    load = {p.name: 0.0 for p in pools}
    long_left = max(0.0, demand_rps) * long_share
    short_left = max(0.0, demand_rps) - long_left

    def fill(left: float, candidates: Sequence[PoolCapacity], limit_of: dict[str, float]) -> float:
        for p in sorted(candidates, key=lambda p: (p.cost_per_request, p.name)):
            room = limit_of[p.name] - load[p.name]
            take = min(room, left)
            if take > 0:
                load[p.name] += take
                left -= take
        return left

    floors = {p.name: load_of(p.min_replicas, staffing_beta) * p.capacity_rps for p in pools}
    ceilings = {p.name: p.max_replicas * p.capacity_rps for p in pools}
    long_pools = [p for p in pools if p.serves_long]
    long_left = fill(long_left, long_pools, floors)
    short_left = fill(short_left, pools, floors)
    long_left = fill(long_left, long_pools, ceilings)
    short_left = fill(short_left, pools, ceilings)
    return Placement(load=load, unplaced_rps=long_left + short_left)
