"""The wire formats the gateway accepts: OpenAI completions, llama.cpp infill, feedback.

Why pydantic models here: request bodies are validated once, at the boundary,
straight from bytes (``model_validate_json`` also rejects invalid UTF-8), and the
same models generate the OpenAPI document. Unknown fields are rejected on the
OpenAI endpoint (as OpenAI does: "Unrecognized request argument") and ignored on
``/infill`` (llama.cpp ignores them and llama.vscode sends many).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Number = StrictInt | StrictFloat
MAX_STOP_WORDS = 64
"""Real clients send long stop lists (Continue: a dozen); OpenAI's own limit of 4 is not copied."""
StopList = Annotated[list[Annotated[StrictStr, Field(max_length=256)]], Field(max_length=MAX_STOP_WORDS)]
StopField = StrictStr | StopList | None


class SeedcoderOptions(BaseModel):
    """The ``seedcoder`` extension object of a completion request."""

    model_config = ConfigDict(extra="forbid")

    stop_at_block_end: StrictBool = Field(
        default=False, description="Cut the completion where the code block it started in ends."
    )


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: StrictBool = False


class CompletionRequest(BaseModel):
    """OpenAI ``POST /v1/completions``; ``suffix`` makes it fill-in-the-middle."""

    model_config = ConfigDict(extra="forbid")

    model: StrictStr = Field(min_length=1, max_length=256)
    prompt: StrictStr | Annotated[list[StrictStr], Field(min_length=1, max_length=1)] = Field(
        description="The code before the cursor (a string, or a list of exactly one string)."
    )
    suffix: StrictStr | None = Field(default=None, description="The code after the cursor (enables FIM).")
    max_tokens: StrictInt | None = Field(
        default=16, ge=1, description="Clamped to the gateway's limit (as OpenAI-compatible servers do)."
    )
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, gt=0, le=1)
    n: StrictInt | None = Field(default=1, ge=1, description="Candidates; at most the gateway's limit.")
    stop: StopField = None
    stream: StrictBool | None = False
    stream_options: StreamOptions | None = None
    seed: StrictInt | None = Field(default=None, ge=0, lt=2**63)
    top_k: StrictInt | None = Field(default=None, ge=-1, description="vLLM extension; 0 or -1 disables it.")
    min_p: Number | None = Field(default=None, ge=0, le=1, description="vLLM extension; 0 disables it.")
    repetition_penalty: Number | None = Field(
        default=None, gt=0, le=2, description="vLLM extension; 1 disables it."
    )
    user: StrictStr | None = Field(default=None, max_length=256)
    echo: StrictBool | None = Field(default=False, description="Only false is supported.")
    logprobs: StrictInt | None = Field(default=None, description="Only null is supported.")
    best_of: StrictInt | None = Field(default=None, ge=1, description="Only null or equal to n.")
    presence_penalty: Number | None = Field(default=None, ge=-2, le=2, description="Only 0 is supported.")
    frequency_penalty: Number | None = Field(default=None, ge=-2, le=2, description="Only 0 is supported.")
    logit_bias: dict[str, Number] | None = Field(default=None, description="Only empty is supported.")
    seedcoder: SeedcoderOptions | None = Field(default=None, description="Gateway extensions.")


class InfillExtra(BaseModel):
    model_config = ConfigDict(extra="ignore")

    filename: StrictStr = Field(default="", max_length=1024)
    text: StrictStr


class InfillRequest(BaseModel):
    """llama.cpp ``POST /infill`` as llama.vscode sends it (the subset that matters here)."""

    model_config = ConfigDict(extra="ignore")

    input_prefix: StrictStr = ""
    input_suffix: StrictStr = ""
    input_extra: Annotated[list[InfillExtra], Field(max_length=64)] = Field(default_factory=list)
    prompt: StrictStr = Field(default="", description="Text appended to input_prefix (the cursor line).")
    n_predict: StrictInt = Field(
        default=64,
        ge=-1,
        description="-1: the gateway's limit; 0: a cache warm-up (no tokens); larger values are clamped.",
    )
    n_indent: StrictInt = Field(
        default=0, ge=0, le=1024, description="Stop at a later line indented less than this many spaces."
    )
    temperature: Number | None = Field(default=None, ge=0, le=2)
    top_p: Number | None = Field(default=None, gt=0, le=1)
    top_k: StrictInt | None = Field(default=None, ge=0)
    seed: StrictInt | None = Field(default=None, ge=-1, lt=2**63)
    min_p: Number | None = Field(default=None, ge=0, le=1)
    repeat_penalty: Number | None = Field(default=None, gt=0, le=2, description="llama.cpp's name.")
    stop: StopList = Field(default_factory=list)
    stream: StrictBool = False
    stop_at_block_end: StrictBool = False


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: what the user did with a completion."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(min_length=1, max_length=128, description="The completion's id.")
    outcome: Literal["accepted", "rejected", "edited"]
    choice_index: StrictInt = Field(default=0, ge=0, le=64)
    edited_text: StrictStr | None = Field(
        default=None, max_length=65536, description="The text kept after editing."
    )
    latency_ms: Number | None = Field(
        default=None, ge=0, le=3_600_000, description="Latency the client saw until display."
    )
    user: StrictStr | None = Field(default=None, max_length=256)
