"""The SeedCoderDeployment resource as a whole, and its API coordinates.

Why: the operator parses each watched object into :class:`SeedCoderDeployment`
exactly once per reconcile; the identity fields it needs (namespace, name, uid,
generation) are typed here so business code never reads raw dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.api.status import SeedCoderDeploymentStatus

GROUP: Final = "seedcoder.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "SeedCoderDeployment"
PLURAL: Final = "seedcoderdeployments"
SINGULAR: Final = "seedcoderdeployment"
SHORT_NAMES: Final = ("scd",)
CATEGORIES: Final = ("seedcoder", "all")
MAX_NAME_LENGTH: Final = 40
"""Leaves room for the longest child name suffix within a 63-character DNS label."""


class ObjectMeta(BaseModel):
    """The metadata the operator uses (others are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str
    namespace: str
    uid: str
    generation: int = 0
    resource_version: str = Field(default="", alias="resourceVersion")
    labels: dict[str, str] = Field(default_factory=dict)
    deletion_timestamp: str | None = Field(default=None, alias="deletionTimestamp")


class SeedCoderDeployment(BaseModel):
    """One parsed SeedCoderDeployment."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    metadata: ObjectMeta
    spec: SeedCoderDeploymentSpec
    status: SeedCoderDeploymentStatus = Field(default_factory=SeedCoderDeploymentStatus)

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> SeedCoderDeployment:
        """Parse a Kubernetes object (a dict or Kopf body); raises pydantic.ValidationError for a bad spec.

        A status this version cannot read (written by an older operator) counts as
        empty: the reconcile recomputes the whole status anyway.
        """
        try:
            status = SeedCoderDeploymentStatus.model_validate(dict(body.get("status") or {}))
        except ValidationError:
            status = SeedCoderDeploymentStatus()
        return cls.model_validate(
            {"metadata": dict(body["metadata"]), "spec": dict(body["spec"]), "status": status}
        )

    def owner_reference(self, *, controller: bool = True) -> dict[str, object]:
        """An ownerReference to this resource (GC deletes owned objects with it)."""
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": self.metadata.name,
            "uid": self.metadata.uid,
            "controller": controller,
            "blockOwnerDeletion": True,
        }
