"""The committed monitoring files equal a fresh rendering (run tools/render-manifests.sh to refresh)."""

from __future__ import annotations

from pathlib import Path

import pytest
from seedcoder.observability import render

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("rel", sorted(render.generated_files()), ids=str)
def test_committed_file_is_current(rel: Path) -> None:
    path = ROOT / rel
    assert path.is_file(), f"{rel} is missing: run tools/render-manifests.sh"
    assert path.read_text() == render.generated_files()[rel], f"{rel} is stale: run tools/render-manifests.sh"


def test_write_reports_only_changes(tmp_path: Path) -> None:
    assert sorted(render.write(tmp_path)) == sorted(render.generated_files())
    assert render.write(tmp_path) == []
