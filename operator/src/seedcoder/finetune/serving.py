"""What the gateway configuration says about a fine-tuning run's adapter: the entry the operator writes.

Why here, pure: the reconcile of a SeedCoderFineTune adds the staged adapter
(unpublished, for the evaluation Job) and then the published one to the
deployment's gateway configuration (``GatewayConfig.adapters``), and removes it on
rollback; these builders are the one place that decides the entry's name, files
and TensorRT-LLM task id, so the serving side (``seedcoder.api.adapters``,
``seedcoder.engines.lora``) and the fine-tuning side cannot disagree.

Files: the training Job writes ``adapters/<finetune>/<run>/`` in the workspace
claim (``finetune.plan``); next to PEFT's files it holds the GGUF LoRA
(:data:`GGUF_FILE`, llama.cpp's ``convert_lora_to_gguf.py``) and the TensorRT-LLM
tensors (:data:`TRTLLM_DIR`, ``python -m seedcoder.engines.lora_export``). Triton
pods mount the claim's ``adapters/`` folder read-only at
``seedcoder.engines.lora.SERVING_LORA_DIR``, so the entry's paths are
``<finetune>/<run>/...``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from seedcoder.api.adapters import AdapterConfig, TrtllmLora

GGUF_FILE: Final = "adapter.gguf"
TRTLLM_DIR: Final = "trtllm"


def task_id(namespace: str, finetune: str, run: str) -> int:
    """A stable TensorRT-LLM LoRA task id for one run (63 bits of a hash; the config refuses clashes)."""
    digest = hashlib.sha256(f"{namespace}/{finetune}/{run}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1 or 1


def adapter_entry(
    *,
    namespace: str,
    finetune: str,
    run: str,
    name: str,
    published: bool,
    teams: Sequence[str] = (),
    created: int = 0,
) -> AdapterConfig:
    """The gateway's entry for ``run`` of ``finetune`` served as ``<model>:<name>``.

    Staged for evaluation: ``name`` = ``<adapter>-<run>``, ``published=False`` (answers by name
    only, serves no team). Published: ``name`` = ``spec.publish.adapterName`` (or the resource's
    name), ``published=True``, ``teams`` = ``spec.publish.teams``.
    """
    folder = f"{finetune}/{run}"
    return AdapterConfig(
        name=name,
        published=published,
        teams=list(teams) if published else [],
        gguf=f"{folder}/{GGUF_FILE}",
        trtllm=TrtllmLora(task_id=task_id(namespace, finetune, run), weights=f"{folder}/{TRTLLM_DIR}"),
        created=created,
    )


def replace_entry(adapters: Sequence[AdapterConfig], entry: AdapterConfig) -> list[AdapterConfig]:
    """``adapters`` with ``entry`` in place of any entry of the same name (sorted by name: stable files)."""
    return sorted([a for a in adapters if a.name != entry.name] + [entry], key=lambda a: a.name)


def remove_entry(adapters: Sequence[AdapterConfig], name: str) -> list[AdapterConfig]:
    """``adapters`` without ``name`` (a rollback, or a staged candidate once judged)."""
    return [a for a in adapters if a.name != name]
