"""The training program's pure parts, and that every planned Job's command line is one its program accepts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from seedcoder.dataset.cli import _parser as dataset_parser
from seedcoder.evaluation.cli import _parser as evaluate_parser
from seedcoder.finetune import plan
from seedcoder.finetune.train import EOS, FIM_MIDDLE, FimSample, config_from_args, load_samples, main

from tests.finetune.test_plan import _ctx


def test_cutting_keeps_the_hole_and_its_nearest_context() -> None:
    s = FimSample(prefix="p" * 300 + "NEAR_P", suffix="NEAR_S" + "s" * 300, middle="return value")
    assert s.cut(10_000) is s
    cut = s.cut(200)
    assert cut is not None
    assert len(cut.prompt()) + len(cut.target()) <= 200
    assert cut.middle == s.middle
    assert cut.prefix.endswith("NEAR_P")
    assert cut.suffix.startswith("NEAR_S")
    assert len(cut.prefix) > len(cut.suffix)  # two to one towards the prefix
    assert s.cut(20) is None  # the middle alone does not fit
    assert s.prompt().endswith(FIM_MIDDLE)
    assert s.target().endswith(EOS)


def test_samples_load_from_a_snapshot_line_format(tmp_path: Path) -> None:
    good = {"prefix": "a = ", "suffix": "\n", "middle": "1", "text": "...", "group": "g"}
    (tmp_path / "train.jsonl").write_text(json.dumps(good) + "\n")
    assert load_samples(tmp_path / "train.jsonl") == [FimSample("a = ", "\n", "1")]
    (tmp_path / "bad.jsonl").write_text(json.dumps({"prefix": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: not a training sample"):
        load_samples(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="no such training file"):
        load_samples(tmp_path / "none.jsonl")


def test_bad_arguments_fail_before_any_weights_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", "--train", str(tmp_path / "none.jsonl"), "--base-model", "m", "--out", str(tmp_path)]
    assert main(base) == 2
    assert "no such training file" in capsys.readouterr().err
    assert main([*base, "--rank", "0"]) == 2
    assert "--rank must be at least 1" in capsys.readouterr().err
    assert main([]) == 2


def test_planned_commands_parse_with_their_programs() -> None:
    ctx = _ctx()
    train = plan.training_job(ctx, "v1")["spec"]["template"]["spec"]["containers"][0]["command"]
    cfg = config_from_args(train[3:])
    assert (cfg.rank, cfg.alpha, cfg.steps) == (8, 16, 300)
    assert cfg.target_modules == ("q_proj", "k_proj", "v_proj", "o_proj")
    dataset = plan.dataset_job(ctx)["spec"]["template"]["spec"]["containers"][0]["command"]
    assert dataset_parser().parse_args(dataset[2:]).held_out_fraction == 0.1
    evaluate = plan.evaluation_job(ctx, "v1")["spec"]["template"]["spec"]["containers"][0]["command"]
    args = evaluate_parser().parse_args(evaluate[2:])
    assert args.tasks == ["public", "heldout=/workspace/datasets/team-a-tune/v1/heldout.jsonl"]


def test_without_the_training_packages_the_program_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if importlib.util.find_spec("torch") is not None:  # this environment is the training image
        return
    (tmp_path / "train.jsonl").write_text(json.dumps({"prefix": "a = ", "suffix": "", "middle": "1"}) + "\n")
    args = [
        "train",
        "--train",
        str(tmp_path / "train.jsonl"),
        "--base-model",
        "m",
        "--out",
        str(tmp_path / "o"),
    ]
    assert main(args) == 2
    assert "torch>=2.4, transformers>=4.56, peft>=0.13 are needed" in capsys.readouterr().err
