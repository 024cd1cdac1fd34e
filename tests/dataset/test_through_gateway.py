"""The loop's first half for real: completions accepted through the gateway become a data set
whose held-out part the harness scores against the same gateway."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from seedcoder.api.finetune import GateSpec, RunScores, SetScores
from seedcoder.cli import main as seedcoder
from seedcoder.evaluation.public import public_tasks
from seedcoder.finetune.gate import decide, scores_from_summary

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = [pytest.mark.triton, pytest.mark.slow]

MAX_TOKENS = 12


def _post(gw: GatewayProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(gw.url + path, json.dumps(body).encode(), gw.headers(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_accepted_completions_become_a_held_out_set_the_model_reproduces(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    gw = gateway_factory(triton_server.grpc_url)
    holes = public_tasks()[::8][:6]  # six different functions, one hole each
    for n, task in enumerate(holes):
        prefix = f"# path: team/util_{n}.py\n" + task.prefix
        done = _post(gw, "/v1/completions", {"model": MODEL_NAME, "prompt": prefix, "suffix": task.suffix,
                                             "max_tokens": MAX_TOKENS, "temperature": 0})  # fmt: skip
        _post(gw, "/v1/feedback", {"id": done["id"], "outcome": "accepted"})
    rejected = _post(gw, "/v1/completions", {"model": MODEL_NAME, "prompt": "x = ", "max_tokens": 4})
    _post(gw, "/v1/feedback", {"id": rejected["id"], "outcome": "rejected"})

    out = tmp_path / "sets"
    build = ["dataset", "build", "--feedback", str(gw.feedback_dir), "--out", str(out),
             "--held-out-fraction", "0.5", "--min-middle-chars", "1"]  # fmt: skip
    assert seedcoder(build) == 0
    (snapshot,) = out.iterdir()
    manifest = json.loads((snapshot / "manifest.json").read_text())
    counts = manifest["counts"]
    assert counts["events"] == 7
    assert counts["ignored_rejected"] == 1
    assert counts["train"] + counts["heldout"] + counts.get("dropped_too_short", 0) == 6
    assert counts["heldout"] >= 1
    # prefix and suffix were stored as the gateway received them: greedy decoding writes the same middles
    key = tmp_path / "key"
    key.write_text(gw.api_key)
    evaluate = ["evaluate", "--endpoint", gw.url + "/v1", "--model", MODEL_NAME, "--api-key-file", str(key),
                "--tasks", f"heldout={snapshot / 'heldout.jsonl'}", "--max-tokens", str(MAX_TOKENS),
                "--json", str(tmp_path / "report.json"),
                "--compare-model", MODEL_NAME, "--summary", str(tmp_path / "summary.json")]  # fmt: skip
    assert seedcoder(evaluate) == 0
    base, again = (run["sets"] for run in json.loads((tmp_path / "report.json").read_text())["runs"])
    (report,) = base
    assert report["tasks"] == counts["heldout"]
    assert report["exact_match"] == 1.0
    assert report["pass_at_1"] is None  # accepted completions carry no tests
    assert again[0]["exact_match"] == 1.0
    # the gate reads the real summary: a model compared with itself is never published
    runs = json.loads((tmp_path / "summary.json").read_text())["runs"]
    sets = runs[0]["sets"]
    scores = RunScores(
        base_held_out=SetScores(
            **{k: sets["heldout"][k] for k in ("tasks", "exact_match", "edit_similarity")}
        ),
        adapter_held_out=SetScores(
            **{k: sets["heldout"][k] for k in ("tasks", "exact_match", "edit_similarity")}
        ),
    )
    assert (
        scores_from_summary(
            json.dumps({"runs": [{"model": "a", "sets": sets}, {"model": "b", "sets": runs[1]["sets"]}]}),
            "a",
            "b",
        ).adapter_held_out
        == scores.adapter_held_out
    )
    decision = decide(
        scores.model_copy(
            update={"base_public": scores.base_held_out, "adapter_public": scores.base_held_out}
        ),
        GateSpec(api_key_secret_ref="k", min_held_out_tasks=1),
    )
    assert decision.reason == "HeldOutNotImproved"
    assert decision.held_out_delta == 0.0
