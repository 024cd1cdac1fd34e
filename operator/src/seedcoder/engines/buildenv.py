"""Where the build program's libraries write their caches, and a check that they can.

Why: the build pod runs with a read-only root filesystem and no home directory
(restricted Pod Security). Hugging Face ``datasets`` (the calibration set), the
Hub client, torch (extensions ModelOpt compiles, inductor and Triton-kernel
caches) and CUDA's JIT cache all write under ``$HOME`` or ``~/.cache`` by
default, and fail there mid-build, after the GPU was allocated. The operator
mounts a scratch volume at :data:`SCRATCH_MOUNT` (and a memory-backed
``/dev/shm`` for torch's and NCCL's shared memory) and sets
:func:`build_environment`; the build program checks every one of these
directories is writable before it starts (:func:`unwritable`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

SCRATCH_MOUNT: Final = "/var/tmp/seedcoder"
"""Writable scratch volume (emptyDir) of the build pod: home and caches."""
SHM_MOUNT: Final = "/dev/shm"
"""Memory-backed emptyDir: torch DataLoader workers and NCCL need more than the runtime's 64 MiB."""

CACHE_VARIABLES: Final = (
    "HOME",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "HF_DATASETS_CACHE",
    "TORCH_HOME",
    "TORCH_EXTENSIONS_DIR",
    "TORCHINDUCTOR_CACHE_DIR",
    "TRITON_CACHE_DIR",
    "CUDA_CACHE_PATH",
    "TMPDIR",
)
"""Environment variables naming directories the build's libraries write to."""


def build_environment(scratch: str = SCRATCH_MOUNT) -> dict[str, str]:
    """Every variable of :data:`CACHE_VARIABLES`, pointing under ``scratch`` (``TMPDIR``: ``/tmp``)."""
    cache = f"{scratch}/cache"
    return {
        "HOME": f"{scratch}/home",
        "XDG_CACHE_HOME": cache,
        "HF_HOME": f"{cache}/huggingface",
        "HF_DATASETS_CACHE": f"{cache}/huggingface/datasets",
        "TORCH_HOME": f"{cache}/torch",
        "TORCH_EXTENSIONS_DIR": f"{cache}/torch_extensions",
        "TORCHINDUCTOR_CACHE_DIR": f"{cache}/torchinductor",
        "TRITON_CACHE_DIR": f"{cache}/triton",
        "CUDA_CACHE_PATH": f"{cache}/nv/ComputeCache",
        "TMPDIR": "/tmp",
    }


def unwritable(env: Mapping[str, str] | None = None) -> list[str]:
    """``NAME=path (why)`` for each cache variable set in ``env`` whose directory cannot be written."""
    env = os.environ if env is None else env
    problems = []
    for name in CACHE_VARIABLES:
        path = env.get(name)
        if not path:
            continue
        try:
            Path(path).mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            problems.append(f"{name}={path} ({exc.strerror or exc})")
    return problems
