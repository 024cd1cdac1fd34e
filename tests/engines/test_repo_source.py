"""The Triton repository's sources are part of the engine key: any change builds a new artifact."""

from __future__ import annotations

from importlib import resources

import pytest
from seedcoder.engines import repo_source
from seedcoder.engines.key import engine_inputs_for, engine_key
from seedcoder.engines.profiles import get_profile

REV = "0123456789abcdef0123456789abcdef01234567"


def test_every_packaged_triton_model_and_repository_writer_is_hashed() -> None:
    root = resources.files("seedcoder.engines")
    models = {f"triton_models/{p.name}" for p in root.joinpath("triton_models").iterdir()}
    assert models <= set(repo_source.SOURCES)
    for writer in ("trtllm_repo.py", "llamacpp_repo.py", "pbtxt.py", "contract.py", "layout.py"):
        assert writer in repo_source.SOURCES


def test_the_digest_is_of_the_installed_sources() -> None:
    assert repo_source.repository_source_digest() == repo_source.digest_of(repo_source.packaged_sources())
    assert len(repo_source.repository_source_digest()) == repo_source.DIGEST_LENGTH


@pytest.mark.parametrize("gpu", ["H100", "CPU"])
@pytest.mark.parametrize("name", repo_source.SOURCES)
def test_changing_any_source_file_changes_the_engine_key(
    monkeypatch: pytest.MonkeyPatch, gpu: str, name: str
) -> None:
    profile = get_profile(gpu)
    before = engine_key(engine_inputs_for(profile, "m/x", REV, "auto", profile.build_limits))
    files = dict(repo_source.packaged_sources())
    files[name] = files[name] + b"\n# a one-line fix\n"
    monkeypatch.setattr(repo_source, "repository_source_digest", lambda: repo_source.digest_of(files))
    after = engine_key(engine_inputs_for(profile, "m/x", REV, "auto", profile.build_limits))
    assert after != before
