"""The FIM metrics, the task format and the sandbox, without any model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seedcoder.evaluation import metrics
from seedcoder.evaluation.harness import evaluate, to_markdown
from seedcoder.evaluation.public import build_public_tasks, public_tasks
from seedcoder.evaluation.sandbox import run_program
from seedcoder.evaluation.tasks import TaskFileError, dump_tasks, load_tasks


def test_levenshtein_known_distances() -> None:
    assert metrics.levenshtein("kitten", "sitting") == 3
    assert metrics.levenshtein("", "abc") == 3
    assert metrics.levenshtein("flaw", "lawn") == 2


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_levenshtein_is_a_metric(a: str, b: str, c: str) -> None:
    d = metrics.levenshtein
    assert d(a, b) == d(b, a)
    assert (d(a, b) == 0) == (a == b)
    assert d(a, c) <= d(a, b) + d(b, c)
    assert d(a, b) <= max(len(a), len(b))


def test_exact_match_ignores_trailing_whitespace_only() -> None:
    assert metrics.exact_match("    return x  \n\n", "    return x\n")
    assert not metrics.exact_match("return x\n", "    return x\n")  # indentation is code
    assert not metrics.exact_match("    return y\n", "    return x\n")


def test_edit_similarity_bounds_and_values() -> None:
    assert metrics.edit_similarity("abc", "abc") == 1.0
    assert metrics.edit_similarity("", "") == 1.0
    assert metrics.edit_similarity("xyz", "abc") == 0.0
    assert metrics.edit_similarity("return a + b", "return a - b") == pytest.approx(1 - 1 / 12)
    assert metrics.mean([]) is None


def _write(path: Path, *lines: object) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_task_file_errors_name_file_line_and_field(tmp_path: Path) -> None:
    good = {"task_id": "a", "prefix": "x = ", "suffix": "\n", "middle": "1"}
    with pytest.raises(TaskFileError, match=r"t.jsonl:2: field 'middle'"):
        load_tasks(_write(tmp_path / "t.jsonl", good, {**good, "task_id": "b", "middle": ""}))
    with pytest.raises(TaskFileError, match=r":2: task_id 'a' repeats"):
        load_tasks(_write(tmp_path / "t.jsonl", good, good))
    with pytest.raises(TaskFileError, match=r":1: not JSON"):
        load_tasks(_write(tmp_path / "t.jsonl", "{nope"))
    with pytest.raises(TaskFileError, match=r"field 'colour'"):
        load_tasks(_write(tmp_path / "t.jsonl", {**good, "colour": "red"}))
    with pytest.raises(TaskFileError, match="no such task file"):
        load_tasks(tmp_path / "missing.jsonl")
    tasks = load_tasks(_write(tmp_path / "t.jsonl", good))
    assert load_tasks(_write(tmp_path / "u.jsonl", dump_tasks(tasks).strip())) == tasks


def test_sandbox_passes_fails_and_times_out() -> None:
    assert run_program("assert 1 + 1 == 2\n").passed
    failed = run_program("assert 1 + 1 == 3, 'arithmetic'\n")
    assert not failed.passed
    assert failed.returncode == 1
    assert "arithmetic" in failed.detail
    started = time.monotonic()
    slow = run_program("import time\nwhile True:\n    time.sleep(0.01)\n", timeout_s=1.0)
    assert slow.timed_out
    assert not slow.passed
    assert time.monotonic() - started < 8
    # no environment leaks in, writes stay in the scratch folder
    assert run_program("import os\nassert 'HOME' not in os.environ\nopen('f', 'w').write('x')\n").passed
    hog = run_program("x = bytearray(4 << 30)\n", timeout_s=5.0)
    assert not hog.passed
    assert "MemoryError" in hog.detail
    with pytest.raises(ValueError, match="timeout_s"):
        run_program("pass", timeout_s=0)


def test_public_set_is_committed_as_built_and_its_answers_pass_their_tests() -> None:
    tasks = public_tasks()
    assert tasks == build_public_tasks()  # rerun `python -m seedcoder.evaluation.public` if this fails
    assert len(tasks) >= 40
    assert all(t.origin and t.origin.licence == "Apache-2.0" for t in tasks)
    sample = tasks[::6]
    oracle = evaluate("public", sample, lambda p, s: next(t.middle for t in sample if t.prefix == p))
    assert oracle.exact_match == 1.0
    assert oracle.edit_similarity == 1.0
    assert oracle.pass_at_1 == 1.0
    assert oracle.tested == len(sample)
    # an empty middle leaves a broken or wrong function: the tests catch every one
    empty = evaluate("public", sample, lambda p, s: "\n")
    assert empty.exact_match == 0.0
    assert empty.pass_at_1 == 0.0
    table = to_markdown([oracle, empty])
    assert "| public | 8 | 100.0% | 1.000 | 100.0% (8) |" in table
    assert "| public | 8 | 0.0% |" in table
