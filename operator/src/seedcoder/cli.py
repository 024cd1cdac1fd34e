"""The ``seedcoder`` command: one entry point for every process the product runs.

Why one command: the operator, the gateway and the engine build program ship in
one image; the Deployment or Job picks the sub-command. Each sub-command's module
is imported only when chosen, so starting the gateway never loads Kopf.
"""

from __future__ import annotations

import importlib
import sys

_COMMANDS: dict[str, tuple[str, str]] = {
    "operator": ("seedcoder.operator.main", "run the Kopf operator"),
    "gateway": ("seedcoder.gateway.main", "run the completion gateway"),
    "build-engine": ("seedcoder.engines.build", "build one TensorRT-LLM engine (inside the build Job)"),
    "index": ("seedcoder.retrieval.indexer", "build and publish the code and docs index (the index Job)"),
    "dataset": ("seedcoder.dataset.cli", "build a fine-tuning data set snapshot from feedback"),
    "finetune": ("seedcoder.finetune.train", "train a LoRA adapter on a data set snapshot (training Job)"),
    "evaluate": ("seedcoder.evaluation.cli", "score a completions endpoint on FIM task sets"),
}


def _usage() -> str:
    lines = ["usage: seedcoder COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in _COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in _COMMANDS:
        print(f"seedcoder: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(_COMMANDS[name][0])
    entry = module.main
    result: int = entry(rest)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
