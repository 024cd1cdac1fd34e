"""``seedcoder evaluate`` against the real gateway, real Triton and the small real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from seedcoder.cli import main as seedcoder
from seedcoder.evaluation import metrics
from seedcoder.evaluation.public import public_tasks
from seedcoder.evaluation.sandbox import run_program

from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

pytestmark = pytest.mark.triton


def test_evaluate_scores_the_served_model_on_the_public_set(
    gateway: GatewayProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "key"
    key.write_text(gateway.api_key + "\n")
    args = ["evaluate", "--endpoint", gateway.url + "/v1", "--model", MODEL_NAME, "--api-key-file", str(key),
            "--tasks", "public", "--limit", "3", "--max-tokens", "16",
            "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"),
            "--compare-model", MODEL_NAME, "--summary", str(tmp_path / "summary.json")]  # fmt: skip
    assert seedcoder(args) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    first, second = report["runs"]
    (only,) = first["sets"]
    assert only["name"] == "public"
    assert only["tasks"] == 3
    assert only["tested"] == 3
    tasks = {t.task_id: t for t in public_tasks()[:3]}
    for result in only["results"]:
        task = tasks[result["task_id"]]
        generated = result["generated"]
        assert isinstance(generated, str)
        assert generated
        assert result["edit_similarity"] == metrics.edit_similarity(generated, task.middle)
        assert result["exact_match"] == metrics.exact_match(generated, task.middle)
        assert result["passed"] == run_program(task.program(generated)).passed  # executed, not guessed
    # greedy decoding: a second pass over the same tasks scores the same (the gate's run-to-run spread)
    assert [r["generated"] for r in second["sets"][0]["results"]] == [r["generated"] for r in only["results"]]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [run["model"] for run in summary["runs"]] == [MODEL_NAME, MODEL_NAME]
    assert summary["runs"][0]["sets"]["public"]["edit_similarity"] == only["edit_similarity"]
    assert "results" not in summary["runs"][0]["sets"]["public"]
    assert len((tmp_path / "summary.json").read_bytes()) < 4096  # fits a termination message
    table = (tmp_path / "r.md").read_text()
    assert table in capsys.readouterr().out
    assert f"| public | 3 | {100 * only['exact_match']:.1f}% |" in table


def test_evaluate_reports_a_refused_key_without_printing_it(
    gateway: GatewayProcess,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDCODER_API_KEY", "sk-wrong-" + "f" * 16)
    args = [
        "evaluate",
        "--endpoint",
        gateway.url + "/v1",
        "--model",
        MODEL_NAME,
        "--tasks",
        "public",
        "--limit",
        "1",
    ]
    assert seedcoder(args) == 1
    err = capsys.readouterr().err
    assert "HTTP 401" in err
    assert "sk-wrong" not in err
    assert seedcoder([*args[:-4], "--tasks", str(tmp_path / "none.jsonl")]) == 2
    assert "no such task file" in capsys.readouterr().err
