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
* The metric label of a request is its adapter's name, ``base``, or ``other``
  (an adapter removed since); only names in the configuration ever become
  labels, so cardinality stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seedcoder.api.adapters import BASE, OTHER, AdapterConfig, adapter_model, split_model
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.backend import LoraSelection
from seedcoder.gateway.errors import NotFound
from seedcoder.gateway.routing import Pool


@dataclass(frozen=True, slots=True)
class Route:
    """The outcome of adapter routing for one request."""

    model: str  # the model id answered in responses
    adapter: AdapterConfig | None  # None: the base model

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

    def route(self, requested: str | None, team: str | None) -> Route:
        """The adapter for a request naming ``requested`` (None: the base) from ``team``."""
        base, adapter = split_model(requested if requested is not None else self.model)
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

    def serves(self, adapter: AdapterConfig | None, pool: str) -> bool:
        """Whether ``pool`` can apply ``adapter`` (every pool serves the base)."""
        if adapter is None:
            return True
        if adapter.pools and pool not in adapter.pools:
            return False
        runtime = self._runtime.get(pool)
        return runtime is not None and adapter.serves_runtime(runtime)

    def pools_for(self, adapter: AdapterConfig | None, pools: Sequence[Pool]) -> list[Pool]:
        return [p for p in pools if self.serves(adapter, p.name)]

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
