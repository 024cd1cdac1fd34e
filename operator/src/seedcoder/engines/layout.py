"""Where things live in the engine cache: the one definition of its paths.

Why one module: the build program publishes ``<cache>/engines/<key>/``, the
Triton model repository it generates names the engine and tokenizer inside it by
absolute path, and the operator mounts the cache in build pods and (read-only)
in Triton pods and points ``--model-repository`` at the repository. If any of
them spelled a path differently, Triton would start on a directory that does not
exist; so all of them take the mount path and every path under it from here.

Layout::

    <cache>/engines/<key>/manifest.json   written last: marks the artifact complete
    <cache>/engines/<key>/engine/         TensorRT-LLM engine (or the GGUF file)
    <cache>/engines/<key>/tokenizer/      tokenizer files (TensorRT-LLM only)
    <cache>/engines/<key>/triton/         Triton model repository (``--model-repository``)
    <cache>/engines/.tmp-<key>-<random>/  a build in progress (or an abandoned one)
    <cache>/downloads/<revision>/         weights fetched from S3 / Hugging Face
"""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath
from typing import Final

CACHE_MOUNT: Final = "/var/cache/seedcoder"
"""Mount path of the engine cache volume, the same in build pods and (read-only) in Triton pods."""

ENGINES: Final = "engines"
DOWNLOADS: Final = "downloads"
MANIFEST: Final = "manifest.json"
ENGINE: Final = "engine"
TOKENIZER: Final = "tokenizer"
REPOSITORY: Final = "triton"


def engines_root(cache_root: str | PurePath) -> str:
    """``<cache>/engines``: every published artifact and every build in progress."""
    return str(PurePosixPath(cache_root) / ENGINES)


def artifact_dir(cache_root: str | PurePath, key: str) -> str:
    """``<cache>/engines/<key>``: the published artifact of engine ``key``."""
    return str(PurePosixPath(cache_root) / ENGINES / key)


def engine_dir(cache_root: str | PurePath, key: str) -> str:
    """``<cache>/engines/<key>/engine``: the TensorRT-LLM engine (or the GGUF file)."""
    return str(PurePosixPath(artifact_dir(cache_root, key)) / ENGINE)


def tokenizer_dir(cache_root: str | PurePath, key: str) -> str:
    """``<cache>/engines/<key>/tokenizer``: the tokenizer files (TensorRT-LLM only)."""
    return str(PurePosixPath(artifact_dir(cache_root, key)) / TOKENIZER)


def repository_dir(cache_root: str | PurePath, key: str) -> str:
    """``<cache>/engines/<key>/triton``: the Triton model repository (``--model-repository``)."""
    return str(PurePosixPath(artifact_dir(cache_root, key)) / REPOSITORY)
