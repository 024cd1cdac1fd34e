"""The public regression task set: single-line infilling over permissively licensed code.

Like HumanEval single-line infilling, every body line of a tested function is
one task: the model sees the function with that line cut out and must write it
back; the function's ``check_`` runs after the filled file, so pass@1 is by
execution. The source is ``data/regression_source.py`` (this project's code,
Apache-2.0); every task carries its origin and licence. The built set is
committed as ``data/public-regression.jsonl`` and a test keeps it equal to a
fresh build; ``python -m seedcoder.evaluation.public`` rewrites it.
"""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

from seedcoder.evaluation.tasks import FimTask, Origin, dump_tasks, load_tasks

SOURCE_NAME = "regression_source.py"
TASKS_NAME = "public-regression.jsonl"
ORIGIN = Origin(
    repository="seedcoder-operator", path="seedcoder/evaluation/data/" + SOURCE_NAME, licence="Apache-2.0"
)
HEADER = "from __future__ import annotations\n\n\n"


def _data(name: str) -> Path:
    return Path(str(resources.files("seedcoder.evaluation.data") / name))


def _docstring_lines(fn: ast.FunctionDef) -> set[int]:
    first = fn.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and first.end_lineno:
        return set(range(first.lineno, first.end_lineno + 1))
    return set()


def build_line_tasks(source: str, origin: Origin) -> list[FimTask]:
    """One task per non-blank body line of every function that has a ``check_<name>``."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    tasks: list[FimTask] = []
    for name, fn in functions.items():
        check = functions.get("check_" + name)
        if name.startswith("check_") or check is None or fn.end_lineno is None or check.end_lineno is None:
            continue
        start = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
        body_start = fn.body[0].lineno
        fn_lines = lines[start - 1 : fn.end_lineno]
        test = "".join(lines[check.lineno - 1 : check.end_lineno]) + f"\n\ncheck_{name}()\n"
        skip = _docstring_lines(fn)
        for lineno in range(body_start, fn.end_lineno + 1):
            text = lines[lineno - 1]
            if lineno in skip or not text.strip() or text.strip().startswith("#"):
                continue
            cut = lineno - start
            tasks.append(
                FimTask(
                    task_id=f"public/{name}/L{lineno - start + 1}",
                    prefix=HEADER + "".join(fn_lines[:cut]),
                    middle=text,
                    suffix="".join(fn_lines[cut + 1 :]),
                    test=test,
                    origin=origin,
                )
            )
    return tasks


def build_public_tasks() -> list[FimTask]:
    return build_line_tasks(_data(SOURCE_NAME).read_text(encoding="utf-8"), ORIGIN)


def public_tasks() -> list[FimTask]:
    """The committed public regression set."""
    return load_tasks(_data(TASKS_NAME))


def main() -> None:
    path = _data(TASKS_NAME)
    tasks = build_public_tasks()
    path.write_text(dump_tasks(tasks), encoding="utf-8")
    print(f"Wrote {len(tasks)} tasks to {path.name}")


if __name__ == "__main__":
    main()
