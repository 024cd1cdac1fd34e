"""A corpus of bad requests: every one gets a 4xx with an OpenAI error body naming the problem."""
# ruff: noqa: E501  (the corpus is a table: one request per line reads best)

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.triton

OK = {"model": MODEL_NAME, "prompt": "x = ", "max_tokens": 2}
JSON = "application/json"


def body(**changes: Any) -> bytes:
    data = dict(OK)
    for key, value in changes.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data).encode()


# (name, method, path, body, content type, auth header (None: the valid one; "": none), status, words in message)
CASES: list[tuple[str, str, str, bytes, str, str | None, int, str]] = [
    ("invalid json", "POST", "/v1/completions", b"{not json", JSON, None, 400, "json"),
    ("truncated json", "POST", "/v1/completions", b'{"model": "', JSON, None, 400, "json"),
    ("empty body", "POST", "/v1/completions", b"", JSON, None, 400, "json"),
    ("whitespace body", "POST", "/v1/completions", b"   ", JSON, None, 400, "json"),
    ("json array", "POST", "/v1/completions", b"[1, 2]", JSON, None, 400, "object"),
    ("json string", "POST", "/v1/completions", b'"hello"', JSON, None, 400, "object"),
    ("json null", "POST", "/v1/completions", b"null", JSON, None, 400, "object"),
    ("invalid utf-8", "POST", "/v1/completions", b'{"model": "' + MODEL_NAME.encode() + b'", "prompt": "\xff\xfe"}', JSON, None, 400, "utf"),
    ("wrong content type", "POST", "/v1/completions", body(), "text/plain", None, 415, "content-type"),
    ("form content type", "POST", "/v1/completions", b"model=x", "application/x-www-form-urlencoded", None, 415, "content-type"),
    ("missing model", "POST", "/v1/completions", body(model=...), JSON, None, 400, "model"),
    ("missing prompt", "POST", "/v1/completions", body(prompt=...), JSON, None, 400, "prompt"),
    ("unknown model", "POST", "/v1/completions", body(model="gpt-4"), JSON, None, 404, "model"),
    ("model not a string", "POST", "/v1/completions", body(model=5), JSON, None, 400, "model"),
    ("prompt is a number", "POST", "/v1/completions", body(prompt=42), JSON, None, 400, "prompt"),
    ("prompt token ids", "POST", "/v1/completions", body(prompt=[1, 2, 3]), JSON, None, 400, "prompt"),
    ("two prompts", "POST", "/v1/completions", body(prompt=["a", "b"]), JSON, None, 400, "prompt"),
    ("empty prompt", "POST", "/v1/completions", body(prompt=""), JSON, None, 400, "prompt"),
    ("negative max_tokens", "POST", "/v1/completions", body(max_tokens=-5), JSON, None, 400, "max_tokens"),
    ("zero max_tokens", "POST", "/v1/completions", body(max_tokens=0), JSON, None, 400, "max_tokens"),
    ("min_p above one", "POST", "/v1/completions", body(min_p=1.5), JSON, None, 400, "min_p"),
    ("repetition_penalty zero", "POST", "/v1/completions", body(repetition_penalty=0), JSON, None, 400, "repetition_penalty"),
    ("top_k a float", "POST", "/v1/completions", body(top_k=2.5), JSON, None, 400, "top_k"),
    ("max_tokens a string", "POST", "/v1/completions", body(max_tokens="10"), JSON, None, 400, "max_tokens"),
    ("max_tokens a float", "POST", "/v1/completions", body(max_tokens=2.5), JSON, None, 400, "max_tokens"),
    ("n zero", "POST", "/v1/completions", body(n=0), JSON, None, 400, "'n'"),
    ("n too large", "POST", "/v1/completions", body(n=1000), JSON, None, 400, "'n'"),
    ("temperature negative", "POST", "/v1/completions", body(temperature=-1), JSON, None, 400, "temperature"),
    ("temperature too high", "POST", "/v1/completions", body(temperature=9), JSON, None, 400, "temperature"),
    ("temperature a string", "POST", "/v1/completions", body(temperature="hot"), JSON, None, 400, "temperature"),
    ("top_p zero", "POST", "/v1/completions", body(top_p=0), JSON, None, 400, "top_p"),
    ("top_p above one", "POST", "/v1/completions", body(top_p=1.5), JSON, None, 400, "top_p"),
    ("stop a number", "POST", "/v1/completions", body(stop=5), JSON, None, 400, "stop"),
    ("too many stops", "POST", "/v1/completions", body(stop=[f"s{i}" for i in range(65)]), JSON, None, 400, "stop"),
    ("stream a string", "POST", "/v1/completions", body(stream="yes"), JSON, None, 400, "stream"),
    ("negative seed", "POST", "/v1/completions", body(seed=-1), JSON, None, 400, "seed"),
    ("echo true", "POST", "/v1/completions", body(echo=True), JSON, None, 400, "echo"),
    ("logprobs", "POST", "/v1/completions", body(logprobs=5), JSON, None, 400, "logprobs"),
    ("best_of differs from n", "POST", "/v1/completions", body(best_of=3), JSON, None, 400, "best_of"),
    ("presence_penalty", "POST", "/v1/completions", body(presence_penalty=1.0), JSON, None, 400, "presence_penalty"),
    ("logit_bias", "POST", "/v1/completions", body(logit_bias={"50256": -100}), JSON, None, 400, "logit_bias"),
    ("unknown field", "POST", "/v1/completions", body(foo=1), JSON, None, 400, "foo"),
    ("unknown extension field", "POST", "/v1/completions", body(seedcoder={"x": 1}), JSON, None, 400, "seedcoder"),
    ("suffix not a string", "POST", "/v1/completions", body(suffix=["a"]), JSON, None, 400, "suffix"),
    ("user too long", "POST", "/v1/completions", body(user="u" * 1000), JSON, None, 400, "user"),
    ("oversized body", "POST", "/v1/completions", body(prompt="x" * 2_000_000), JSON, None, 413, "exceeds"),
    ("missing api key", "POST", "/v1/completions", body(), JSON, "", 401, "api key"),
    ("wrong api key", "POST", "/v1/completions", body(), JSON, "Bearer sk-nope", 401, "api key"),
    ("basic auth", "POST", "/v1/completions", body(), JSON, "Basic dXNlcjpwYXNz", 401, "api key"),
    ("empty bearer", "POST", "/v1/completions", body(), JSON, "Bearer", 401, "api key"),
    ("models without key", "GET", "/v1/models", b"", JSON, "", 401, "api key"),
    ("get on completions", "GET", "/v1/completions", b"", JSON, None, 405, "method"),
    ("unknown path", "POST", "/v1/chat/nothing", body(), JSON, None, 404, "route"),
    ("infill n_predict below -1", "POST", "/infill", json.dumps({"input_prefix": "a", "n_predict": -2}).encode(), JSON, None, 400, "n_predict"),
    ("infill n_indent negative", "POST", "/infill", json.dumps({"input_prefix": "a", "n_indent": -1}).encode(), JSON, None, 400, "n_indent"),
    ("infill all empty", "POST", "/infill", b"{}", JSON, None, 400, "input_prefix"),
    ("infill extra not a list", "POST", "/infill", json.dumps({"input_prefix": "a", "input_extra": "x"}).encode(), JSON, None, 400, "input_extra"),
    ("infill prefix a number", "POST", "/infill", json.dumps({"input_prefix": 1}).encode(), JSON, None, 400, "input_prefix"),
    ("feedback bad outcome", "POST", "/v1/feedback", json.dumps({"id": "cmpl-1", "outcome": "maybe"}).encode(), JSON, None, 400, "outcome"),
    ("feedback missing id", "POST", "/v1/feedback", json.dumps({"outcome": "accepted"}).encode(), JSON, None, 400, "id"),
    ("feedback negative latency", "POST", "/v1/feedback", json.dumps({"id": "c", "outcome": "accepted", "latency_ms": -1}).encode(), JSON, None, 400, "latency_ms"),
]  # fmt: skip


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    ("name", "method", "path", "payload", "ctype", "auth", "status", "words"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_bad_request_gets_a_clear_4xx(
    gateway: GatewayProcess, name: str, method: str, path: str, payload: bytes, ctype: str, auth: str | None,
    status: int, words: str,
) -> None:  # fmt: skip
    headers = {"Content-Type": ctype}
    if auth is None:
        headers["Authorization"] = f"Bearer {gateway.api_key}"
    elif auth:
        headers["Authorization"] = auth
    resp = httpx.request(method, gateway.url + path, content=payload or None, headers=headers, timeout=30)
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert words.lower() in err["message"].lower(), err


def test_server_is_still_up_and_serving_after_the_corpus(gateway: GatewayProcess) -> None:
    assert gateway.alive()
    resp = httpx.post(gateway.url + "/v1/completions", json=OK, headers=gateway.headers(), timeout=60)
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["text"] is not None
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'seedcoder_gateway_errors_total{type="invalid_request"}' in metrics
