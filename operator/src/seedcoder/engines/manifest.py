"""The manifest written beside every engine: what it is, what made it, how long it took.

Why: an engine only runs where its inputs match (GPU arch, TensorRT version); the
manifest records them with the weights' checksums, sizes and stage timings, so a
serving pod, an operator or a person can tell what is in the cache. Written last:
its presence marks the artifact complete (see ``artifact``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from seedcoder.engines.key import EngineInputs
from seedcoder.engines.report import ManifestSummary


class WeightFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    bytes: int
    sha256: str


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = 1
    key: str
    gpu: str
    inputs: EngineInputs
    source: str = Field(description="Where the weights came from (kind:location).")
    weights: list[WeightFile]
    engine_bytes: int
    repository_models: list[str]
    stage_seconds: dict[str, float]
    build_seconds: float
    created_at: str = Field(description="UTC, ISO 8601.")
    executed_on: str = Field(description="Host that built it (its node name in a cluster).")

    def summary(self, *, reused: bool = False) -> ManifestSummary:
        i = self.inputs
        version = (i.trtllm_version if i.runtime == "tensorrt-llm" else i.llamacpp_version) or "unknown"
        return ManifestSummary(
            precision=i.precision,
            arch=i.arch,
            runtime_version=version,
            engine_bytes=self.engine_bytes,
            build_seconds=self.build_seconds,
            reused=reused,
        )
