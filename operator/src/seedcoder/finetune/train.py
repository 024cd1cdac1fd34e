"""``seedcoder finetune train``: PEFT LoRA training on a data set snapshot (the training Job's program).

Runs on GPU nodes with torch, transformers and peft (the ``finetune`` extra of
pyproject.toml, which pins them; installed only in the seedcoder-train image): the
base checkpoint in bf16, LoRA on the chosen projections, AdamW with a cosine schedule, loss on the middle and
EOS only (the SPM prompt, ``<[fim-suffix]>S<[fim-prefix]>P<[fim-middle]>``,
is context, not target; rows are padded on the left so the targets end every row, and the
LM head runs only on the positions the loss needs). Samples longer than ``--max-sequence-tokens`` are cut
around the hole (the far end of the prefix and of the suffix go first), never
in the middle. It writes the adapter (``save_pretrained``: PEFT's
``adapter_config.json`` + ``adapter_model.safetensors``) and ``training.json``
with the numbers, which also goes to the termination message.

UNEXECUTED HERE: this repository's tests run the pure parts (sample loading,
cutting, arguments); the GPU run itself has not been executed on this project's
machines.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FIM_SUFFIX, FIM_PREFIX, FIM_MIDDLE = "<[fim-suffix]>", "<[fim-prefix]>", "<[fim-middle]>"
EOS = "<[end▁of▁sentence]>"
IGNORE = -100
REQUIREMENTS = ("torch>=2.4", "transformers>=4.56", "peft>=0.13")
"""The lowest versions this program works with, named when they are missing; the versions
installed are the ``finetune`` extra's pins (the seedcoder-train image, the CPU benchmark)."""
CHARS_PER_TOKEN = 3  # first cut by characters, then checked in tokens


