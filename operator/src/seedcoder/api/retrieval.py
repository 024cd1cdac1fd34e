"""Retrieval of the company's own code and docs: the ``spec.retrieval`` API and the gateway's settings.

Why a section of ``SeedCoderDeployment`` and not a resource of its own: the index
exists for one gateway, is written to a claim that gateway mounts, and follows
its lifecycle (deleted with it); a platform team writes it next to the
``gateway`` section it feeds. The operator runs the indexing program as a
CronJob (``schedule``) plus one Job whenever the sources change, and copies the
last run's summary (time, documents, chunks, errors) into ``status.retrieval``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from seedcoder.api._base import ApiModel
from seedcoder.api.fields import DNS_LABEL, Cidr, rules
from seedcoder.api.model import ClaimRef, SecretRef

GlobPattern = Annotated[str, Field(min_length=1, max_length=256)]
_GLOBS_DOC = (
    "Shell-style globs matched against paths inside the source (``**`` crosses folders). "
    "A file is indexed when it matches an include glob (none given: every file of a supported "
    "language) and no exclude glob."
)


class GitSource(ApiModel):
    """A Git repository inside the VPC, cloned (shallow, one branch) at every index run."""

    name: str = Field(
        max_length=63, pattern=DNS_LABEL, description="Source name; prefixes every path in prompts."
    )
    url: str = Field(
        max_length=1024,
        pattern=r"^(https?|git)://[^\s]+$",
        description="Clone URL (https://, http:// or git://) of a host reachable from the cluster.",
    )
    branch: str = Field(default="main", max_length=255, description="Branch or tag to index.")
    credentials_secret_ref: SecretRef | None = Field(
        default=None,
        description=(
            "Secret with keys `username` and `password` (a token works as the password) for HTTP(S) "
            "basic authentication; never written to logs or the index."
        ),
    )
    include: list[GlobPattern] = Field(default_factory=list, max_length=64, description=_GLOBS_DOC)
    exclude: list[GlobPattern] = Field(default_factory=list, max_length=64, description=_GLOBS_DOC)


class DocsSource(ApiModel):
    """A folder of documentation on a claim: Markdown, reStructuredText, OpenAPI (YAML or JSON), code."""

    name: str = Field(
        max_length=63, pattern=DNS_LABEL, description="Source name; prefixes every path in prompts."
    )
    pvc: ClaimRef = Field(description="Claim holding the folder (mounted read-only by the indexing pod).")
    path: str = Field(
        default="",
        max_length=1024,
        pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$",
        json_schema_extra=rules({"rule": "!self.split('/').exists(p, p == '..')", "message": "no '..'"}),
        description="Folder inside the claim (relative, no '..'); empty: the claim's root.",
    )
    include: list[GlobPattern] = Field(default_factory=list, max_length=64, description=_GLOBS_DOC)
    exclude: list[GlobPattern] = Field(default_factory=list, max_length=64, description=_GLOBS_DOC)


class RetrievalSources(ApiModel):
    git: list[GitSource] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="Git repositories to index.",
    )
    docs: list[DocsSource] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
        description="Documentation folders on claims to index.",
    )


class RetrievalPrompt(ApiModel):
    """How retrieved chunks share the prompt with the code around the cursor."""

    max_chunks: int = Field(default=4, ge=1, le=32, description="Most chunks added to one prompt.")
    budget_percent: int = Field(
        default=25,
        ge=1,
        le=90,
        description=(
            "Share of the prompt's token budget that retrieved chunks may take; the rest is kept for "
            "the code around the cursor (and IDE-sent files)."
        ),
    )


class RetrievalSpec(ApiModel):
    """Index the company's own repositories and docs and put the relevant pieces into each prompt."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            {
                "rule": "size(self.sources.git) + size(self.sources.docs) > 0",
                "message": "retrieval needs at least one source (sources.git or sources.docs)",
                "fieldPath": ".sources",
            },
            {
                "rule": "!has(self.sources.docs) || !self.sources.docs.exists(d, "
                "self.sources.git.exists(g, g.name == d.name))",
                "message": "source names must be unique across git and docs",
                "fieldPath": ".sources",
            },
        )
    )

    index: ClaimRef = Field(
        description=(
            "Claim the index is written to (by the indexing pods) and read from (by every gateway "
            "replica, read-only). ReadWriteMany when the gateway runs on more than one node."
        )
    )
    sources: RetrievalSources = Field(description="What to index.")
    schedule: str = Field(
        default="0 */6 * * *",
        max_length=100,
        description="Cron schedule of the refresh (the CronJob's schedule, in the controller's time zone).",
    )
    suspend: bool = Field(default=False, description="Pause scheduled refreshes (the index stays served).")
    source_cidrs: list[Cidr] = Field(
        alias="sourceCIDRs",
        default_factory=list,
        max_length=16,
        description=(
            "Address ranges of the Git hosts; the indexing pods may reach only these (and DNS). "
            "Empty: no egress besides DNS (docs sources alone need none)."
        ),
    )
    prompt: RetrievalPrompt = Field(
        default_factory=RetrievalPrompt,
        json_schema_extra={"default": {}},
        description="How retrieved chunks share the prompt.",
    )


class RetrievalStatus(ApiModel):
    """The last indexing run, as the indexing pod reported it."""

    state: Literal["Pending", "Indexed", "Failed"] = Field(
        default="Pending",
        description="Pending (no run finished yet), Indexed (the last run published) or Failed.",
    )
    last_index_time: str | None = Field(
        default=None, max_length=64, description="When the index the gateway serves was built (RFC 3339)."
    )
    documents: int = Field(default=0, ge=0, description="Files indexed by the last run.")
    chunks: int = Field(default=0, ge=0, description="Chunks (definitions and doc sections) in the index.")
    errors: list[Annotated[str, Field(max_length=512)]] = Field(
        default_factory=list,
        max_length=20,
        description="Problems of the last run (e.g. a source that failed).",
    )
    job: str | None = Field(default=None, max_length=253, description="The Job whose run this reports.")


# ---------------------------------------------------------------------------- gateway side


class RetrievalConfig(BaseModel):
    """The gateway's retrieval settings (in ``gateway.json``; absent: no retrieval)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index_dir: str = Field(description="Index root (the claim's mount): holds CURRENT and builds/.")
    max_chunks: int = Field(default=4, ge=0, le=32, description="Most chunks added to one prompt.")
    candidates: int = Field(default=8, ge=1, le=100, description="Hits fetched before deduplication.")
    budget_fraction: float = Field(
        default=0.25, gt=0, lt=1, description="Share of the prompt token budget for retrieved chunks."
    )
    bytes_per_token: float = Field(
        default=3.0,
        gt=0,
        description="Estimate used to size the retrieved share before tokens are counted (code: ~3-4).",
    )
    reload_s: float = Field(
        default=10.0, gt=0, description="How often a newly published index is looked for."
    )


__all__ = [
    "DocsSource",
    "GitSource",
    "RetrievalConfig",
    "RetrievalPrompt",
    "RetrievalSources",
    "RetrievalSpec",
    "RetrievalStatus",
]
