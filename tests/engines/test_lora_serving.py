"""A GGUF LoRA adapter served through the real ``tritonserver`` and the real gateway.

The base model is the demo model (Gemma 3 270M GGUF); the adapter is SYNTHETIC
(``lora_gguf.py``: deterministic random low-rank matrices, valid GGUF LoRA): it
only has to change the answers, which proves the adapter is applied, per request,
and removed again. The gateway routes by ``model`` (``<model>:<adapter>``) and by
the API key's team (the key file ``test`` is team ``test``), lists the adapter in
``/v1/models`` and counts feedback per adapter.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seedcoder.localstack.triton import TritonServer, write_llamacpp_repository

from tests.engines.lora_gguf import write_synthetic_lora
from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = [pytest.mark.triton, pytest.mark.slow]

PROMPT = "def fibonacci(n):\n"
ADAPTER = "demo"


@pytest.fixture(scope="module")
def adapter_dir(gguf_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("adapters")
    (root / ADAPTER).mkdir()
    write_synthetic_lora(gguf_model, root / ADAPTER / "adapter.gguf")
    outside = root.parent / "outside.gguf"
    outside.write_bytes((root / ADAPTER / "adapter.gguf").read_bytes())
    (root / "escape.gguf").symlink_to(outside)  # a link out of the adapter folder must not be followed
    return root


@pytest.fixture(scope="module")
def lora_triton(
    gguf_model: Path, adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TritonServer]:
    threads = max(1, (os.cpu_count() or 2) // 2)
    repo = write_llamacpp_repository(
        tmp_path_factory.mktemp("lora-repository"), gguf_model, n_threads=threads, lora_dir=adapter_dir
    )
    server = TritonServer()
    server.start(repo, tmp_path_factory.mktemp("lora-tritonserver"))
    try:
        server.wait_ready(timeout=240, models=("seedcoder", "seedcoder_tokenize"))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def gateway(lora_triton: TritonServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    from tests.fixtures.gateway import gateway_config

    workdir = tmp_path_factory.mktemp("lora-gateway")
    adapters = [
        {"name": ADAPTER, "teams": ["test"], "gguf": f"{ADAPTER}/adapter.gguf", "created": 1_800_000_000},
        {"name": "escape", "published": False, "gguf": "escape.gguf"},
        {"name": "missing", "published": False, "gguf": "missing/adapter.gguf"},
    ]
    cfg = gateway_config(lora_triton.grpc_url, workdir, adapters=adapters, cache_max_entries=0)
    proc = GatewayProcess(cfg, workdir)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def call(gw: GatewayProcess, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(gw.url + path, data, gw.headers(), method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def complete(gw: GatewayProcess, model: str) -> dict[str, Any]:
    request = {"model": model, "prompt": PROMPT, "max_tokens": 12, "temperature": 0}
    code, body = call(gw, "/v1/completions", request)
    assert code == 200, body
    return body


def metric(gw: GatewayProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


def test_the_adapter_answers_differently_and_the_base_comes_back(gateway: GatewayProcess) -> None:
    base = complete(gateway, f"{MODEL_NAME}:base")
    tuned = complete(gateway, f"{MODEL_NAME}:{ADAPTER}")
    again = complete(gateway, f"{MODEL_NAME}:base")
    base_text, tuned_text = base["choices"][0]["text"], tuned["choices"][0]["text"]
    print(f"\nbase: {base_text!r}\nsynthetic adapter: {tuned_text!r}")
    assert base_text.strip()
    assert tuned_text != base_text
    assert again["choices"][0]["text"] == base_text  # the adapter was taken off, no stale KV prefix
    assert tuned["model"] == f"{MODEL_NAME}:{ADAPTER}"
    assert base["model"] == MODEL_NAME


def test_the_key_team_routes_the_base_name_to_its_adapter(gateway: GatewayProcess) -> None:
    by_team = complete(gateway, MODEL_NAME)  # the key file is "test": team "test"
    by_name = complete(gateway, f"{MODEL_NAME}:{ADAPTER}")
    assert by_team["model"] == f"{MODEL_NAME}:{ADAPTER}"
    assert by_team["choices"][0]["text"] == by_name["choices"][0]["text"]


def test_models_lists_the_published_adapter_only(gateway: GatewayProcess) -> None:
    code, body = call(gateway, "/v1/models")
    assert code == 200
    ids = [m["id"] for m in body["data"]]
    assert ids == [MODEL_NAME, f"{MODEL_NAME}:{ADAPTER}"]
    assert body["data"][1]["parent"] == MODEL_NAME


def test_unknown_escaping_and_missing_adapters_are_refused_with_their_names(gateway: GatewayProcess) -> None:
    code, body = call(gateway, "/v1/completions", {"model": f"{MODEL_NAME}:nope", "prompt": PROMPT})
    assert code == 404
    assert "'nope'" in body["error"]["message"]
    assert body["error"]["code"] == "model_not_found"
    code, body = call(gateway, "/v1/completions", {"model": f"{MODEL_NAME}:escape", "prompt": PROMPT})
    assert code == 502
    assert "leaves the adapter folder" in body["error"]["message"]
    code, body = call(gateway, "/v1/completions", {"model": f"{MODEL_NAME}:missing", "prompt": PROMPT})
    assert code == 502
    assert "missing/adapter.gguf" in body["error"]["message"]
    assert complete(gateway, f"{MODEL_NAME}:base")["choices"][0]["text"].strip()  # the model still serves


def test_feedback_is_counted_per_adapter(gateway: GatewayProcess) -> None:
    before = metric(gateway, "seedcoder_gateway_feedback_total", adapter=ADAPTER, outcome="accepted")
    before_base = metric(gateway, "seedcoder_gateway_feedback_total", adapter="base", outcome="rejected")
    tuned = complete(gateway, f"{MODEL_NAME}:{ADAPTER}")
    base = complete(gateway, f"{MODEL_NAME}:base")
    assert call(gateway, "/v1/feedback", {"id": tuned["id"], "outcome": "accepted"})[0] == 201
    assert call(gateway, "/v1/feedback", {"id": base["id"], "outcome": "rejected"})[0] == 201
    after = metric(gateway, "seedcoder_gateway_feedback_total", adapter=ADAPTER, outcome="accepted")
    after_base = metric(gateway, "seedcoder_gateway_feedback_total", adapter="base", outcome="rejected")
    assert after == before + 1
    assert after_base == before_base + 1
    # a completion this replica does not remember: counted for the adapter the key's team gets
    assert call(gateway, "/v1/feedback", {"id": "cmpl-served-elsewhere", "outcome": "accepted"})[0] == 201
    assert (
        metric(gateway, "seedcoder_gateway_feedback_total", adapter=ADAPTER, outcome="accepted") == after + 1
    )
