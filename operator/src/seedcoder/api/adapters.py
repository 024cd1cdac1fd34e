"""Served LoRA adapters: the section of the gateway configuration the operator writes on publish.

Why here: the operator (writer: it adds an adapter once the gate passed it, and
removes it on rollback) and the gateway (reader: it routes, lists and counts
per adapter) must agree on one schema without importing each other, so it lives
in the pure ``api`` layer beside :mod:`seedcoder.api.gateway_config`.

Naming, in one place: a client asks for an adapter with the model id
``<model>:<adapter>`` (:data:`SEPARATOR`), e.g. ``seed-coder-8b-base:payments``.
Adapter names are DNS labels, so they are safe as Prometheus label values and
file names; ``base`` (the base model's metric label) and ``other`` (the label of
feedback for an adapter no longer configured) are reserved.

Pinning, in the same place: ``<model>@<pool>`` (:data:`POOL_SEPARATOR`), or
``<model>:<adapter>@<pool>`` (the pool part always last), sends the request to
that one pool of the gateway configuration and nowhere else, e.g.
``seed-coder-8b-base@h100-fp8``. The engine quality gate uses it to score the
pool's serving engine and a *candidate* pool (``PoolEndpoint.candidate``: the
canary of a new engine, which ordinary traffic never reaches) on the same tasks
through the real gateway.

Teams: an API key's team is the name of its file in the mounted key Secret up
to the first ``.`` (``payments.alice`` and ``payments.ci`` are both team
``payments``; see ``gateway.auth``). A request for the plain base model from a
team that a *published* adapter lists is served by that adapter; asking for
``<model>:base`` always reaches the base model.

Per runtime, what the pool's Triton model needs to select the adapter:

* llama.cpp pools: ``gguf``, the GGUF LoRA file relative to the adapter folder
  the pool's model mounts (its ``lora_dir`` parameter); the model loads it once
  and applies it to the requests that name it.
* TensorRT-LLM pools (engine built with the LoRA plugin): ``trtllm.task_id``,
  the adapter's id in TensorRT-LLM's LoRA cache, and ``trtllm.weights``, the
  folder (relative to ``lora_dir``) with ``model.lora_weights.npy`` and
  ``model.lora_config.npy`` that the model sends with the task's first request.

An adapter is served by the pools whose runtime it has files for (and, if
``pools`` is set, only by those); a request for it never lands on a pool that
cannot apply it.
"""

from __future__ import annotations

import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SEPARATOR: Final = ":"
"""Between the model id and the adapter name in a request's ``model``."""
POOL_SEPARATOR: Final = "@"
"""Before the pool name that pins a request to one pool, last in a request's ``model``."""
BASE: Final = "base"
"""Reserved adapter name: the base model (its metric label, and ``<model>:base``)."""
OTHER: Final = "other"
"""Reserved metric label: an adapter no longer configured (feedback arriving after a rollback)."""
RESERVED: Final = (BASE, OTHER)
ADAPTER_NAME: Final = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_NAME = re.compile(ADAPTER_NAME)
_MAX_TASK_ID: Final = 2**63 - 1


def _relative(path: str, field: str) -> str:
    parts = path.split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{field} {path!r} must be a relative path without '.', '..' or empty parts")
    return path


