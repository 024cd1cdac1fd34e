"""The index (build, publish, reopen), the cursor query, placement, and relevance-aware trimming."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seedcoder.api.retrieval import RetrievalConfig
from seedcoder.gateway.relevance import trim_relevant
from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.code import code_chunks
from seedcoder.retrieval.docs import doc_chunks
from seedcoder.retrieval.embedding import fuse
from seedcoder.retrieval.index import IndexBuilder, IndexReader, IndexUnavailable, LiveIndex, Manifest
from seedcoder.retrieval.place import render, select
from seedcoder.retrieval.query import cursor_query, enclosing_headers
from seedcoder.retrieval.retriever import Retriever

LIBRARY = Path(__file__).resolve().parents[2] / "benchmarks" / "retrieval" / "library"


def library_chunks() -> list[Chunk]:
    out: list[Chunk] = []
    for f in sorted(LIBRARY.rglob("*")):
        if f.is_file():
            rel = "vexilo/" + f.relative_to(LIBRARY).as_posix()
            out += code_chunks(rel, f.read_text()) or doc_chunks(rel, f.read_text())
    return out


def build(root: Path, chunks: list[Chunk]) -> Manifest:
    b = IndexBuilder(root)
    b.add(chunks)
    return b.publish(Manifest(built_at="2026-01-01T00:00:00Z", documents=1))


@pytest.fixture
def index_root(tmp_path: Path) -> Path:
    build(tmp_path, library_chunks())
    return tmp_path


def _top(root: Path, prefix: str, suffix: str = "", k: int = 3) -> list[str]:
    q = cursor_query(prefix, suffix)
    return [h.chunk.symbol for h in IndexReader.open_current(root).search(q.terms, k, q.partial)]


def test_finds_the_definition_a_cursor_needs(index_root: Path) -> None:
    prefix = (
        "from vexilo import transit\n\ndef pay(slips):\n    # send the slips as one torvel batch\n    h = "
    )
    assert "dispatch_torvel_batch" in _top(index_root, prefix)
    assert _top(index_root, "def f():\n    ok = glyph_is_dorm")[0] == "glyph_is_dormant"  # half-typed name
    assert _top(index_root, "const c = createPlin")[0] == "createPlinthClient"
    assert _top(index_root, "votes := gosvc.Tally")[0] == "TallyThrumvotes"


def test_manifest_counts_and_publish_replaces_atomically(tmp_path: Path) -> None:
    m1 = build(tmp_path, library_chunks()[:5])
    assert m1.chunks == 5
    assert m1.bytes > 0
    live = LiveIndex(tmp_path, check_s=10)
    first = live.refresh(0.0)
    assert first is not None
    assert first.manifest.chunks == 5
    build(tmp_path, library_chunks())
    assert live.refresh(5.0) is first  # not looked at again before check_s
    second = live.refresh(11.0)
    assert second is not first
    assert second is not None
    assert second.manifest.chunks > 5
    build(tmp_path, library_chunks()[:3])
    assert len(list((tmp_path / "builds").iterdir())) == 2  # the two newest builds are kept


def test_unpublished_root_is_reported(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="no index has been published"):
        IndexReader.open_current(tmp_path)
    live = LiveIndex(tmp_path)
    assert live.refresh(0.0) is None
    assert live.error is not None
    assert "CURRENT" in live.error


def test_query_weights_the_cursor_first() -> None:
    q = cursor_query("import os\n" + "x = 1\n" * 10 + "def handle(req):\n    val = parse_zorp", "")
    assert q.partial == "parse_zorp"
    assert q.terms[0][0] == "parse_zorp"
    names = [t for t, _ in q.terms]
    assert "handle" in names
    assert "os" in names
    assert names.index("handle") < names.index("os")


def test_enclosing_headers() -> None:
    lines = ["class A:", "    x = 1", "    def m(self):", "        if y:", "            z"]
    assert enclosing_headers(lines) == [0, 2]
    assert enclosing_headers(["def f():", "    a", "    "]) == [0]


def test_select_skips_what_the_prompt_has_and_fits_the_budget(index_root: Path) -> None:
    reader = IndexReader.open_current(index_root)
    hits = reader.search([("ledger", 1.0), ("slip", 1.0)], 10)
    prompt = "def brisolve_slip(slip: LedgerSlip, reason_code: int) -> LedgerSlip:\n    ..."
    chosen = select(hits, prompt, 10_000, 3)
    assert len(chosen) == 3
    assert "brisolve_slip" not in [c.symbol for c in chosen]  # already defined in the prompt
    assert len(render(chosen).encode()) <= 10_000
    text = render(chosen)
    assert text.index(chosen[0].text) > text.index(chosen[-1].text)  # the best is nearest the code
    assert text.startswith("# file: vexilo/")
    assert select(hits, "", 10, 3) == []  # nothing fits 10 bytes


def test_retriever_reports_unavailable_then_finds(tmp_path: Path) -> None:
    now = [0.0]
    r = Retriever(RetrievalConfig(index_dir=str(tmp_path), reload_s=1), clock=lambda: now[0])
    assert not r.retrieve("x = open_skel", "", "", 4000).available
    build(tmp_path, library_chunks())
    now[0] = 2.0
    got = r.retrieve("h = open_skel", "", "", 4000)
    assert got.available
    assert got.chunks[0].symbol == "open_skelmwire"
    assert "def open_skelmwire(region: str" in got.text
    assert r.budget_bytes(1000) == 750


def test_fuse_merges_rankings() -> None:
    a, b, c = library_chunks()[:3]
    from seedcoder.retrieval.index import Hit

    fused = fuse([[Hit(a, 3), Hit(b, 2)], [Hit(c, 9), Hit(b, 1)]], 3)
    assert fused[0].chunk == b


LONG_FILE = (
    "import numpy as np\n"
    "from vexilo.ledger import zintrap_ledger_entry\n"
    "\n"
    "def frobnicate_quanta(q):\n"
    "    return q * 3\n"
    "\n" + "".join(f"def filler_{i}():\n    return {i}\n\n" for i in range(200)) + "class Settlement:\n"
    "    def close(self, slips):\n"
    "        total = 0\n"
    "        for s in slips:\n"
    "            total += frobnicate_quanta(s.quanta)\n"
    "        return "
)


def test_relevance_trim_keeps_imports_enclosing_and_used_definitions() -> None:
    t = trim_relevant(LONG_FILE, "\n\nprint('done')\n", "", 600)
    assert len((t.prefix + t.suffix + t.extra).encode()) <= 600
    assert t.prefix.startswith("import numpy as np\nfrom vexilo.ledger import zintrap_ledger_entry\n")
    assert "def frobnicate_quanta(q):\n    return q * 3\n" in t.prefix  # used near the cursor
    assert "class Settlement:\n    def close(self, slips):\n" in t.prefix  # enclosing headers
    assert t.prefix.endswith("        return ")
    assert "filler_5()" not in t.prefix
    assert "filler_199" in t.prefix
    original = iter(LONG_FILE.split("\n"))
    assert all(line in original for line in t.prefix.split("\n"))  # a subsequence: order kept


@given(st.text(max_size=400), st.text(max_size=200), st.text(max_size=100), st.integers(0, 600))
def test_relevance_trim_never_exceeds_the_budget(prefix: str, suffix: str, extra: str, budget: int) -> None:
    t = trim_relevant(prefix, suffix, extra, budget)
    total = len((prefix + suffix + extra).encode())
    kept = len((t.prefix + t.suffix + t.extra).encode())
    assert kept <= max(budget, 0) or total <= budget
    assert t.dropped_bytes == total - kept
    assert suffix.startswith(t.suffix)
