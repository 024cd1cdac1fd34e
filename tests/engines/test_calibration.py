"""Calibration data: the format TensorRT-LLM's loader reads, the shipped set, and the choice in the CRD."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from seedcoder.engines import calibration
from seedcoder.engines.buildcmd import ModelSource, build_command, make_plan, parse_build_args
from seedcoder.engines.builders import BuildError, BuildJob, TrtllmEngineBuilder
from seedcoder.engines.key import engine_inputs_for, engine_key
from seedcoder.engines.profiles import CALIBRATED_PRECISIONS, get_profile
from seedcoder.engines.trtllm_args import trtllm_build_args

REV = "0123456789abcdef0123456789abcdef01234567"


def test_the_shipped_set_is_text_rows_of_permissively_licensed_code(tmp_path: Path) -> None:
    path = calibration.write_builtin(tmp_path / "calib")
    assert calibration.check_directory(path) >= 128
    rows = [json.loads(line) for line in (path / calibration.BUILTIN_FILE).read_text().splitlines()]
    assert all(set(r) == {"text"} and len(r["text"]) >= 400 for r in rows)
    assert any("def " in r["text"] for r in rows)  # code, not prose only
    readme = Path(calibration.__file__).with_name("README.md").read_text()
    assert "Apache License 2.0" in readme


def test_a_save_to_disk_dataset_is_refused_with_the_real_format(tmp_path: Path) -> None:
    d = tmp_path / "calibration"
    d.mkdir()
    (d / "dataset_info.json").write_text("{}")
    (d / "state.json").write_text("{}")
    (d / "data-00000-of-00001.arrow").write_bytes(b"")
    with pytest.raises(
        calibration.CalibrationError, match=r"save_to_disk.*load_dataset\(dir, split='train'\)"
    ):
        calibration.check_directory(d)


def test_rows_without_a_text_column_are_refused(tmp_path: Path) -> None:
    d = tmp_path / "calibration"
    d.mkdir()
    (d / "calib.jsonl").write_text('{"text": "def f(): pass"}\n{"content": "x"}\n')
    with pytest.raises(calibration.CalibrationError, match="line 2 has no string 'text' field"):
        calibration.check_directory(d)


def test_quantised_precisions_name_their_calibration_set_in_the_key() -> None:
    a100 = get_profile("A100")
    for precision in ("int8-sq", "int4-awq"):
        builtin = engine_inputs_for(a100, "m/x", REV, precision, a100.build_limits)
        own = engine_inputs_for(
            a100, "m/x", REV, precision, a100.build_limits, calibration_source="modelSource"
        )
        assert builtin.calibration == f"builtin-{calibration.builtin_digest()}"
        assert own.calibration == "modelSource"
        assert engine_key(builtin) != engine_key(own)
        assert trtllm_build_args(builtin).needs_calibration
    bf16 = engine_inputs_for(a100, "m/x", REV, "bf16", a100.build_limits, calibration_source="modelSource")
    assert bf16.calibration is None  # nothing to calibrate: the choice does not split engines
    for gpu in ("H100", "A100", "L40S"):
        p = get_profile(gpu)
        for precision in p.supported_precisions:
            args = trtllm_build_args(engine_inputs_for(p, "m/x", REV, precision, p.build_limits))
            assert args.needs_calibration == (precision in CALIBRATED_PRECISIONS), (gpu, precision)


def _job(tmp_path: Path, source: calibration.CalibrationSource) -> BuildJob:
    p = get_profile("A100")
    plan = make_plan(
        p,
        model_name="m/x",
        revision=REV,
        precision="int8-sq",
        limits=p.build_limits,
        source=ModelSource(kind="pvc", location=str(tmp_path / "model")),
        cache_dir=str(tmp_path / "cache"),
        calibration_source=source,
    )
    assert parse_build_args(build_command(plan)) == plan
    (tmp_path / "model").mkdir(exist_ok=True)
    (tmp_path / "engine").mkdir(exist_ok=True)
    return BuildJob(plan, tmp_path / "model", tmp_path / "engine", lambda *a: None)


def test_a_model_source_set_in_the_wrong_format_fails_before_tensorrt_llm_loads(tmp_path: Path) -> None:
    job = _job(tmp_path, "modelSource")
    (tmp_path / "model" / "calibration").mkdir()
    (tmp_path / "model" / "calibration" / "state.json").write_text("{}")
    with pytest.raises(BuildError, match="save_to_disk"):
        TrtllmEngineBuilder().build(job)


def test_the_builtin_set_reaches_the_loader(tmp_path: Path) -> None:
    """No model-source calibration directory needed: the build gets as far as importing TensorRT-LLM."""
    with pytest.raises(BuildError, match="TensorRT-LLM is not importable"):
        TrtllmEngineBuilder().build(_job(tmp_path, "builtin"))


def test_a_plan_naming_another_builtin_set_is_refused(tmp_path: Path) -> None:
    job = _job(tmp_path, "builtin")
    other = job.plan.inputs.model_copy(update={"calibration": "builtin-0000000000000000"})
    plan = job.plan.model_copy(update={"inputs": other, "key": engine_key(other)})
    with pytest.raises(BuildError, match="different seedcoder versions"):
        TrtllmEngineBuilder().build(BuildJob(plan, job.model_dir, job.engine_dir, job.progress))
