"""The real gateway reads an index published by the indexing program: /v1/completions and /infill
prompts gain the retrieved definitions (the backend counts more prompt tokens), the metrics say so,
and a gateway started before any index exists serves without one, then picks it up."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.gateway import GatewayProcess

pytestmark = pytest.mark.triton
LIBRARY = Path(__file__).resolve().parents[2] / "benchmarks" / "retrieval" / "library"
SRC = Path(__file__).resolve().parents[2] / "operator" / "src"
PROMPT = (
    "from vexilo import transit\n\n\ndef connect(region):\n    # open a skelmwire connection\n"
    "    h = transit.open_sk"
)


def publish_index(tmp: Path, out: Path) -> None:
    """``seedcoder index`` over the library as a docs folder (the Job's command)."""
    shutil.copytree(LIBRARY, tmp / "docs" / "vexilo")
    sources = json.dumps({"docs": [{"name": "vexilo", "pvc": {"claimName": "docs"}}]})
    cmd = [sys.executable, "-m", "seedcoder.cli", "index", "--out", str(out),
           "--docs-root", str(tmp / "docs"), "--sources", sources,
           "--termination-log", str(tmp / "term")]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120, env={"PYTHONPATH": str(SRC)})


def post(gw: GatewayProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(gw.url + path, data=json.dumps(body).encode(), headers=gw.headers())
    with urllib.request.urlopen(req, timeout=120) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def metric(gw: GatewayProcess, name: str) -> float:
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def completion(prompt: str) -> dict[str, Any]:
    return {"model": "seed-coder-8b-base", "prompt": prompt, "max_tokens": 4, "temperature": 0}


def test_gateway_puts_retrieved_definitions_into_prompts(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    gw = gateway_factory(triton_server.grpc_url, cache_max_entries=0,
                         retrieval={"index_dir": str(index), "reload_s": 0.2})  # fmt: skip
    plain = gateway_factory(triton_server.grpc_url, cache_max_entries=0)

    # no index yet: requests are served without retrieval, and counted as such
    before = post(gw, "/v1/completions", completion(PROMPT))["usage"]["prompt_tokens"]
    assert before == post(plain, "/v1/completions", completion(PROMPT))["usage"]["prompt_tokens"]
    assert metric(gw, 'seedcoder_gateway_retrieval_requests_total{outcome="unavailable"}') == 1

    publish_index(tmp_path, index)
    time.sleep(0.3)
    with_ctx = post(gw, "/v1/completions", completion(PROMPT))["usage"]["prompt_tokens"]
    assert with_ctx > before + 30  # the open_skelmwire definition (and its neighbours) went in
    assert metric(gw, 'seedcoder_gateway_retrieval_requests_total{outcome="hit"}') == 1
    assert metric(gw, "seedcoder_gateway_retrieval_chunks_total") >= 1
    added = metric(gw, "seedcoder_gateway_retrieval_added_tokens_total")
    assert 0.5 * (with_ctx - before) <= added <= 1.5 * (with_ctx - before)
    assert metric(gw, "seedcoder_gateway_retrieval_seconds_count") == 1

    # /infill with input_extra: the IDE's files stay, retrieved chunks come on top
    body = {"input_prefix": PROMPT, "input_suffix": "\n", "n_predict": 4, "temperature": 0,
            "input_extra": [{"filename": "notes.py", "text": "# a note\n"}]}  # fmt: skip
    infill = post(gw, "/infill", body)
    base = post(plain, "/infill", body)
    assert infill["tokens_evaluated"] > base["tokens_evaluated"] + 30
    assert metric(gw, 'seedcoder_gateway_retrieval_requests_total{outcome="hit"}') == 2


def served_prefix(gw: GatewayProcess, prompt: str) -> str:
    """The prefix the model saw (as the feedback data set records it) for ``prompt``."""
    out = post(gw, "/v1/completions", completion(prompt))
    post(gw, "/v1/feedback", {"id": out["id"], "outcome": "accepted"})
    (record,) = [json.loads(line) for f in sorted(gw.feedback_dir.glob("*.jsonl"))
                 for line in f.read_text().splitlines()]  # fmt: skip
    prefix: str = record["prompt"]  # the prefix after trimming (without the FIM template)
    return prefix


@pytest.mark.slow
def test_an_over_long_prompt_keeps_imports_enclosing_and_used_definitions(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess]
) -> None:
    filler = "".join(
        f"def filler_{i}(x):\n    return x + {i}\n\n" for i in range(400)
    )  # far over 2000 tokens
    prompt = (
        "import zorblax_client\n\n"
        "def quench_flux(level):\n    return level * 2\n\n" + filler + "class Reactor:\n"
        "    def run(self, level):\n        cooled = quench_flux(level)\n        return "
    )
    relevant = served_prefix(gateway_factory(triton_server.grpc_url, cache_max_entries=0), prompt)
    nearest = served_prefix(
        gateway_factory(triton_server.grpc_url, cache_max_entries=0, trim="nearest"), prompt
    )
    for kept in (relevant, nearest):
        assert kept.endswith("        cooled = quench_flux(level)\n        return ")
        assert "def filler_399(x)" in kept
        assert "def filler_3(x)" not in kept
    assert relevant.startswith("import zorblax_client\ndef quench_flux(level):\n    return level * 2\n")
    assert "class Reactor:\n    def run(self, level):" in relevant
    assert "zorblax_client" not in nearest
    assert "def quench_flux" not in nearest


@pytest.mark.slow
def test_retrieved_chunks_keep_their_share_when_the_prompt_is_trimmed(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    publish_index(tmp_path, index)
    gw = gateway_factory(triton_server.grpc_url, cache_max_entries=0, retrieval={"index_dir": str(index)})
    filler = "".join(f"value_{i} = {i}\n" for i in range(900))  # far over the 2000-token budget
    out = post(gw, "/v1/completions", completion(filler + PROMPT))
    budget = 2000 - 4
    assert out["usage"]["prompt_tokens"] <= budget
    assert out["usage"]["prompt_tokens_trimmed"] > 1000
    assert metric(gw, "seedcoder_gateway_retrieval_chunks_total") >= 1  # still there after trimming
    added = metric(gw, "seedcoder_gateway_retrieval_added_tokens_total")
    assert 30 < added <= 0.25 * budget * 1.1  # within its share (budget_fraction 0.25)
