"""The fine-tuning benchmark's data step, fast: holes from this repository, recorded through the real
gateway's feedback endpoint (real Triton, the demo model), then ``seedcoder dataset build``.

The benchmark (``make bench-finetune``) runs the same step on every file, then trains; here a
handful of files, so that it costs seconds and needs no torch.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from seedcoder.cli import main as seedcoder

from benchmarks.finetune_data import Hole, holes_in_file, record, repository_holes
from tests.fixtures.gateway import MODEL_NAME, GatewayProcess

ROOT = Path(__file__).resolve().parents[2]


def test_a_hole_is_a_contiguous_piece_of_its_file_with_a_path_header() -> None:
    source = (ROOT / "operator/src/seedcoder/finetune/gate.py").read_text()
    holes = holes_in_file(source, "operator/src/seedcoder/finetune/gate.py", random.Random(3), per_file=6)
    assert len(holes) == 6
    for hole in holes:
        header, _, prefix = hole.prefix.partition("\n")
        assert header == "# path: operator/src/seedcoder/finetune/gate.py"
        assert prefix + hole.middle + hole.suffix in source
        assert hole.middle.endswith("\n")
        assert hole.middle.strip()
        assert len(prefix.splitlines()) <= 9  # eight lines before and the cursor line's start
        assert len(hole.suffix.splitlines()) <= 3


def test_the_same_repository_gives_the_same_holes() -> None:
    first = repository_holes(ROOT, "operator/src/seedcoder/finetune", per_file=2, seed=1)
    assert first == repository_holes(ROOT, "operator/src/seedcoder/finetune", per_file=2, seed=1)
    assert first != repository_holes(ROOT, "operator/src/seedcoder/finetune", per_file=2, seed=2)
    assert all(not h.path.endswith("__init__.py") for h in first)


@pytest.mark.triton
def test_recorded_feedback_becomes_a_data_set_split_by_file(
    triton_server: Any, gateway_factory: Callable[..., GatewayProcess], tmp_path: Path
) -> None:
    gw = gateway_factory(triton_server.grpc_url, cache_max_entries=0)
    holes: list[Hole] = repository_holes(ROOT, "operator/src/seedcoder/dataset", per_file=2)
    assert len({h.path for h in holes}) >= 3
    ids = list(record(gw.url, gw.api_key, MODEL_NAME, holes))
    assert len(set(ids)) == len(holes)

    out = tmp_path / "datasets"
    assert seedcoder(["dataset", "build", "--feedback", str(gw.feedback_dir), "--out", str(out),
                      "--held-out-fraction", "0.3", "--summary", str(tmp_path / "m.json")]) == 0  # fmt: skip
    manifest = json.loads((tmp_path / "m.json").read_text())
    snapshot = out / manifest["version"]
    train = [json.loads(line) for line in (snapshot / "train.jsonl").read_text().splitlines()]
    heldout = [json.loads(line) for line in (snapshot / "heldout.jsonl").read_text().splitlines()]
    assert train
    assert heldout
    assert manifest["counts"]["edited"] == len(holes)  # every record carried its prompt and the kept code
    assert len(train) + len(heldout) + sum(
        v for k, v in manifest["counts"].items() if k.startswith("dropped")
    ) == len(holes)
    # what the gateway received is what the data set holds, in Seed-Coder's SPM order
    by_prompt = {(h.prefix, h.suffix): h.middle for h in holes}
    for row in train:
        assert by_prompt[(row["prefix"], row["suffix"])] == row["middle"]
        assert row["text"] == (f"<[fim-suffix]>{row['suffix']}<[fim-prefix]>{row['prefix']}<[fim-middle]>"
                               f"{row['middle']}<[end▁of▁sentence]>")  # fmt: skip
    for task in heldout:
        assert by_prompt[(task["prefix"], task["suffix"])] == task["middle"]
    # split by file: no file on both sides
    train_files = {row["prefix"].partition("\n")[0] for row in train}
    heldout_files = {task["prefix"].partition("\n")[0] for task in heldout}
    assert not train_files & heldout_files
