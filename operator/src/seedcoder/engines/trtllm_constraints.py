"""TensorRT-LLM's builder constraints as data, and the check every build plan passes.

Why: the TensorRT-LLM build cannot run here, so the flags the build program hands
it must be right by construction. ``trtllm_constraints.yaml`` (beside this module)
lists the flag combinations TensorRT-LLM's ``builder.py`` / ``BuildConfig``
validation and its attention plugin reject for the pinned version, each with its
source; :func:`violations` evaluates a plan's arguments against it. The build
program and the operator both refuse a plan that breaks a rule, and the tests run
every profile, precision and example through it.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from seedcoder.engines.key import EngineInputs
from seedcoder.engines.trtllm_args import TrtllmBuildArgs, trtllm_build_args

Scalar = str | int | bool | None


class Rule(BaseModel):
    """One rejected combination: when ``if_`` matches, ``then`` and ``then_le`` must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(min_length=1)
    if_: dict[str, tuple[Scalar, ...]] = Field(default_factory=dict, alias="if")
    then: dict[str, tuple[Scalar, ...]] = Field(default_factory=dict)
    then_le: tuple[tuple[str, str], ...] = ()
    message: str = Field(min_length=1, description="TensorRT-LLM's own words where it has them.")
    source: str = Field(min_length=1, description="Where in TensorRT-LLM the rule comes from.")
    spec_field: Literal["precision", "kvCacheReuse", "maxInputLen", "maxNumTokens"] = Field(
        description="The spec.engine field (or a pool's precision) that decides the flags of the rule."
    )

    @model_validator(mode="after")
    def _says_something(self) -> Rule:
        if not self.then and not self.then_le:
            raise ValueError(f"rule {self.id} requires nothing (no 'then' or 'then_le')")
        return self

    def fields(self) -> set[str]:
        return set(self.if_) | set(self.then) | {f for pair in self.then_le for f in pair}

    def broken_by(self, view: dict[str, Any]) -> bool:
        if not all(view[k] in allowed for k, allowed in self.if_.items()):
            return False
        if not all(view[k] in allowed for k, allowed in self.then.items()):
            return True
        return not all(view[a] <= view[b] for a, b in self.then_le)


class ConstraintTable(BaseModel):
    """The rules of one TensorRT-LLM version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trtllm_version: str
    rules: tuple[Rule, ...] = Field(min_length=1)


class Violation(BaseModel):
    """A rule a plan breaks."""

    model_config = ConfigDict(frozen=True)

    rule: str
    message: str
    source: str
    spec_field: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} ({self.source})"


def view(args: TrtllmBuildArgs, arch: str) -> dict[str, Any]:
    """The fields rules may name: the build arguments, the GPU arch and derived limits."""
    return {
        **args.model_dump(),
        "arch": arch,
        "max_tokens_in_batch": args.max_seq_len * args.max_batch_size,
    }


@cache
def load_table() -> ConstraintTable:
    """The packaged table (``trtllm_constraints.yaml``); unknown field names are an error."""
    text = resources.files("seedcoder.engines").joinpath("trtllm_constraints.yaml").read_text("utf-8")
    table = ConstraintTable.model_validate(yaml.safe_load(text))
    known = set(TrtllmBuildArgs.model_fields) | {"arch", "max_tokens_in_batch"}
    for rule in table.rules:
        if unknown := rule.fields() - known:
            raise ValueError(f"constraint {rule.id} names unknown fields {sorted(unknown)}")
    return table


def violations(args: TrtllmBuildArgs, arch: str, table: ConstraintTable | None = None) -> list[Violation]:
    """Every rule of ``table`` (default: the packaged one) that ``args`` on ``arch`` breaks."""
    table = table or load_table()
    v = view(args, arch)
    return [
        Violation(rule=r.id, message=r.message, source=r.source, spec_field=r.spec_field)
        for r in table.rules
        if r.broken_by(v)
    ]


class ConstraintError(ValueError):
    """A plan TensorRT-LLM would refuse; ``violations`` says which rules and which spec fields."""

    def __init__(self, message: str, broken: list[Violation]) -> None:
        super().__init__(message)
        self.violations = broken


def checked_trtllm_build_args(inputs: EngineInputs) -> TrtllmBuildArgs:
    """:func:`trtllm_build_args` of ``inputs``; ``ValueError`` naming every broken rule."""
    args = trtllm_build_args(inputs)
    if broken := violations(args, inputs.arch):
        raise ConstraintError(
            f"TensorRT-LLM {load_table().trtllm_version} would refuse this {inputs.precision} engine "
            f"for {inputs.arch}: " + "; ".join(str(v) for v in broken),
            broken,
        )
    return args
