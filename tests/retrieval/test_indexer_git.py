"""The indexing program, run exactly as the index Job runs it, against Git served over loopback.

``git daemon`` (git://) and smart HTTP with basic authentication (credentials from
the environment, as the Job passes them from a Secret) serve repositories built
here from the benchmark's internal library; a docs folder stands in for the
docs claim. Then the real gateway opens the published index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from seedcoder.retrieval.index import IndexReader
from seedcoder.retrieval.indexer import env_name

from tests.retrieval.gitserve import git_daemon, http_git, make_repo

LIBRARY = Path(__file__).resolve().parents[2] / "benchmarks" / "retrieval" / "library"
SRC = Path(__file__).resolve().parents[2] / "operator" / "src"


def library_files(sub: str) -> dict[str, str]:
    return {
        p.relative_to(LIBRARY / sub).as_posix(): p.read_text()
        for p in (LIBRARY / sub).rglob("*")
        if p.is_file()
    }


def run_index(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``seedcoder index ...``: the index Job's command."""
    full_env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "seedcoder.cli", "index", *args], env=full_env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("git")
    files = {f"vexilo/{k}": v for k, v in library_files("vexilo").items()}
    files.update({f"web/{k}": v for k, v in library_files("web").items()})
    files["vendor/skip_me.py"] = "def vendored_thing():\n    pass\n"
    files["README.md"] = "# Payments\nhello\n"
    make_repo(root, "payments", files, {"vexilo/nextonly.py": "def only_on_next_branch():\n    pass\n"})
    make_repo(root, "settlement", {f"gosvc/{k}": v for k, v in library_files("gosvc").items()}, {})
    return root


def test_index_git_daemon_and_docs_folder(repos: Path, tmp_path: Path) -> None:
    docs_root = tmp_path / "docs"
    (docs_root / "handbook").mkdir(parents=True)
    for f in (LIBRARY / "docs").iterdir():
        (docs_root / "handbook" / f.name).write_text(f.read_text())
    out = tmp_path / "index"
    term = tmp_path / "termination-log"
    with git_daemon(repos) as base:
        sources = {
            "git": [
                {"name": "payments", "url": f"{base}/payments.git", "branch": "main",
                 "include": ["**/*.py", "**/*.ts", "**/*.md"], "exclude": ["vendor/**"]},
                {"name": "settlement", "url": f"{base}/settlement.git", "branch": "main"},
            ],
            "docs": [{"name": "handbook", "pvc": {"claimName": "docs"}}],
        }  # fmt: skip
        done = run_index(["--out", str(out), "--docs-root", str(docs_root), "--termination-log", str(term)],
                         {"SEEDCODER_INDEX_SOURCES": json.dumps(sources)})  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary == json.loads(term.read_text())  # what the operator reads from the pod
    assert summary["published"] is True
    assert summary["errors"] == []
    reader = IndexReader.open_current(out)
    m = reader.manifest
    # 4 Python modules with definitions (__init__.py has none), 1 TypeScript, the README; not vendor/
    assert m.sources["payments"]["documents"] == 6
    assert m.sources["settlement"] == {"kind": "git", "documents": 1, "chunks": 4}
    assert m.sources["handbook"]["documents"] == 3
    assert m.chunks == summary["chunks"] == sum(s["chunks"] for s in m.sources.values())
    symbols = {h.chunk.symbol for h in reader.search([("vendored", 1.0), ("only", 1.0), ("next", 1.0)], 50)}
    assert "vendored_thing" not in symbols
    assert "only_on_next_branch" not in symbols
    hit = reader.search([("torvel", 1.0), ("dispatch", 1.0)], 1)[0].chunk
    assert (hit.path, hit.symbol) == ("payments/vexilo/transit.py", "dispatch_torvel_batch")
    go = reader.search([("thrumvotes", 1.0)], 1)[0].chunk
    assert go.path == "settlement/gosvc/quorum.go"


def test_http_with_credentials_branch_and_a_failing_source(repos: Path, tmp_path: Path) -> None:
    out = tmp_path / "index"
    with http_git(repos / "payments.git", "indexer", "s3cret-token") as url:
        sources = {"git": [
            {"name": "payments", "url": url, "branch": "next", "credentialsSecretRef": {"name": "git"}},
            {"name": "gone", "url": "git://127.0.0.1:9/none.git"},
        ]}  # fmt: skip
        env = {env_name("USERNAME", "payments"): "indexer", env_name("PASSWORD", "payments"): "s3cret-token"}
        done = run_index(["--out", str(out), "--sources", json.dumps(sources),
                          "--termination-log", str(tmp_path / "t")], env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["published"] is True
        assert len(summary["errors"]) == 1
        assert "'gone'" in summary["errors"][0]
        reader = IndexReader.open_current(out)
        assert reader.search([("only", 1.0), ("next", 1.0)], 1)[0].chunk.symbol == "only_on_next_branch"

        # wrong password: the source fails, nothing is published, the secret is never printed
        one = json.dumps({"git": sources["git"][:1]})
        bad = run_index(["--out", str(tmp_path / "index2"), "--sources", one,
                         "--termination-log", str(tmp_path / "t2")],
                        {env_name("USERNAME", "payments"): "indexer",
                         env_name("PASSWORD", "payments"): "wrong-pass-xyz"})  # fmt: skip
        assert bad.returncode == 1
        assert "wrong-pass-xyz" not in bad.stdout + bad.stderr
        assert json.loads(bad.stdout)["published"] is False
        assert not (tmp_path / "index2" / "CURRENT").exists()
        # the Secret is named but its keys are missing from the environment: said plainly
        missing = run_index(["--out", str(tmp_path / "index3"), "--sources", one,
                             "--termination-log", str(tmp_path / "t3")])  # fmt: skip
        assert "SEEDCODER_GIT_PASSWORD_PAYMENTS" in json.loads(missing.stdout)["errors"][0]


def test_bad_sources_are_refused_with_the_field_named(tmp_path: Path) -> None:
    done = run_index(
        ["--out", str(tmp_path), "--sources", '{"git": [{"name": "Bad Name", "url": "ftp://x"}]}']
    )
    assert done.returncode == 2
    assert "git.0.name" in done.stderr
    assert "git.0.url" in done.stderr
