"""Calibration data for the quantised precisions (INT8 SmoothQuant, INT4 AWQ, FP8 scales).

Why: ModelOpt calibrates on sample text, and the build has no internet. TensorRT-LLM's
calibration loader reads a local directory with ``datasets.load_dataset(dir,
split="train")["text"]``: data files with a ``text`` column, not a ``save_to_disk``
dataset. This package ships a small set made from permissively licensed code
(``code.jsonl``, see README.md) and checks a user-supplied directory for that format
before the GPU step starts, so a wrong layout fails in seconds with a clear error.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final, Literal

CalibrationSource = Literal["builtin", "modelSource"]
BUILTIN_FILE: Final = "code.jsonl"
MODEL_SOURCE_DIR: Final = "calibration"
"""Where a ``modelSource`` calibration set lives inside the model directory."""
DATA_SUFFIXES: Final = (".jsonl", ".json", ".parquet", ".csv", ".txt")
"""File types ``datasets.load_dataset(dir)`` reads with its packaged builders."""
SAVE_TO_DISK_MARKERS: Final = ("dataset_info.json", "state.json", "dataset_dict.json")


class CalibrationError(ValueError):
    """The calibration data is missing or in a format TensorRT-LLM's loader cannot read."""


def builtin_bytes() -> bytes:
    return resources.files(__name__).joinpath(BUILTIN_FILE).read_bytes()


@cache
def builtin_digest() -> str:
    """First 16 hex characters of the built-in set's sha256 (part of the engine key)."""
    return hashlib.sha256(builtin_bytes()).hexdigest()[:16]


def key_value(source: CalibrationSource) -> str:
    """What the engine key records for a calibration source."""
    return f"builtin-{builtin_digest()}" if source == "builtin" else "modelSource"


def write_builtin(dest: Path) -> Path:
    """Copy the built-in set into ``dest`` (a directory the loader then reads); returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / BUILTIN_FILE).write_bytes(builtin_bytes())
    return dest


def check_directory(path: Path) -> int:
    """Samples in a calibration directory (JSON Lines counted; other formats: files); raises when unusable."""
    fix = (
        f"put data files ({', '.join(DATA_SUFFIXES)}) with a 'text' column in {path}: "
        "TensorRT-LLM reads it with datasets.load_dataset(dir, split='train')['text']"
    )
    if not path.is_dir():
        raise CalibrationError(f"no calibration directory {path}; {fix}")
    names = {p.name for p in path.iterdir()}
    if names & set(SAVE_TO_DISK_MARKERS) or any(n.endswith(".arrow") for n in names):
        raise CalibrationError(
            f"{path} holds a Dataset.save_to_disk() dataset, which load_dataset(dir) does not read; "
            f"export it instead (dataset.to_json('{path}/calibration.jsonl')); {fix}"
        )
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in DATA_SUFFIXES)
    if not files:
        raise CalibrationError(f"{path} has no data files; {fix}")
    samples = 0
    for file in files:
        if file.suffix != ".jsonl":
            samples += 1
            continue
        for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise CalibrationError(f"{file.name} line {n} is not JSON; {fix}") from None
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise CalibrationError(f"{file.name} line {n} has no string 'text' field; {fix}")
            samples += 1
    return samples


def source_of(key_value_: str) -> CalibrationSource:
    """The source an engine key's calibration value names; a built-in set of other bytes is refused."""
    if key_value_ == "modelSource":
        return "modelSource"
    if key_value_ != key_value("builtin"):
        raise CalibrationError(
            f"the plan's calibration set {key_value_} is not this build program's built-in set "
            f"({key_value('builtin')}): the operator and the build image run different seedcoder versions"
        )
    return "builtin"


def prepare(key_value_: str, model_dir: Path, scratch: Path) -> Path:
    """The directory to hand TensorRT-LLM's ``CalibConfig(calib_dataset=...)``, checked."""
    if source_of(key_value_) == "builtin":
        path = write_builtin(scratch / "calibration")
    else:
        path = model_dir / MODEL_SOURCE_DIR
    check_directory(path)
    return path