@dataclass(frozen=True, slots=True)
class FimSample:
    prefix: str
    suffix: str
    middle: str

    def prompt(self) -> str:
        return FIM_SUFFIX + self.suffix + FIM_PREFIX + self.prefix + FIM_MIDDLE

    def target(self) -> str:
        return self.middle + EOS

    def cut(self, max_chars: int) -> FimSample | None:
        """The sample within ``max_chars`` characters, or None when the middle alone does not fit."""
        overhead = len(FIM_SUFFIX + FIM_PREFIX + FIM_MIDDLE + EOS)
        room = max_chars - overhead - len(self.middle)
        if room < 0:
            return None
        if len(self.prefix) + len(self.suffix) <= room:
            return self
        # keep the text nearest the hole: the prefix's end and the suffix's start, two to one
        keep_prefix = min(len(self.prefix), max(room * 2 // 3, room - len(self.suffix)))
        keep_suffix = room - keep_prefix
        return FimSample(
            self.prefix[len(self.prefix) - keep_prefix :], self.suffix[:keep_suffix], self.middle
        )


def load_samples(path: Path) -> list[FimSample]:
    """The training split of a snapshot (``train.jsonl``: prefix, suffix, middle per line)."""
    if not path.is_file():
        raise ValueError(f"{path}: no such training file")
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            row = json.loads(line)
            samples.append(FimSample(str(row["prefix"]), str(row["suffix"]), str(row["middle"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number}: not a training sample ({exc})") from exc
    if not samples:
        raise ValueError(f"{path}: no training samples")
    return samples


@dataclass(frozen=True, slots=True)
class TrainConfig:
    train: Path
    base_model: str
    out: Path
    revision: str | None = None
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    steps: int = 1000
    learning_rate: float = 2e-4
    batch_size: int = 8
    max_sequence_tokens: int = 2048
    seed: int = 0
    gguf_file: str | None = None  # a GGUF file in base_model's folder (the CPU demo model)
    allow_split_fim_tokens: bool = False  # a base without Seed-Coder's FIM tokens learns them as text

    def __post_init__(self) -> None:
        for name in ("rank", "alpha", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
        if not self.target_modules:
            raise ValueError("--target-modules must name at least one module")
        if self.max_sequence_tokens < 64:
            raise ValueError("--max-sequence-tokens must be at least 64")
        if not 0 < self.learning_rate <= 1e-2:
            raise ValueError("--learning-rate must be in (0, 0.01]")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seedcoder finetune train", description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=Path, required=True, help="train.jsonl of a data set snapshot")
    p.add_argument("--base-model", required=True, help="Hugging Face repository id or folder")
    p.add_argument("--revision")
    p.add_argument("--out", type=Path, required=True, help="folder for the adapter")
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--target-modules", default="q_proj,k_proj,v_proj,o_proj")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-sequence-tokens", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gguf-file", help="load the base from this GGUF file in --base-model (CPU demo model)")
    p.add_argument(
        "--allow-split-fim-tokens",
        action="store_true",
        help="train a base whose vocabulary lacks the FIM tokens",
    )
    return p


def config_from_args(argv: list[str]) -> TrainConfig:
    a = _parser().parse_args(argv)
    modules = tuple(m for m in a.target_modules.split(",") if m)
    return TrainConfig(a.train, a.base_model, a.out, a.revision, a.rank, a.alpha, a.dropout, modules,
                       a.steps, a.learning_rate, a.batch_size, a.max_sequence_tokens, a.seed,
                       a.gguf_file, a.allow_split_fim_tokens)  # fmt: skip


def _encode(tok: Any, sample: FimSample, max_tokens: int) -> tuple[list[int], list[int]] | None:
    """(input ids, labels) with the prompt masked, or None when even the cut sample is too long."""
    cut = sample.cut(max_tokens * CHARS_PER_TOKEN)
    while cut is not None:
        prompt = tok(cut.prompt(), add_special_tokens=False)["input_ids"]
        target = tok(cut.middle, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        bos = [tok.bos_token_id] if tok.bos_token_id is not None else []
        ids = bos + prompt + target
        if len(ids) <= max_tokens:
            return ids, [IGNORE] * (len(bos) + len(prompt)) + target
        chars = len(cut.prompt()) + len(cut.target())
        cut = cut.cut(int(chars * max_tokens / len(ids)) - 1)
    return None


def _batch(
    batch: list[tuple[list[int], list[int]]], pad: int
) -> tuple[list[list[int]], list[list[int]], list[list[int]], int]:
    """(ids, attention mask, labels, positions to keep): rows padded on the left, so every row's
    target ends at the last position; ``keep`` covers the longest target and the position before it."""
    width = max(len(ids) for ids, _ in batch)
    ids = [[pad] * (width - len(i)) + i for i, _ in batch]
    mask = [[0] * (width - len(i)) + [1] * len(i) for i, _ in batch]
    labels = [[IGNORE] * (width - len(lb)) + lb for _, lb in batch]
    keep = min(width, 1 + max(sum(1 for t in lb if t != IGNORE) for _, lb in batch))
    return ids, mask, labels, keep


def train(cfg: TrainConfig) -> dict[str, Any]:  # pragma: no cover - needs torch and a GPU
    import torch  # type: ignore[import-not-found]
    from peft import LoraConfig, get_peft_model  # type: ignore[import-not-found]
    from transformers import (  # type: ignore[import-not-found]
        AutoModelForCausalLM,
        AutoTokenizer,
        get_cosine_schedule_with_warmup,
    )

    started = time.monotonic()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    source: dict[str, Any] = {"revision": cfg.revision}
    if cfg.gguf_file:
        source["gguf_file"] = cfg.gguf_file
    timings: dict[str, float] = {}
    tok = AutoTokenizer.from_pretrained(cfg.base_model, **source)
    timings["tokenizer_s"] = time.monotonic() - started
    for token in (FIM_SUFFIX, FIM_PREFIX, FIM_MIDDLE):  # Seed-Coder's FIM tokens must be single tokens
        if len(tok(token, add_special_tokens=False)["input_ids"]) != 1 and not cfg.allow_split_fim_tokens:
            raise ValueError(f"the tokenizer of {cfg.base_model} has no single token for {token}")
    encoded = [
        e for s in load_samples(cfg.train) if (e := _encode(tok, s, cfg.max_sequence_tokens)) is not None
    ]
    if not encoded:
        raise ValueError("no training sample fits --max-sequence-tokens")
    model = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=dtype, **source)
    model.to(device)
    timings["model_s"] = time.monotonic() - started - timings["tokenizer_s"]
    if device == "cuda":  # an 8B model's activations need recomputation to fit; a small CPU model does not
        enable = (
            getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        )
        enable()
        model.enable_input_require_grads()
    modules = list(cfg.target_modules)
    lora = LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                      target_modules=modules, bias="none", task_type="CAUSAL_LM")  # fmt: skip
    model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    warmup = min(100, cfg.steps // 10)
    schedule = get_cosine_schedule_with_warmup(optimizer, warmup, cfg.steps)
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    model.train()
    losses: list[float] = []
    training_started = time.monotonic()
    for step in range(1, cfg.steps + 1):
        batch = random.sample(encoded, min(cfg.batch_size, len(encoded)))
        ids, mask, labels, keep = _batch(batch, pad)
        # logits only where the loss is: the target sits at the end of every (left-padded) row,
        # and the LM head over a large vocabulary costs more than the rest of a short sample
        out = model(input_ids=torch.tensor(ids, device=device),
                    attention_mask=torch.tensor(mask, device=device), logits_to_keep=keep)  # fmt: skip
        tail = torch.tensor(labels, device=device)[:, -keep:]
        logits = out.logits[:, :-1].float()
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tail[:, 1:].reshape(-1), ignore_index=IGNORE
        )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss.detach()))
        if step % 10 == 0 or step == cfg.steps:
            print(json.dumps({"step": step, "loss": sum(losses[-10:]) / len(losses[-10:])}), flush=True)
    timings["steps_s"] = time.monotonic() - training_started
    cfg.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(cfg.out))
    size = sum(p.stat().st_size for p in cfg.out.iterdir() if p.is_file())
    result = {
        "samples": len(encoded),
        "trainable_parameters": trainable,
        "final_loss": sum(losses[-10:]) / len(losses[-10:]),
        "first_loss": losses[0],
        "seconds": round(time.monotonic() - started, 1),
        "seconds_by_phase": {k: round(v, 1) for k, v in timings.items()},
        "seconds_per_step": round(timings["steps_s"] / cfg.steps, 2),
        "adapter_bytes": size,
        "device": device,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
    }
    if not math.isfinite(result["final_loss"]):
        raise ValueError("training diverged (loss is not finite)")
    (cfg.out / "training.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "train":
        print("usage: seedcoder finetune train --train FILE --base-model ID --out DIR [...]", file=sys.stderr)
        return 2
    try:
        cfg = config_from_args(args[1:])
        load_samples(cfg.train)  # fail on a bad data set before loading any weights
    except ValueError as exc:
        print(f"seedcoder finetune: {exc}", file=sys.stderr)
        return 2
    try:
        result = train(cfg)
    except ImportError as exc:
        print(f"seedcoder finetune: {', '.join(REQUIREMENTS)} are needed ({exc})", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"seedcoder finetune: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, separators=(",", ":")))
    return 0
