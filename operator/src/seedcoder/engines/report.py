"""Progress and result of an engine build, in the one form the operator reads back.

Why: the build Job has no Kubernetes API rights, so it cannot patch the resource's
status. It prints one JSON line per progress step on stdout (for ``kubectl logs``)
and writes the latest report to its termination-message file; when the pod ends
the kubelet copies that file into ``status.containerStatuses[].state.terminated.message``,
where the operator finds it and copies stage, percent and result into
``status.engines``. The kubelet keeps at most 4096 bytes, so a report is kept short.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BuildState = Literal["Running", "Succeeded", "Failed"]
Stage = Literal["plan", "fetch", "verify", "quantize", "build", "repository", "manifest", "publish", "done"]

TERMINATION_MESSAGE_LIMIT = 4096
"""Bytes the kubelet keeps of a termination message."""
_MESSAGE_LIMIT = 1500


class ManifestSummary(BaseModel):
    """The few manifest facts the operator shows in status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    precision: str
    arch: str
    runtime_version: str = Field(description="TensorRT-LLM (or llama.cpp) version that built the engine.")
    engine_bytes: int = Field(ge=0)
    build_seconds: float = Field(ge=0)
    reused: bool = Field(default=False, description="True when a complete engine was already in the cache.")


class BuildReport(BaseModel):
    """One progress step or the final result of a build."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["seedcoder.engine-build"] = "seedcoder.engine-build"
    key: str
    state: BuildState
    stage: Stage
    percent: int = Field(ge=0, le=100)
    message: str = ""
    manifest: ManifestSummary | None = None

    def to_line(self) -> str:
        """One compact JSON line, at most 4096 bytes (the message is shortened if needed)."""
        report = self
        if len(self.message) > _MESSAGE_LIMIT:
            report = self.model_copy(update={"message": self.message[: _MESSAGE_LIMIT - 3] + "..."})
        line = json.dumps(report.model_dump(mode="json", exclude_none=True), separators=(",", ":"))
        if len(line.encode("utf-8")) > TERMINATION_MESSAGE_LIMIT:  # only a pathological key/stage could
            raise ValueError("a build report does not fit a termination message")
        return line


def parse_termination_message(text: str | None) -> BuildReport | None:
    """The last build report in ``text`` (a termination message or log tail), or ``None``.

    Tolerates surrounding log lines: with ``terminationMessagePolicy:
    FallbackToLogsOnError`` the kubelet puts the log's tail there instead.
    """
    if not text:
        return None
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or data.get("kind") != "seedcoder.engine-build":
            continue
        try:
            return BuildReport.model_validate(data)
        except ValidationError:
            continue
    return None