class TrtllmLora(BaseModel):
    """How a TensorRT-LLM pool serves the adapter (its engine was built with the LoRA plugin)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: int = Field(
        ge=1,
        le=_MAX_TASK_ID,
        description="The adapter's id in TensorRT-LLM's LoRA cache (lora_task_id); unique per adapter.",
    )
    weights: str = Field(
        min_length=1,
        max_length=1024,
        description=(
            "Folder, relative to the pool model's lora_dir, holding model.lora_weights.npy and "
            "model.lora_config.npy (TensorRT-LLM's converted LoRA format), sent on the task's first use."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> TrtllmLora:
        _relative(self.weights, "trtllm.weights")
        return self


class AdapterConfig(BaseModel):
    """One LoRA adapter the gateway may route to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=ADAPTER_NAME,
        description="Served as '<model>:<name>' (a DNS label; 'base' is reserved).",
    )
    published: bool = Field(
        default=True,
        description=(
            "Published adapters are listed in /v1/models and serve their teams by default; an "
            "unpublished one (a candidate under evaluation) answers only when asked for by name."
        ),
    )
    teams: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="API key teams whose requests for the base model go to this adapter.",
    )
    gguf: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="llama.cpp pools: the GGUF LoRA file, relative to the pool model's lora_dir.",
    )
    trtllm: TrtllmLora | None = Field(default=None, description="TensorRT-LLM pools: task id and weights.")
    scale: float = Field(default=1.0, gt=0, le=4, description="LoRA scale applied by llama.cpp pools.")
    pools: list[str] = Field(
        default_factory=list, description="Only these pools serve it (default: every pool that can)."
    )
    created: int = Field(default=0, ge=0, description="Unix time of publication (listed in /v1/models).")

    @model_validator(mode="after")
    def _check(self) -> AdapterConfig:
        if self.name in RESERVED:
            raise ValueError(
                f"adapter name {self.name!r} is reserved ({BASE}: the base model, {OTHER}: metrics)"
            )
        if self.gguf is None and self.trtllm is None:
            raise ValueError(f"adapter {self.name!r} has neither 'gguf' nor 'trtllm': no pool can serve it")
        if self.gguf is not None:
            _relative(self.gguf, f"adapter {self.name!r} gguf")
        for team in self.teams:
            if not team or "." in team or len(team) > 63:
                raise ValueError(f"adapter {self.name!r} team {team!r} must be 1-63 characters without '.'")
        return self

    def serves_runtime(self, runtime: Literal["tensorrt-llm", "llamacpp"]) -> bool:
        return (self.gguf if runtime == "llamacpp" else self.trtllm) is not None


def check_adapters(adapters: list[AdapterConfig], pool_names: list[str]) -> None:
    """Cross-adapter rules: unique names, one task id per set of weights, one published adapter per team,
    known pools."""
    seen: dict[str, str] = {}
    task_ids: dict[int, AdapterConfig] = {}
    teams: dict[str, str] = {}
    for a in adapters:
        if a.name in seen:
            raise ValueError(f"adapter {a.name!r} is listed twice")
        seen[a.name] = a.name
        if a.trtllm is not None:  # one id may name one set of weights (under two names: staged, published)
            first = task_ids.setdefault(a.trtllm.task_id, a)
            if first.trtllm is not None and first.trtllm.weights != a.trtllm.weights:
                raise ValueError(
                    f"adapters {first.name!r} and {a.name!r} share trtllm.task_id {a.trtllm.task_id} "
                    "for different weights"
                )
        for pool in a.pools:
            if pool not in pool_names:
                raise ValueError(f"adapter {a.name!r} names pool {pool!r}, which the gateway does not know")
        if a.published:
            for team in a.teams:
                other = teams.setdefault(team, a.name)
                if other != a.name:
                    raise ValueError(
                        f"team {team!r} is given to two published adapters: {other!r}, {a.name!r}"
                    )


def split_model(model: str) -> tuple[str, str | None]:
    """``'m:a'`` -> ``('m', 'a')``; ``'m'`` -> ``('m', None)`` (the adapter part unchecked)."""
    base, sep, adapter = model.partition(SEPARATOR)
    return (base, adapter) if sep else (model, None)


def split_pool(model: str) -> tuple[str, str | None]:
    """``'m:a@p'`` -> ``('m:a', 'p')``; ``'m'`` -> ``('m', None)``; ``'m@'`` -> ``('m', '')`` (the pool
    part, after the last :data:`POOL_SEPARATOR`, unchecked: an empty one is the caller's error to name)."""
    rest, sep, pool = model.rpartition(POOL_SEPARATOR)
    return (rest, pool) if sep else (model, None)


def pool_model(model: str, pool: str) -> str:
    """The model id that pins ``model`` (the base or ``<model>:<adapter>``) to ``pool``."""
    return f"{model}{POOL_SEPARATOR}{pool}"


def adapter_model(model: str, adapter: str) -> str:
    """The model id that asks for ``adapter`` of ``model``."""
    return f"{model}{SEPARATOR}{adapter}"


def valid_adapter_name(name: str) -> bool:
    return bool(_NAME.match(name)) and name not in RESERVED
