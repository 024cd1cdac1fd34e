"""Each IDE client's captured request (``tests/fixtures/clients/``) against the real gateway and model.

The gateway runs in front of the session's real Triton + llama.cpp model with a
small output limit (48 tokens), so that clients' large defaults (Continue's
4096, llama.vscode's 128) are clamped, as an OpenAI-compatible server does, and
the shared CPU is not held long.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures.gateway import GatewayProcess, gateway_config

pytestmark = pytest.mark.triton

CLIENTS = Path(__file__).parents[1] / "fixtures" / "clients"
LIMIT = 48


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CLIENTS / name).read_text())
    return data


FIXTURES = sorted(p.name for p in CLIENTS.glob("*.json"))


@pytest.fixture(scope="module")
def ide_gateway(triton_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    workdir = tmp_path_factory.mktemp("ide-gateway")
    proc = GatewayProcess(gateway_config(triton_server.grpc_url, workdir, max_output_tokens=LIMIT), workdir)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def post(gw: GatewayProcess, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    req = urllib.request.Request(gw.url + path, data=json.dumps(body).encode(), headers=gw.headers())
    try:
        with urllib.request.urlopen(req, timeout=180) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def sse_events(raw: bytes) -> list[str]:
    return [line[len("data: ") :] for line in raw.decode().split("\n") if line.startswith("data: ")]


def test_every_fixture_names_its_source() -> None:
    assert len(FIXTURES) >= 7
    for name in FIXTURES:
        f = fixture(name)
        assert f["source"]["repository"], name
        assert f["source"]["files"], name
        assert f["answer"] in {"openai-sse", "openai-json", "llamacpp-json", "llamacpp-warmup"}, name


@pytest.mark.parametrize("name", FIXTURES)
def test_client_request_gets_a_useful_answer(ide_gateway: GatewayProcess, name: str) -> None:
    f = fixture(name)
    body = dict(f["request"]["body"])
    started = time.monotonic()
    status, raw = post(ide_gateway, f["request"]["path"], body)
    assert status == 200, raw[:500]
    kind = f["answer"]
    if kind == "openai-sse":
        events = sse_events(raw)
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert all(c["object"] == "text_completion" for c in chunks)
        text = "".join(ch["text"] for c in chunks for ch in c["choices"])
        reasons = [ch["finish_reason"] for c in chunks for ch in c["choices"] if ch["finish_reason"]]
        assert text.strip(), f"{name}: empty completion"
        assert reasons in (["stop"], ["length"])
        # What the client asked for beyond the limit was clamped, not refused.
        for stop in body.get("stop") or []:
            assert stop not in text
    elif kind == "openai-json":
        out = json.loads(raw)
        assert out["object"] == "text_completion"
        assert out["choices"][0]["text"].strip()
        assert 0 < out["usage"]["completion_tokens"] <= min(body["max_tokens"], LIMIT)
    elif kind == "llamacpp-json":
        out = json.loads(raw)
        assert out["content"].strip()
        assert out["tokens_predicted"] <= LIMIT  # n_predict 128 was clamped
        assert out["truncated"] is False
        assert out["tokens_cached"] == out["tokens_evaluated"] + out["tokens_predicted"]
        t = out["timings"]
        assert t["prompt_n"] == out["tokens_evaluated"] > 0
        assert t["predicted_n"] == out["tokens_predicted"]
        assert 0 < t["prompt_ms"] + t["predicted_ms"] <= (time.monotonic() - started) * 1000
        later = out["content"].split("\n")[1:]
        assert all(not ln.strip() or len(ln) - len(ln.lstrip(" \t")) >= body["n_indent"] for ln in later)
    else:
        out = json.loads(raw)
        assert out["content"] == ""
        assert out["tokens_predicted"] == 0
        assert out["stop"] is True


def test_n_indent_ends_the_completion_at_a_shallower_line(ide_gateway: GatewayProcess) -> None:
    """The same request with and without ``n_indent``: greedy, so the cut one is a prefix of the other."""
    base = {
        "input_prefix": "class Shape:\n    def area(self):\n",
        "prompt": "        ",
        "input_suffix": "",
        "n_predict": 40,
        "temperature": 0,
    }
    _, free_raw = post(ide_gateway, "/infill", base)
    free = json.loads(free_raw)["content"]
    _, cut_raw = post(ide_gateway, "/infill", {**base, "n_indent": 8})
    cut = json.loads(cut_raw)
    assert free.startswith(cut["content"])
    for line in cut["content"].split("\n")[1:]:
        assert not line.strip() or line.startswith(" " * 8)
    shallower = [ln for ln in free.split("\n")[1:] if ln.strip() and not ln.startswith(" " * 8)]
    if shallower:  # the model left the method: the cut version stopped before it
        assert shallower[0] not in cut["content"]
        assert cut["stop_type"] == "eos"


def test_openai_python_client_sends_the_recorded_shape(ide_gateway: GatewayProcess) -> None:
    """The installed ``openai`` client puts exactly the fixture's body on the wire, and gets an answer."""
    f = fixture("openai-python-completion.json")
    body = f["request"]["body"]
    sent: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.read()))

    client = ide_gateway.openai(http_client=httpx.Client(event_hooks={"request": [record]}))
    stream = client.completions.create(
        model=body["model"], prompt=body["prompt"], suffix=body["suffix"], max_tokens=body["max_tokens"],
        temperature=body["temperature"], stream=True,
    )  # fmt: skip
    text = "".join(c.choices[0].text for c in stream if c.choices)
    assert sent == [body]
    assert text.strip()


