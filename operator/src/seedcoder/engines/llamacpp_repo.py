"""The Triton model repository that serves a GGUF model with llama.cpp.

Why: CPU pools, the local stack and the tests all serve through the real Triton
with the same ``seedcoder`` / ``seedcoder_tokenize`` interface as the TensorRT-LLM
repository. Rendering (pure, :func:`llamacpp_repository_files`) is separate from
writing (:func:`write_llamacpp_repository`). The model code is the Python-backend
model in the top-level ``engines/triton/`` folder, shipped in the package as
``triton_models/*.py.txt`` (links to those files) and copied in as ``1/model.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from seedcoder.engines import pbtxt
from seedcoder.engines.contract import (
    GENERATE_INPUTS,
    GENERATE_OUTPUTS,
    MODEL_NAME,
    TOKENIZE_INPUTS,
    TOKENIZE_MODEL_NAME,
    TOKENIZE_OUTPUTS,
)

THREADS_ENV = "SEEDCODER_LLAMACPP_THREADS"
"""Set by the operator on CPU-pool Triton containers from their CPU request (downward API)."""
AUTO_THREADS = "auto"
"""``n_threads`` value meaning: as many threads as the serving container has CPUs."""


def resolve_threads(value: str, env: Mapping[str, str] | None = None, cpus: int | None = None) -> int:
    """llama.cpp threads for an ``n_threads`` parameter of ``value``.

    A number is taken as is. ``auto`` (what the build program writes: one engine may
    serve pools of different sizes) follows the container: :data:`THREADS_ENV`, which
    the operator fills from the CPU request (rounded up; the request is never above
    the limit), else the CPUs the process may run on. More threads than CPUs makes
    llama.cpp's threads wait on each other (and on CFS throttling at the limit).
    """
    env = os.environ if env is None else env
    if value != AUTO_THREADS:
        threads = int(value)
    elif env.get(THREADS_ENV, "").strip():
        threads = int(env[THREADS_ENV])
    else:
        threads = cpus if cpus is not None else len(os.sched_getaffinity(0))
    if threads < 1:
        raise ValueError(f"n_threads must be at least 1, got {value!r} -> {threads}")
    return threads


def model_source(name: str) -> str:
    """The source of a packaged Triton Python model (``llamacpp`` or ``tokenize``)."""
    return resources.files("seedcoder.engines").joinpath("triton_models", f"{name}.py.txt").read_text("utf-8")


ALL_LAYERS = -1
"""``n_gpu_layers`` value that offloads every layer to the GPU (llama.cpp built with CUDA)."""


def generate_config(
    model_path: str,
    *,
    n_ctx: int,
    n_threads: int | str,
    max_tokens_limit: int,
    instances: int,
    n_gpu_layers: int = 0,
    lora_dir: str = "",
    max_loras: int = 8,
) -> str:
    gpu = (
        [
            pbtxt.Param(
                "n_gpu_layers",
                str(n_gpu_layers),
                "Layers offloaded to the GPU (-1: all; the image's llama.cpp is built with CUDA).",
            )
        ]
        if n_gpu_layers
        else []
    )
    return "".join(
        [
            pbtxt.header(
                MODEL_NAME, "python", 0, "llama.cpp runtime; no batch dimension (one request per context)."
            ),
            pbtxt.decoupled("Streaming: one response per token, the last flagged final."),
            pbtxt.tensors("input", GENERATE_INPUTS),
            pbtxt.tensors("output", GENERATE_OUTPUTS),
            pbtxt.instance_group(
                instances,
                "KIND_CPU",
                "One llama.cpp context per instance; a context is not thread-safe, generation is serialised.",
            ),
            pbtxt.parameters(
                [
                    pbtxt.Param(
                        "model_path", model_path, "The GGUF file (absolute path in the serving pod)."
                    ),
                    pbtxt.Param("n_ctx", str(n_ctx), "Context window: prompt plus generated tokens."),
                    pbtxt.Param(
                        "n_threads",
                        str(n_threads),
                        f"CPU threads per context; {AUTO_THREADS}: the pod's CPU request ({THREADS_ENV})",
                    ),
                    pbtxt.Param(
                        "max_tokens_limit",
                        str(max_tokens_limit),
                        "Largest max_tokens accepted (profile limit).",
                    ),
                    *gpu,
                    pbtxt.Param(
                        "lora_dir",
                        lora_dir,
                        "Folder of published GGUF LoRA adapters (read-only); empty: no adapters served.",
                    ),
                    pbtxt.Param(
                        "max_loras",
                        str(max_loras),
                        "Adapters kept loaded per instance (least recently used freed first).",
                    ),
                ]
            ),
        ]
    )


def tokenize_config(tokenizer_kind: str, tokenizer_path: str) -> str:
    return "".join(
        [
            pbtxt.header(
                TOKENIZE_MODEL_NAME, "python", 0, "Counts prompt tokens for the gateway's context budget."
            ),
            pbtxt.tensors("input", TOKENIZE_INPUTS),
            pbtxt.tensors("output", TOKENIZE_OUTPUTS),
            pbtxt.instance_group(1, "KIND_CPU", "Tokenising is cheap; one instance is enough."),
            pbtxt.parameters(
                [
                    pbtxt.Param("tokenizer_kind", tokenizer_kind, "gguf or huggingface."),
                    pbtxt.Param("tokenizer_path", tokenizer_path, "The serving model's own tokenizer."),
                ]
            ),
        ]
    )


def llamacpp_repository_files(
    model_path: str,
    *,
    n_ctx: int = 2048,
    n_threads: int | str = 2,
    max_tokens_limit: int = 512,
    instances: int = 1,
    n_gpu_layers: int = 0,
    lora_dir: str = "",
) -> dict[str, str]:
    """Relative path -> content of every file in the repository (``n_gpu_layers``: 0 on CPU)."""
    if max_tokens_limit >= n_ctx:
        raise ValueError(f"max_tokens_limit ({max_tokens_limit}) must be below n_ctx ({n_ctx})")
    return {
        f"{MODEL_NAME}/config.pbtxt": generate_config(
            model_path,
            n_ctx=n_ctx,
            n_threads=n_threads,
            max_tokens_limit=max_tokens_limit,
            instances=instances,
            n_gpu_layers=n_gpu_layers,
            lora_dir=lora_dir,
        ),
        f"{MODEL_NAME}/1/model.py": model_source("llamacpp"),
        f"{TOKENIZE_MODEL_NAME}/config.pbtxt": tokenize_config("gguf", model_path),
        f"{TOKENIZE_MODEL_NAME}/1/model.py": model_source("tokenize"),
    }


def write_files(dest: Path, files: dict[str, str]) -> Path:
    """Write ``files`` under ``dest`` (created if needed); returns ``dest``."""
    for rel, content in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return dest


def write_llamacpp_repository(
    dest: Path,
    model_path: Path,
    *,
    n_ctx: int = 2048,
    n_threads: int | str = 2,
    max_tokens_limit: int = 512,
    instances: int = 1,
    lora_dir: Path | None = None,
) -> Path:
    """Write the llama.cpp model repository for ``model_path`` into ``dest`` (``lora_dir``: adapters)."""
    files = llamacpp_repository_files(
        str(model_path.resolve()),
        n_ctx=n_ctx,
        n_threads=n_threads,
        max_tokens_limit=max_tokens_limit,
        instances=instances,
        lora_dir=str(lora_dir.resolve()) if lora_dir is not None else "",
    )
    return write_files(dest, files)
