"""The official ``openai`` client against the gateway in front of the real Triton + llama.cpp."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from seedcoder.api.gateway_config import FimTemplate

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.triton

PY_PREFIX = "def fibonacci(n):\n    "
PY_SUFFIX = "\n\nprint(fibonacci(10))\n"


def test_models_lists_the_configured_model(gateway: GatewayProcess) -> None:
    models = gateway.openai().models.list()
    assert [m.id for m in models.data] == [MODEL_NAME]


def test_non_streamed_completion(gateway: GatewayProcess) -> None:
    out = gateway.openai().completions.create(
        model=MODEL_NAME, prompt=PY_PREFIX, max_tokens=12, temperature=0
    )
    assert out.object == "text_completion"
    assert out.id.startswith("cmpl-")
    assert len(out.choices) == 1
    assert out.choices[0].text.strip()
    assert out.choices[0].finish_reason in {"stop", "length"}
    assert out.usage is not None
    assert 0 < out.usage.completion_tokens <= 12
    assert out.usage.prompt_tokens > 0


def test_max_tokens_caps_the_output(gateway: GatewayProcess) -> None:
    out = gateway.openai().completions.create(
        model=MODEL_NAME, prompt="The numbers from one to fifty: one, two,", max_tokens=3, temperature=0
    )
    assert out.usage is not None
    assert out.usage.completion_tokens == 3
    assert out.choices[0].finish_reason == "length"


def test_stop_sequence_ends_the_completion(gateway: GatewayProcess) -> None:
    client = gateway.openai()
    prompt = "# counting\nx = 1\nx = 2\nx = 3\n"
    free = client.completions.create(model=MODEL_NAME, prompt=prompt, max_tokens=30, temperature=0)
    assert "\n" in free.choices[0].text.strip("\n")  # several lines without a stop
    stopped = client.completions.create(
        model=MODEL_NAME, prompt=prompt, max_tokens=30, temperature=0, stop=["\n"]
    )
    assert "\n" not in stopped.choices[0].text
    assert stopped.choices[0].finish_reason == "stop"
    assert free.choices[0].text.startswith(stopped.choices[0].text)


def test_streamed_completion_matches_the_non_streamed_one(gateway: GatewayProcess) -> None:
    client = gateway.openai()
    kwargs: dict[str, Any] = {"model": MODEL_NAME, "prompt": "def is_prime(n):\n    ", "temperature": 0}
    chunks = list(
        client.completions.create(
            stream=True, stream_options={"include_usage": True}, max_tokens=16, **kwargs
        )
    )
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len(texts) > 2  # really streamed, token by token
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 16
    assert {c.id for c in chunks} == {chunks[0].id}
    # One token more, not streamed (so not from the cache): greedy, so the streamed text is its start.
    whole = client.completions.create(max_tokens=17, **kwargs).choices[0].text
    assert whole.startswith("".join(texts))
    assert len(whole) > len("".join(texts))


def test_raw_sse_framing_is_openai_s(gateway: GatewayProcess) -> None:
    body = {"model": MODEL_NAME, "prompt": "x = ", "max_tokens": 4, "temperature": 0, "stream": True}
    with httpx.stream("POST", gateway.url + "/v1/completions", json=body, headers=gateway.headers()) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        raw = b"".join(resp.iter_raw())
    events = raw.split(b"\n\n")
    assert events[-1] == b""
    assert events[-2] == b"data: [DONE]"
    assert all(e.startswith(b"data: {") for e in events[:-2])


def test_fim_via_suffix(gateway: GatewayProcess) -> None:
    out = gateway.openai().completions.create(
        model=MODEL_NAME, prompt=PY_PREFIX, suffix=PY_SUFFIX, max_tokens=24, temperature=0
    )
    text = out.choices[0].text
    assert text  # the SPM prompt reached the model (as plain text for this small model)
    for stop in FimTemplate().stop:  # EOS and the FIM tokens end the completion
        assert stop not in text


def test_fim_prompt_differs_from_plain_prompt(gateway: GatewayProcess) -> None:
    client = gateway.openai()
    plain = client.completions.create(model=MODEL_NAME, prompt=PY_PREFIX, max_tokens=20, temperature=0)
    fim = client.completions.create(
        model=MODEL_NAME, prompt=PY_PREFIX, suffix=PY_SUFFIX, max_tokens=20, temperature=0
    )
    assert fim.usage is not None
    assert plain.usage is not None
    assert fim.usage.prompt_tokens > plain.usage.prompt_tokens  # template + suffix were sent


def test_n_candidates_are_unique_and_ranked(gateway: GatewayProcess) -> None:
    out = gateway.openai().completions.create(
        model=MODEL_NAME, prompt="import ", max_tokens=6, temperature=1.0, n=4, seed=7
    )
    texts = [c.text for c in out.choices]
    assert 1 <= len(texts) <= 4
    assert len({t.rstrip() for t in texts}) == len(texts)
    assert all(t.strip() for t in texts)
    assert [c.index for c in out.choices] == list(range(len(texts)))
    extra: Any = out.model_extra["seedcoder"]
    assert extra["ranking"] in {"mean_logprob", "heuristic"} or len(texts) == 1
    assert extra["scores"] == sorted(extra["scores"], reverse=True)


def test_greedy_requests_are_cached(gateway: GatewayProcess) -> None:
    client = gateway.openai()
    kwargs: dict[str, Any] = {
        "model": MODEL_NAME,
        "prompt": "class Stack:\n    ",
        "max_tokens": 8,
        "temperature": 0,
    }
    first = client.completions.create(**kwargs)
    second = client.completions.create(**kwargs)
    assert second.choices[0].text == first.choices[0].text
    assert second.id != first.id
    assert second.model_extra["seedcoder"]["cached"] is True
    metrics = httpx.get(gateway.url + "/metrics").text
    hits = [line for line in metrics.splitlines() if line.startswith("seedcoder_gateway_cache_hits_total ")]
    assert float(hits[0].split()[1]) >= 1


def test_long_prompt_is_trimmed_around_the_cursor(gateway: GatewayProcess) -> None:
    far = "".join(f"far_{i} = {i}\n" for i in range(900))  # well over the 2000-token budget
    near = "near_marker = 1\n"
    out = gateway.openai().completions.create(
        model=MODEL_NAME,
        prompt=far + near + "value = ",
        suffix="\nend_marker = 2\n" + far,
        max_tokens=4,
        temperature=0,
    )
    assert out.usage is not None
    trimmed = out.usage.model_extra["prompt_tokens_trimmed"]
    assert trimmed > 1000
    assert out.usage.prompt_tokens <= 2000 - 4


def test_stop_at_block_end_extension(gateway: GatewayProcess) -> None:
    out = gateway.openai().completions.create(
        model=MODEL_NAME,
        prompt="def add(a, b):\n",
        max_tokens=64,
        temperature=0,
        extra_body={"seedcoder": {"stop_at_block_end": True}},
    )
    lines = [line for line in out.choices[0].text.split("\n") if line.strip()]
    assert all(line.startswith((" ", "\t")) for line in lines), out.choices[0].text


def test_infill_llamacpp_style(gateway: GatewayProcess) -> None:
    body = {
        "input_prefix": PY_PREFIX,
        "input_suffix": PY_SUFFIX,
        "input_extra": [{"filename": "util.py", "text": "def helper():\n    return 1\n"}],
        "prompt": "",
        "n_predict": 12,
        "temperature": 0,
        "samplers": ["top_k"],  # llama.vscode sends fields the gateway ignores
    }
    resp = httpx.post(gateway.url + "/infill", json=body, headers=gateway.headers(), timeout=60)
    assert resp.status_code == 200, resp.text
    data = resp.json()
    assert isinstance(data["content"], str)
    assert data["stop"] is True
    assert 0 < data["tokens_predicted"] <= 12
    assert data["tokens_evaluated"] > 0
    body["stream"] = True
    with httpx.stream("POST", gateway.url + "/infill", json=body, headers=gateway.headers(), timeout=60) as s:
        events = [line for line in s.iter_lines() if line.startswith("data: ")]
    assert events[-1].startswith('data: {"id"')
    assert '"stop":true' in events[-1]
    streamed = "".join(json.loads(e[6:])["content"] for e in events)
    assert streamed == data["content"]


def test_openapi_document(gateway: GatewayProcess) -> None:
    doc = httpx.get(gateway.url + "/openapi.json").json()
    assert {"/v1/completions", "/infill", "/v1/feedback", "/v1/models"} <= set(doc["paths"])
    assert "suffix" in doc["components"]["schemas"]["CompletionRequest"]["properties"]


def test_wrong_key_is_401_for_the_client(gateway: GatewayProcess) -> None:
    client = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.completions.create(model=MODEL_NAME, prompt="x", max_tokens=1)
