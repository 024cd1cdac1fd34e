"""The base class of every model in the SeedCoderDeployment API.

Why one base: the CRD schema is generated from these models, so they must all
agree on field naming (camelCase on the wire, snake_case in Python), on refusing
unknown fields (the apiserver prunes them anyway; a typo in a test must fail) and
on immutability (a parsed spec is a value, never patched in place).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Frozen, camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def wire(self) -> dict[str, object]:
        """The Kubernetes (camelCase, no nulls) form of this model."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