def test_warmups_are_not_rate_limited(triton_server: Any, gateway_factory: Any) -> None:
    """llama.vscode warms the cache on every context change: those must not use up the key's budget."""
    gw = gateway_factory(
        triton_server.grpc_url, rate_limit_rps=0.001, rate_limit_burst=1, max_output_tokens=4
    )
    warm = fixture("llama-vscode-warmup.json")["request"]["body"]
    for _ in range(5):
        status, raw = post(gw, "/infill", warm)
        assert status == 200, raw
    real = {"input_prefix": "def add(a, b):\n", "prompt": "    ", "n_predict": 2}
    assert post(gw, "/infill", real)[0] == 200
    status, raw = post(gw, "/infill", real)
    assert status == 429, raw
    status, _ = post(gw, "/infill", warm)
    assert status == 200  # still answered after the budget is gone


def test_unsupported_sampling_field_is_named(triton_server: Any, gateway_factory: Any) -> None:
    """A TensorRT-LLM pool has no min-p sampler: the 400 names the field (no model work is done)."""
    gw = gateway_factory(
        triton_server.grpc_url,
        pools=[
            {"name": "h100", "grpc_url": triton_server.grpc_url, "gpu": "H100", "runtime": "tensorrt-llm"}
        ],
    )
    body = {"model": "seed-coder-8b-base", "prompt": "x = ", "max_tokens": 2, "min_p": 0.05}
    status, raw = post(gw, "/v1/completions", body)
    assert status == 400
    err = json.loads(raw)["error"]
    assert err["param"] == "min_p"
    assert "tensorrt-llm" in err["message"]


def test_ide_snippets_reach_the_gateway_as_the_fixtures_do(ide_gateway: GatewayProcess) -> None:
    """What ``make up`` and the README print, read the way each client reads it, hits the real gateway."""
    import tomllib

    import yaml
    from seedcoder_dev.demo import ide

    model = fixture("continue-autocomplete.json")["request"]["body"]["model"]
    base = ide_gateway.url + "/v1"
    auth = {"Authorization": f"Bearer {ide_gateway.api_key}", "Content-Type": "application/json"}

    def call(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=auth)
        with urllib.request.urlopen(req, timeout=180) as resp:
            return resp.status, json.loads(resp.read())

    # Continue: renders its autocomplete template (Handlebars triple braces) and posts to apiBase/completions.
    cont = yaml.safe_load(ide.continue_config(base, ide_gateway.api_key, model))["models"][0]
    captured = fixture("continue-autocomplete.json")["request"]["body"]
    prefix, suffix = (
        "import math\n\n\ndef circle_area(radius):\n    return ",
        "\n\n\nprint(circle_area(2.0))\n",
    )
    prompt = cont["promptTemplates"]["autocomplete"].replace("{{{prefix}}}", prefix)
    prompt = prompt.replace("{{{suffix}}}", suffix)
    assert prompt == captured["prompt"]
    assert set(cont["defaultCompletionOptions"]["stop"]) <= set(captured["stop"])
    status, out = call(
        cont["apiBase"] + "/completions",
        {"model": cont["model"], "prompt": prompt, "max_tokens": 4096, "temperature": 0.01, "stream": False,
         "stop": cont["defaultCompletionOptions"]["stop"]},
    )  # fmt: skip
    assert status == 200
    assert out["choices"][0]["text"].strip()
    # Tabby: api_endpoint + /completions with prompt and suffix.
    tabby = tomllib.loads(ide.tabby_config(base, ide_gateway.api_key, model))["model"]["completion"]["http"]
    assert tabby["kind"] == "openai/completion"
    status, out = call(
        tabby["api_endpoint"] + "/completions",
        {"model": tabby["model_name"], "prompt": prefix, "suffix": suffix, "max_tokens": 8, "stream": False},
    )
    assert status == 200
    # llama.vscode: <endpoint>/infill, the endpoint without /v1.
    settings = json.loads(ide.llama_vscode_settings(base, ide_gateway.api_key))
    assert not settings["llama-vscode.endpoint"].endswith("/v1")
    status, out = call(
        settings["llama-vscode.endpoint"] + "/infill", fixture("llama-vscode-warmup.json")["request"]["body"]
    )
    assert status == 200
    assert out["tokens_predicted"] == 0
