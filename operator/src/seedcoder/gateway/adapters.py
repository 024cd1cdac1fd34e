"""Which LoRA adapter serves a request: by the ``model`` it names, else by its API key's team.

Why one module: routing (``<model>:<adapter>`` or a team's default), listing
(``/v1/models``), the pools an adapter can run on, what each runtime's Triton
model is told (:class:`LoraSelection`) and the metric label all read the
gateway configuration's ``adapters`` section (``seedcoder.api.adapters``), and
must agree. The rules:

* ``model`` is the base id: the caller's team's *published* adapter, if any,
  else the base model; ``<model>:base``: the base model, whatever the team;
  ``<model>:<name>``: that adapter (published or a candidate under evaluation),
  else 404 ``model_not_found`` naming it; any other model id: 404.
* ``<model>@<pool>`` / ``<model>:<adapter>@<pool>`` (the pool part last) pins
  the request to that configured pool (:meth:`AdapterRouter.pools_for`): it
  goes there or fails (503 when the pool is down or cannot apply the adapter;
  no fallback, since a pin exists to measure that pool), and the response's
  ``model`` echoes the pinned id, so the response cache (keyed by it) never
  serves one pool's answer for another. A pool nobody configured: 404
  ``model_not_found`` naming it and the configured pools; an empty pool name: 400.
  The adapter part is routed as above (a team's default adapter still applies).
* A *candidate* pool (``PoolEndpoint.candidate``: the canary of an engine the
  engine quality gate is scoring against the serving one through this gateway)
  takes pinned requests only; unpinned traffic never reaches it. Neither
  candidates nor pinned ids are listed in ``/v1/models``.
* The metric label of a request is its adapter's name, ``base``, or ``other``
  (an adapter removed since); only names in the configuration ever become
  labels, so cardinality stays bounded. Metrics labelled by the answered model
  id see pinned ids too, but only for configured pools and adapters (unknown
  ones are rejected before any metric is touched), so those stay bounded as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedcoder.api.adapters import (
    BASE,
    OTHER,
    POOL_SEPARATOR,
    AdapterConfig,
    adapter_model,
    pool_model,
    split_model,
    split_pool,
)
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.backend import LoraSelection
from seedcoder.gateway.errors import InvalidRequest, NotFound
from seedcoder.gateway.routing import Pool


@dataclass(frozen=True, slots=True)
class Route:
    """The outcome of adapter routing for one request."""

    model: str  # the model id answered in responses (with its '@<pool>' when pinned)
    adapter: AdapterConfig | None  # None: the base model
    pool: str | None = None  # the one pool a pinned request may go to; None: any non-candidate pool

    @property
    def label(self) -> str:
        return self.adapter.name if self.adapter is not None else BASE


class AdapterRouter:
    """The adapters of one gateway configuration, indexed for routing."""

    def __init__(self, cfg: GatewayConfig) -> None:
        self.model = cfg.model_name
        self._by_name = {a.name: a for a in cfg.adapters}
        self._by_team = {t: a for a in cfg.adapters if a.published for t in a.teams}
        self._runtime = {p.name: p.runtime for p in cfg.pools}
        self._candidates = frozenset(p.name for p in cfg.pools if p.candidate)

    def route(self, requested: str | None, team: str | None) -> Route:
        """The adapter (and the pinned pool, if any) for a request naming ``requested`` (None: the base)
        from ``team``."""
        rest, pool = split_pool(requested if requested is not None else self.model)
        route = self._route(requested, rest, team)
        if pool is None:
            return route
        configured = ", ".join(self._runtime)
        if not pool:
            raise InvalidRequest(
                f"The model '{requested}' names an empty pool after '{POOL_SEPARATOR}'; "
                f"pin a pool with '{self.model}{POOL_SEPARATOR}<pool>' (configured pools: {configured})",
                param="model",
                code="invalid_pool",
            )
        if pool not in self._runtime:
            raise NotFound(
                f"The pool '{pool}' of model '{self.model}' does not exist (configured pools: {configured})",
                param="model",
                code="model_not_found",
            )
        return Route(pool_model(route.model, pool), route.adapter, pool)

    def _route(self, requested: str | None, name: str, team: str | None) -> Route:
        base, adapter = split_model(name)
        if base != self.model:
            raise NotFound(
                f"The model '{requested}' does not exist; this gateway serves '{self.model}'",
                param="model",
                code="model_not_found",
            )
        if adapter is None:
            chosen = self._by_team.get(team) if team is not None else None
            return Route(self.model if chosen is None else adapter_model(self.model, chosen.name), chosen)
        if adapter == BASE:
            return Route(self.model, None)
        found = self._by_name.get(adapter)
        if found is None:
            listed = ", ".join(sorted(a for a, c in self._by_name.items() if c.published)) or "none"
            raise NotFound(
                f"The adapter '{adapter}' of model '{self.model}' does not exist "
                f"(published adapters: {listed})",
                param="model",
                code="model_not_found",
            )
        return Route(adapter_model(self.model, found.name), found)

    def label_for(self, adapter_name: str | None) -> str:
        """The metric label of ``adapter_name``: its name, ``base`` for None, ``other`` for a name no
        longer configured (rolled back since it answered): only configured names become labels."""
        if adapter_name is None or adapter_name == BASE:
            return BASE
        return adapter_name if adapter_name in self._by_name else OTHER

    def label_of(self, model: str) -> str:
        """The metric label of an answered model id (``<model>[:<adapter>][@<pool>]``)."""
        return self.label_for(split_model(split_pool(model)[0])[1])

    def serves(self, adapter: AdapterConfig | None, pool: str) -> bool:
        """Whether ``pool`` can apply ``adapter`` (every pool serves the base)."""
        if adapter is None:
            return True
        if adapter.pools and pool not in adapter.pools:
            return False
        runtime = self._runtime.get(pool)
        return runtime is not None and adapter.serves_runtime(runtime)

    def pools_for(
        self, adapter: AdapterConfig | None, pools: Sequence[Pool], pinned: str | None = None
    ) -> list[Pool]:
        """The pools that may serve a request for ``adapter``: the ``pinned`` one only, else every pool
        that is not a candidate; of those, the ones that can apply the adapter."""
        return [p for p in self.traffic_pools(pools, pinned) if self.serves(adapter, p.name)]

    def traffic_pools(self, pools: Sequence[Pool], pinned: str | None = None) -> list[Pool]:
        """``pinned`` alone when set, else every pool but the candidates (whatever the adapter)."""
        if pinned is not None:
            return [p for p in pools if p.name == pinned]
        return [p for p in pools if p.name not in self._candidates]

    def is_candidate(self, pool: str) -> bool:
        return pool in self._candidates

    def selection(self, adapter: AdapterConfig | None, pool: str) -> LoraSelection | None:
        """What ``pool``'s model is sent for ``adapter`` (None for the base)."""
        if adapter is None:
            return None
        if self._runtime.get(pool) == "tensorrt-llm" and adapter.trtllm is not None:
            t = adapter.trtllm
            return LoraSelection(adapter.name, t.weights, adapter.scale, t.task_id)
        if adapter.gguf is None:
            raise ValueError(f"pool {pool!r} cannot serve adapter {adapter.name!r}")
        return LoraSelection(adapter.name, adapter.gguf, adapter.scale)

    def listing(self, created: int) -> list[dict[str, object]]:
        """``/v1/models`` entries: the base model, then every published adapter (``parent``: the base)."""
        data: list[dict[str, object]] = [
            {"id": self.model, "object": "model", "created": created, "owned_by": "seedcoder"}
        ]
        for a in sorted(self._by_name.values(), key=lambda a: a.name):
            if a.published:
                data.append(
                    {
                        "id": adapter_model(self.model, a.name),
                        "object": "model",
                        "created": a.created or created,
                        "owned_by": "seedcoder",
                        "parent": self.model,
                        "root": self.model,
                    }
                )
        return data
