"""The digest of the packaged source that generates an engine's Triton model repository.

Why: the published artifact holds the Triton repository next to the engine (the
BLS ``model.py``, the tokenize and llama.cpp models, the ``config.pbtxt`` files
rendered by the repository writers). A fix to any of them must reach the pools,
so the digest of those sources is part of the engine key
(``EngineInputs.repository_source``): changing one file builds a new artifact and
rolls every pool onto it, instead of leaving old repositories in the cache
looking current. The build program recomputes the digest from its own package and
refuses a plan made from different sources.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

SOURCES: tuple[str, ...] = (
    "triton_models/llamacpp.py.txt",
    "triton_models/tokenize.py.txt",
    "triton_models/trtllm_bls.py.txt",
    "contract.py",
    "layout.py",
    "llamacpp_repo.py",
    "lora.py",
    "pbtxt.py",
    "trtllm_args.py",
    "trtllm_repo.py",
)
"""Files of ``seedcoder.engines`` whose bytes shape the generated repository."""
DIGEST_LENGTH = 16


def digest_of(files: dict[str, bytes]) -> str:
    """sha256 over the sorted (name, sha256(content)) pairs, first 16 hex characters."""
    outer = hashlib.sha256()
    for name in sorted(files):
        outer.update(name.encode("utf-8") + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return outer.hexdigest()[:DIGEST_LENGTH]


def packaged_sources() -> dict[str, bytes]:
    """The bytes of every file in :data:`SOURCES`, as installed."""
    root = resources.files("seedcoder.engines")
    return {name: root.joinpath(name).read_bytes() for name in SOURCES}


@cache
def repository_source_digest() -> str:
    """The digest of this installation's repository sources (computed once per process)."""
    return digest_of(packaged_sources())
