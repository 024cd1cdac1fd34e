"""SLO autoscaling policy for Seed-Coder serving pools (pure: no Kubernetes, no I/O).

Why a package of its own: the operator and the benchmark simulator must run the
same decision code, and it must be testable without a cluster. Call
:func:`decide` with the pools, one :class:`PoolObservation` per pool, the last
:class:`PolicyState` and the time; keep the returned state for the next call.
"""

from seedcoder.autoscaler.models import (
    PolicyConfig,
    PolicyPool,
    PolicyResult,
    PolicyState,
    PoolDecision,
    PoolObservation,
    PoolState,
)
from seedcoder.autoscaler.policy import decide, due
from seedcoder.autoscaler.priors import CapacityPrior, prior_for

__all__ = [
    "CapacityPrior",
    "PolicyConfig",
    "PolicyPool",
    "PolicyResult",
    "PolicyState",
    "PoolDecision",
    "PoolObservation",
    "PoolState",
    "decide",
    "due",
    "prior_for",
]
