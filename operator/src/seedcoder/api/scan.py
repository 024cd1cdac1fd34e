"""``spec.gateway.scan``: how the gateway scans generated code before it reaches the IDE.

Why one model for the CRD and the gateway file: the operator copies the section
as it is into ``gateway.json``, so the schema ``kubectl explain`` shows and the
settings the gateway obeys are the same fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from seedcoder.api._base import ApiModel

ScanPolicy = Literal["off", "annotate", "block"]
ApiName = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[@A-Za-z0-9_$./*?\[\]-]+$")]
RuleName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9.-]+$")]


class ScanSpec(ApiModel):
    """Static analysis of every completion candidate before any of its text leaves the gateway."""

    policy: ScanPolicy = Field(
        default="annotate",
        description=(
            "off: no scanning. annotate: findings are returned in the response's `seedcoder.scan` field "
            "and counted. block: a flagged candidate is dropped and the next-ranked clean one is returned; "
            "with none clean the choice has no text and finish_reason `content_filter`. Streamed, a line is "
            "sent only once it is clean in context."
        ),
    )
    allow_modules: list[ApiName] = Field(
        default_factory=list,
        max_length=256,
        description=(
            "When set, generated code may import or call only these modules (and their sub-modules): "
            "dotted names (`internal.http`), Java packages, Go import paths (`net/http`), npm names."
        ),
    )
    deny_modules: list[ApiName] = Field(
        default_factory=list,
        max_length=256,
        description="Modules generated code may never import or call (e.g. `requests`, `child_process`).",
    )
    deny_calls: list[ApiName] = Field(
        default_factory=list,
        max_length=256,
        description=(
            "Calls generated code may never make, resolved through the file's imports; shell-style "
            "patterns (`os.system`, `subprocess.*`, `net/http.Get`)."
        ),
    )
    disabled_rules: list[RuleName] = Field(
        default_factory=list,
        max_length=128,
        description="Rule ids (`py.weak-hash`) or rule classes (`weak-crypto`) not to apply.",
    )
    deep_scan: bool = Field(
        default=True,
        description=(
            "Scan accepted and edited completions again off the request path (Bandit, Semgrep with the "
            "project's rules when installed, every fast rule on the whole file); results are stored beside "
            "the feedback data set and counted."
        ),
    )
    scrub_feedback: bool = Field(
        default=True,
        description="Replace credentials, keys and tokens in stored feedback by typed placeholders.",
    )
