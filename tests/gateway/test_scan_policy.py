"""The scan policies end to end: the real gateway process and the real ``tritonserver``.

The generating model here is a TEST MODEL (``scripted_model.py.txt``): a
deterministic Triton Python model that returns the text the prompt asks for,
so that a planted insecure line can be produced on demand; the real model's path
is tested elsewhere. The tokenizer model is the real one (the GGUF vocabulary).

* ``block`` never lets a planted insecure line reach the client, non-streamed or
  streamed (every SSE byte is checked); the next-ranked clean candidate is
  returned; with none clean the choice is empty with ``content_filter``.
* ``annotate`` returns the findings in ``seedcoder.scan`` (and on the streamed
  finish event) and counts them in ``seedcoder_gateway_scan_findings_total``.
* The API deny-list blocks a call resolved through the file's imports.
* Feedback: a planted AWS key is not on disk; the background pass records its
  findings beside the feedback data set.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from seedcoder.engines.llamacpp_repo import generate_config, model_source, tokenize_config, write_files
from seedcoder.gateway.deeppass import read_deep_scans
from seedcoder.gateway.feedback import read_feedback
from seedcoder_dev.localstack.triton import TritonServer

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.triton

PREFIX = "import subprocess\nimport requests\n\n\ndef run(host):\n"
SAFE = '    out = subprocess.run(["ping", "-c", "1", host], check=False)\n    return out.returncode\n'
BAD_LINE = '    subprocess.run("ping -c 1 " + host, shell=True)\n'
INSECURE = "    print(host)\n" + BAD_LINE + "    return 0\n"
DENIED = "    return requests.get(host, timeout=5).text\n"
AWS_KEY = "AKIAZ7QW3ERT6YUI9OPL"


def script(*variants: str) -> str:
    """The marker that makes the test model answer ``variants[seed % len]``."""
    return "SCRIPT[" + "|".join(base64.b64encode(v.encode()).decode() for v in variants) + "]"


@pytest.fixture(scope="module")
def scripted_triton(gguf_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    repo = tmp_path_factory.mktemp("scripted-repository")
    model = str(gguf_model.resolve())
    write_files(
        repo,
        {
            "seedcoder/config.pbtxt": generate_config(
                model, n_ctx=2048, n_threads=1, max_tokens_limit=512, instances=1
            ),
            "seedcoder/1/model.py": (Path(__file__).parent / "scripted_model.py.txt").read_text(),
            "seedcoder_tokenize/config.pbtxt": tokenize_config("gguf", model),
            "seedcoder_tokenize/1/model.py": model_source("tokenize"),
        },
    )
    server = TritonServer()
    server.start(repo, tmp_path_factory.mktemp("scripted-tritonserver"))
    try:
        server.wait_ready(timeout=240, models=("seedcoder", "seedcoder_tokenize"))
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway_with(
    scripted_triton: TritonServer, gateway_factory: Callable[..., GatewayProcess]
) -> Callable[..., GatewayProcess]:
    def make(**scan: Any) -> GatewayProcess:
        return gateway_factory(scripted_triton.grpc_url, scan=scan, cache_max_entries=0, feedback_writer="gw")

    return make


def post(gw: GatewayProcess, path: str, body: dict[str, Any]) -> tuple[int, bytes]:
    req = urllib.request.Request(gw.url + path, json.dumps(body).encode(), gw.headers(), method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return int(resp.status), bytes(resp.read())


def complete(gw: GatewayProcess, *variants: str, **extra: Any) -> bytes:
    body = {"model": MODEL_NAME, "prompt": script(*variants) + "\n" + PREFIX, "max_tokens": 128, **extra}
    code, raw = post(gw, "/v1/completions", body)
    assert code == 200
    return raw


def streamed_text(raw: bytes) -> tuple[str, list[dict[str, Any]]]:
    events = [
        json.loads(line[len(b"data: ") :])
        for line in raw.split(b"\n")
        if line.startswith(b"data: ") and line != b"data: [DONE]"
    ]
    text = "".join(c["text"] for e in events for c in e.get("choices", []))
    return text, events


def metric(gw: GatewayProcess, name: str, **labels: str) -> float:
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
        body = resp.read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_block_drops_the_insecure_candidate_and_returns_the_next_ranked_clean_one(
    gateway_with: Callable[..., GatewayProcess],
) -> None:
    gw = gateway_with(policy="block")
    raw = complete(gw, INSECURE, SAFE, n=2, seed=0)
    body = json.loads(raw)
    assert b"shell=True" not in raw
    assert [c["text"] for c in body["choices"]] == [SAFE]
    assert body["seedcoder"]["scan"]["blocked_candidates"] == 1
    assert body["seedcoder"]["scan"]["blocked"][0][0]["cwe"] == "CWE-78"
    assert (
        metric(gw, "seedcoder_gateway_scan_findings_total", rule="py.subprocess-shell", action="blocked") == 1
    )


def test_block_with_no_clean_candidate_answers_content_filter(
    gateway_with: Callable[..., GatewayProcess],
) -> None:
    gw = gateway_with(policy="block")
    raw = complete(gw, INSECURE)
    body = json.loads(raw)
    assert b"shell=True" not in raw
    assert body["choices"] == [{"text": "", "index": 0, "logprobs": None, "finish_reason": "content_filter"}]


def test_block_streamed_never_sends_the_flagged_line(gateway_with: Callable[..., GatewayProcess]) -> None:
    gw = gateway_with(policy="block")
    raw = complete(gw, INSECURE, stream=True)
    text, events = streamed_text(raw)
    assert b"shell=True" not in raw
    assert b'ping -c 1 \\" + host' not in raw
    assert text == "    print(host)\n"  # the clean line before it was released, nothing after
    finishes = [c["finish_reason"] for e in events for c in e.get("choices", []) if c["finish_reason"]]
    assert finishes == ["content_filter"]
    # a clean completion streams whole
    raw = complete(gw, SAFE, stream=True)
    assert streamed_text(raw)[0] == SAFE


def test_annotate_returns_findings_and_counts_them(gateway_with: Callable[..., GatewayProcess]) -> None:
    gw = gateway_with(policy="annotate")
    raw = complete(gw, INSECURE)
    body = json.loads(raw)
    assert body["choices"][0]["text"] == INSECURE
    (findings,) = body["seedcoder"]["scan"]["findings"]
    assert [(f["rule"], f["cwe"], f["line"]) for f in findings] == [("py.subprocess-shell", "CWE-78", 2)]
    assert (
        metric(gw, "seedcoder_gateway_scan_findings_total", rule="py.subprocess-shell", action="annotated")
        == 1
    )
    raw = complete(gw, INSECURE, stream=True)
    text, events = streamed_text(raw)
    assert text == INSECURE
    scans = [e["seedcoder"]["scan"] for e in events if "seedcoder" in e]
    assert [f["rule"] for f in scans[0]["findings"]] == ["py.subprocess-shell"]
    raw = complete(gw, SAFE)
    assert "findings" in json.loads(raw)["seedcoder"]["scan"]
    assert json.loads(raw)["seedcoder"]["scan"]["findings"] == [[]]


def test_deny_list_blocks_a_call_through_the_files_imports(
    gateway_with: Callable[..., GatewayProcess],
) -> None:
    gw = gateway_with(policy="block", deny_modules=["requests"])
    raw = complete(gw, DENIED)
    body = json.loads(raw)
    assert body["choices"][0]["finish_reason"] == "content_filter"
    assert body["seedcoder"]["scan"]["blocked"] == [[{"rule": "api.denied-module", "cwe": None}]]
    raw = complete(gw, SAFE)
    assert json.loads(raw)["choices"][0]["text"] == SAFE


def test_off_changes_nothing(gateway_with: Callable[..., GatewayProcess]) -> None:
    gw = gateway_with(policy="off")
    raw = complete(gw, INSECURE)
    body = json.loads(raw)
    assert body["choices"][0]["text"] == INSECURE
    assert "scan" not in body["seedcoder"]


def test_metric_series_exist_before_any_finding(gateway_with: Callable[..., GatewayProcess]) -> None:
    gw = gateway_with(policy="block")
    with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
        body = resp.read().decode()
    for name in ("seedcoder_gateway_scan_findings_total", "seedcoder_gateway_scan_deep_findings_total",
                 "seedcoder_gateway_scan_duration_seconds_bucket"):  # fmt: skip
        assert name + "{" in body, name
    assert 'seedcoder_gateway_scan_findings_total{action="blocked",rule="py.eval"} 0.0' in body


def test_feedback_on_disk_has_no_planted_key_and_gets_a_background_scan(
    gateway_with: Callable[..., GatewayProcess],
) -> None:
    gw = gateway_with(policy="annotate")
    planted = f'    key = "{AWS_KEY}"\n    password = "Tr0ub4dor&3x-2024"\n' + BAD_LINE
    raw = complete(gw, planted)
    cid = json.loads(raw)["id"]
    code, raw = post(gw, "/v1/feedback", {"id": cid, "outcome": "accepted"})
    assert code == 201
    on_disk = b"".join(p.read_bytes() for p in gw.feedback_dir.iterdir())
    assert AWS_KEY.encode() not in on_disk
    assert b"Tr0ub4dor" not in on_disk
    (event,) = read_feedback(gw.feedback_dir)
    assert "<SECRET:aws_access_key>" in event["completion"]
    assert "<SECRET:credential>" in event["completion"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not read_deep_scans(gw.feedback_dir):
        time.sleep(0.2)
    (record,) = read_deep_scans(gw.feedback_dir)
    assert record["event_id"] == event["event_id"]
    engines = {f["engine"] for f in record["findings"]}
    assert {"bandit", "fast-rules-whole-file"} <= engines
    assert any(f["cwe"] == 78 and f["engine"] == "bandit" for f in record["findings"])
    assert metric(gw, "seedcoder_gateway_scan_deep_findings_total", engine="bandit") >= 1
