"""The OpenAPI 3.1 document served at ``/openapi.json``, generated from the request models.

Why generated: the same pydantic models validate requests, so the document
cannot drift from what the gateway accepts.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from seedcoder.gateway.protocol import CompletionRequest, FeedbackRequest, InfillRequest

_REF = "#/components/schemas/{model}"


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=_REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    out["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
            }
        },
    }
    return out


def _op(summary: str, body: str | None, ok: str, streamed: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "security": [{"bearer": []}]}
    if body:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _REF.format(model=body)}}},
        }
    content: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if streamed:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    err = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    op["responses"] = {
        ok: {"description": "Success", "content": content},
        "4XX": {"description": "Invalid request, missing key, rate limited", **err},
        "5XX": {"description": "Backend unavailable (503), timed out (504), bad answer (502)", **err},
    }
    return op


def document() -> dict[str, Any]:
    plain = {"responses": {"200": {"description": "OK"}}, "security": []}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Seed-Coder completion gateway",
            "version": "1",
            "description": (
                "OpenAI-compatible completions with fill-in-the-middle (`suffix`), llama.cpp `/infill`, "
                "and feedback. Extension: `seedcoder.stop_at_block_end`; responses report "
                "`usage.prompt_tokens_trimmed`."
            ),
        },
        "paths": {
            "/v1/completions": {"post": _op("Create a completion", "CompletionRequest", "200", True)},
            "/infill": {"post": _op("llama.cpp-style infill", "InfillRequest", "200", True)},
            "/v1/feedback": {
                "post": _op("Record what the user did with a completion", "FeedbackRequest", "201")
            },
            "/v1/models": {"get": _op("List the served model", None, "200")},
            "/metrics": {"get": {"summary": "Prometheus metrics", **plain}},
            "/healthz": {"get": {"summary": "Liveness", **plain}},
            "/readyz": {"get": {"summary": "Readiness: at least one healthy pool", **plain}},
        },
        "components": {
            "schemas": _schemas([CompletionRequest, InfillRequest, FeedbackRequest]),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
