"""SYNTHETIC code for the retrieval benchmark: deterministic, made-up Python, labelled as such.

Why synthetic: the latency and build-size figures need 100k and 1M lines of
code that can be regenerated anywhere byte for byte (no repository download).
The code is shaped like real modules (imports, documented functions, classes
with methods, calls between them) with invented names, so the index sees the
same kinds of tokens and chunk sizes; it is not meant to run.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

SYLLABLES = ("ka", "lo", "mi", "ven", "tor", "sel", "qu", "ar", "bex", "dri", "fen", "gor", "hul", "jin",
             "ple", "rox", "sta", "tul", "vor", "wim", "zan", "cre", "dov", "esk", "fal", "gri")  # fmt: skip
VERBS = ("load", "build", "merge", "check", "send", "parse", "render", "update", "fetch", "split", "scan")


def _words(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))))
    return sorted(out)


def _function(rng: random.Random, words: list[str], name: str, callee: str, indent: str = "") -> list[str]:
    a, b, v = rng.sample(words, 3)
    w1, w2, w3 = (rng.choice(words) for _ in range(3))
    doc = f"{rng.choice(VERBS).capitalize()} the {w1} {w2} of a {w3}."
    return [
        f"{indent}def {name}({a}, {b}_count=3):",
        f'{indent}    """{doc}"""',
        f"{indent}    {v} = {callee}({a})",
        f"{indent}    if {v} > {rng.randint(1, 99)}:",
        f"{indent}        return {v} - {b}_count",
        f"{indent}    return [{a} for _ in range({b}_count)]",
        "",
    ]


def files(total_lines: int, seed: int = 17) -> Iterator[tuple[str, str]]:
    """(relative path, text) of modules summing to about ``total_lines`` lines."""
    rng = random.Random(seed)
    words = _words(rng, 4000)
    lines_done = 0
    n = 0
    names: list[str] = ["len"]
    while lines_done < total_lines:
        pkg, mod = rng.choice(words[:60]), rng.choice(words)
        body = [f'"""The {mod} module of {pkg}."""', "", f"from {pkg} import {rng.choice(words)}", ""]
        for _ in range(rng.randint(30, 60)):
            verb = rng.choice(VERBS)
            name = f"{verb}_{rng.choice(words)}_{rng.choice(words)}"
            if rng.random() < 0.15:
                cls = "".join(w.capitalize() for w in rng.sample(words, 2))
                body += [f"class {cls}:", f'    """A {rng.choice(words)} of {rng.choice(words)}s."""', ""]
                for _ in range(rng.randint(2, 5)):
                    meth = f"{rng.choice(VERBS)}_{rng.choice(words)}"
                    body += _function(rng, words, meth, rng.choice(names), "    ")
            else:
                body += _function(rng, words, name, rng.choice(names))
            names.append(name)
            if len(names) > 5000:
                names = names[-2000:]
        n += 1
        lines_done += len(body)
        yield f"{pkg}/{mod}_{n}.py", "\n".join(body) + "\n"


def write_tree(root: Path, total_lines: int, seed: int = 17) -> tuple[int, int]:
    """Write the corpus under ``root``; returns (files, lines)."""
    count = lines = 0
    for rel, text in files(total_lines, seed):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        count += 1
        lines += text.count("\n")
    return count, lines


def cursor_prefixes(total_lines: int, count: int, seed: int = 17) -> list[str]:
    """Realistic cursors into the corpus: a module header, a function, a half-typed call."""
    rng = random.Random(seed + 1)
    defs: list[str] = []
    for _, text in files(min(total_lines, 60_000), seed):
        defs += [line.split("(")[0][4:] for line in text.split("\n") if line.startswith("def ")]
    out = []
    for _ in range(count):
        target = rng.choice(defs)
        cut = rng.randint(3, len(target))
        out.append(
            f"from {rng.choice(defs).split('_')[1]} import helpers\n\n\n"
            f"def handle_{rng.choice(defs).split('_')[-1]}(item, count):\n"
            f"    value = item * count\n    # {target.replace('_', ' ')}\n    result = {target[:cut]}"
        )
    return out
