"""Splitting code at definitions (tree-sitter) and docs at headings; identifier tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from seedcoder.retrieval.code import code_chunks, language_of
from seedcoder.retrieval.docs import doc_chunks
from seedcoder.retrieval.globs import selected
from seedcoder.retrieval.tokens import subwords, tokens

LIBRARY = Path(__file__).resolve().parents[2] / "benchmarks" / "retrieval" / "library"


def _by_symbol(path: str, text: str) -> dict[str, object]:
    return {c.symbol: c for c in code_chunks(path, text)}


def test_python_functions_classes_and_methods_keep_signature_and_docstring() -> None:
    src = (LIBRARY / "vexilo" / "ledger.py").read_text()
    chunks = _by_symbol("lib/ledger.py", src)
    assert set(chunks) >= {
        "LedgerSlip",
        "zintrap_ledger_entry",
        "brisolve_slip",
        "QuorvaneBook",
        "QuorvaneBook.splonk_append",
        "QuorvaneBook.frazzle_close_period",
    }
    entry = code_chunks("lib/ledger.py", src)[1]
    assert entry.symbol == "zintrap_ledger_entry"
    assert entry.kind == "function"
    assert entry.signature.startswith("def zintrap_ledger_entry(account_glyph: str, quanta: int")
    assert entry.docstring.startswith("Record a payment in the quorvane ledger")
    assert entry.text.startswith("def zintrap_ledger_entry(")
    assert entry.start_line == src.split("\n").index(entry.text.split("\n")[0]) + 1
    book = chunks["QuorvaneBook"]
    # the class reads as an API summary: member signatures, bodies elided
    assert "def splonk_append(self, slip: LedgerSlip) -> None:" in book.text  # type: ignore[attr-defined]
    assert "self._slips.append(slip)" not in book.text  # type: ignore[attr-defined]
    method = chunks["QuorvaneBook.splonk_append"]
    assert method.kind == "method"  # type: ignore[attr-defined]
    assert method.text.startswith("def splonk_append")  # type: ignore[attr-defined]


def test_typescript_go_java_javascript() -> None:
    ts = _by_symbol("web/plinth.ts", (LIBRARY / "web" / "plinth.ts").read_text())
    assert {"createPlinthClient", "PlinthClient", "PlinthClient.fetchGlyphStatement",
            "formatQuantaAsCurrency", "PlinthOptions"} <= set(ts)  # fmt: skip
    assert ts["createPlinthClient"].docstring == "Create the plinth client that every page shares."  # type: ignore[attr-defined]
    go = _by_symbol("gosvc/quorum.go", (LIBRARY / "gosvc" / "quorum.go").read_text())
    assert {"Thrumvote", "TallyThrumvotes", "Settler", "Settler.SealBatchWithQuorum"} <= set(go)
    assert go["TallyThrumvotes"].signature == "func TallyThrumvotes(votes []Thrumvote) (int, bool)"  # type: ignore[attr-defined]
    java = _by_symbol("A.java", (LIBRARY / "java" / "KestrelAudit.java").read_text())
    assert {"KestrelAudit", "KestrelAudit.noteSlipViewed", "KestrelAudit.exportSignedDay"} <= set(java)
    js = _by_symbol("a.js", "// Adds.\nfunction add(a, b) { return a + b }\nconst twice = (x) => 2 * x;\n")
    assert set(js) == {"add", "twice"}
    assert js["add"].docstring == "Adds."  # type: ignore[attr-defined]


def test_unknown_languages_and_broken_code() -> None:
    assert language_of("notes.txt") is None
    assert code_chunks("notes.txt", "def f(): pass") == []
    # a syntax error does not lose the definitions around it
    broken = code_chunks("b.py", "def ok():\n    return 1\n\ndef broken(:\n\ndef later():\n    pass\n")
    assert {"ok", "later"} <= {c.symbol for c in broken}


def test_markdown_rst_openapi_split_at_headings() -> None:
    md = doc_chunks("docs/handbook.md", (LIBRARY / "docs" / "handbook.md").read_text())
    assert [c.symbol for c in md] == [
        "Payments handbook",
        "Payments handbook > Posting money",
        "Payments handbook > Posting money > Refunds",
        "Payments handbook > Sending money to other banks",
        "Payments handbook > Fraud",
    ]
    assert "brisolve_slip" in md[2].text
    fenced = doc_chunks("a.md", "# A\n```\n# not a heading\n```\n# B\nb\n")
    assert [c.symbol for c in fenced] == ["A", "B"]
    rst = doc_chunks("docs/operations.rst", (LIBRARY / "docs" / "operations.rst").read_text())
    assert [c.symbol for c in rst] == ["Operations", "Operations > Closing a period",
                                       "Operations > Dormant accounts"]  # fmt: skip
    api = {c.symbol: c for c in doc_chunks("api.yaml", (LIBRARY / "docs" / "payments-api.yaml").read_text())}
    assert set(api) == {"postSlip", "getGlyphStatement", "Slip"}
    assert api["postSlip"].signature == "POST /v1/slips"
    assert api["postSlip"].docstring.startswith("Post a slip to the quorvane ledger")
    assert doc_chunks("values.yaml", "replicas: 2\n") == []  # YAML that is not OpenAPI


@pytest.mark.parametrize(
    ("ident", "parts"),
    [
        ("parseHTTPHeader", ["parse", "http", "header"]),
        ("zintrap_ledger_entry", ["zintrap", "ledger", "entry"]),
        ("getV2Token", ["get", "v", "2", "token"]),
        ("HTTP", ["http"]),
    ],
)
def test_subwords(ident: str, parts: list[str]) -> None:
    assert subwords(ident) == parts


def test_tokens_keep_the_whole_identifier_and_its_parts_without_noise() -> None:
    assert tokens("def fetchGlyphStatement(self):") == ["fetchglyphstatement", "fetch", "glyph", "statement"]


def test_globs() -> None:
    assert selected("src/a/b.py", ["**/*.py"], [])
    assert selected("b.py", ["**/*.py"], [])
    assert not selected("src/a/b.py", ["*.py"], [])
    assert not selected("vendor/x.py", [], ["vendor/**"])
    assert selected("docs/x.md", ["docs/**", "src/**"], ["**/draft-*"])
    assert not selected("docs/draft-x.md", ["docs/**"], ["**/draft-*"])
