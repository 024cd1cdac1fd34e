"""Splitting source files at definition boundaries with tree-sitter grammars.

Why a real parser: a line or token window cuts functions in half, and the piece
a completion needs is a whole definition (its signature and docstring above
all). Each function, method, class, interface and type becomes one chunk; a
class chunk keeps its members' signatures with their bodies elided, so the
class reads as an API summary while each method is its own chunk too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import tree_sitter

from seedcoder.retrieval.chunks import Chunk, clip

EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".tsx": "tsx",
    ".java": "java",
    ".go": "go",
}


@dataclass(frozen=True)
class _Grammar:
    containers: frozenset[str]
    """Definitions whose members are chunks of their own (classes, interfaces)."""
    functions: frozenset[str]
    others: frozenset[str]
    """Definitions kept whole (type aliases, enums, Go type declarations)."""
    comments: frozenset[str]


_PY = _Grammar(
    frozenset({"class_definition"}),
    frozenset({"function_definition"}),
    frozenset(),
    frozenset({"comment"}),
)
_JS = _Grammar(
    frozenset({"class_declaration", "class"}),
    frozenset({"function_declaration", "generator_function_declaration", "method_definition"}),
    frozenset(),
    frozenset({"comment"}),
)
_TS = _Grammar(
    frozenset({"class_declaration", "abstract_class_declaration", "interface_declaration"}),
    frozenset({"function_declaration", "generator_function_declaration", "method_definition",
               "method_signature", "abstract_method_signature", "function_signature"}),
    frozenset({"type_alias_declaration", "enum_declaration"}),
    frozenset({"comment"}),
)  # fmt: skip
_JAVA = _Grammar(
    frozenset({"class_declaration", "interface_declaration", "enum_declaration", "record_declaration"}),
    frozenset({"method_declaration", "constructor_declaration"}),
    frozenset(),
    frozenset({"line_comment", "block_comment"}),
)
_GO = _Grammar(
    frozenset(),
    frozenset({"function_declaration", "method_declaration"}),
    frozenset({"type_spec"}),
    frozenset({"comment"}),
)
GRAMMARS = {"python": _PY, "javascript": _JS, "typescript": _TS, "tsx": _TS, "java": _JAVA, "go": _GO}


@cache
def _parser(language: str) -> tree_sitter.Parser:
    if language == "python":
        import tree_sitter_python as mod

        lang: Any = mod.language()
    elif language == "javascript":
        import tree_sitter_javascript as mod_js

        lang = mod_js.language()
    elif language in ("typescript", "tsx"):
        import tree_sitter_typescript as mod_ts

        lang = mod_ts.language_tsx() if language == "tsx" else mod_ts.language_typescript()
    elif language == "java":
        import tree_sitter_java as mod_java

        lang = mod_java.language()
    elif language == "go":
        import tree_sitter_go as mod_go

        lang = mod_go.language()
    else:
        raise ValueError(f"no grammar for language {language!r}")
    return tree_sitter.Parser(tree_sitter.Language(lang))


def language_of(path: str) -> str | None:
    dot = path.rfind(".")
    return EXTENSIONS.get(path[dot:].lower()) if dot >= 0 else None


def _text(src: bytes, node: tree_sitter.Node) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", errors="replace")


def _name(src: bytes, node: tree_sitter.Node) -> str:
    name = node.child_by_field_name("name")
    if name is None and node.type == "method_declaration":  # Go: field "name" too; Java likewise
        name = node.child_by_field_name("name")
    return _text(src, name) if name is not None else ""


def _receiver(src: bytes, node: tree_sitter.Node) -> str:
    """Go method receiver type (``func (l *Ledger) Post``) -> ``Ledger``."""
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return ""
    words = [w for w in _text(src, recv).strip("()").replace("*", " ").split() if w]
    return words[-1] if words else ""


_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def _body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    if node.type == "variable_declarator":  # const name = (...) => {...}
        value = node.child_by_field_name("value")
        return value.child_by_field_name("body") if value is not None else None
    return node.child_by_field_name("body")


def _is_function_value(node: tree_sitter.Node) -> bool:
    value = node.child_by_field_name("value") if node.type == "variable_declarator" else None
    return value is not None and value.type in _FUNCTION_VALUES


def _anchor(node: tree_sitter.Node) -> tree_sitter.Node:
    """The node whose leading comments and decorators belong to ``node``."""
    parent = node.parent
    climb = ("decorated_definition", "export_statement", "lexical_declaration", "variable_declaration")
    while parent is not None and parent.type in climb:
        node, parent = parent, parent.parent
    return node


def _leading_comments(src: bytes, node: tree_sitter.Node, g: _Grammar) -> str:
    lines: list[str] = []
    prev = node.prev_named_sibling
    row = node.start_point[0]
    while prev is not None and prev.type in g.comments and prev.end_point[0] >= row - 1:
        lines.insert(0, _text(src, prev))
        row = prev.start_point[0]
        prev = prev.prev_named_sibling
    return "\n".join(lines)


def _comment_text(comments: str) -> str:
    lines = (line.strip().removesuffix("*/").lstrip("/#*").strip() for line in comments.splitlines())
    return "\n".join(line for line in lines if line)


def _python_docstring(src: bytes, node: tree_sitter.Node) -> str:
    body = _body(node)
    if body is None or not body.named_children:
        return ""
    first = body.named_children[0]
    if (
        first.type == "expression_statement"
        and first.named_children
        and first.named_children[0].type == "string"
    ):
        return _text(src, first.named_children[0]).strip("\"' \n\r\t")
    return ""


def _signature(src: bytes, node: tree_sitter.Node, anchor: tree_sitter.Node) -> str:
    body = _body(node)
    end = body.start_byte if body is not None else node.end_byte
    sig = src[anchor.start_byte : end].decode("utf-8", errors="replace").rstrip().rstrip("{:").rstrip()
    return " ".join(sig.split())[:400]


def _elided(src: bytes, start: int, end: int, members: list[tree_sitter.Node]) -> str:
    """Source between ``start`` and ``end`` with each member function's body replaced by ``...``."""
    out: list[bytes] = []
    pos = start
    for m in members:
        body = _body(m)
        if body is None or body.start_byte < pos or body.end_byte > end:
            continue
        out.append(src[pos : body.start_byte])
        out.append(b"{ ... }" if src[body.start_byte : body.start_byte + 1] == b"{" else b"...")
        pos = body.end_byte
    out.append(src[pos:end])
    return b"".join(out).decode("utf-8", errors="replace")


def _walk(
    node: tree_sitter.Node, g: _Grammar, scope: list[str]
) -> Iterator[tuple[tree_sitter.Node, list[str]]]:
    for child in node.named_children:
        if (
            child.type in g.containers
            or child.type in g.functions
            or child.type in g.others
            or _is_function_value(child)
        ):
            yield child, scope
            if child.type in g.containers:
                name = child.child_by_field_name("name")
                label = name.text.decode("utf-8", errors="replace") if name is not None and name.text else "?"
                yield from _walk(child, g, [*scope, label])
            continue
        if child.type in ("function_definition", "function_declaration") or child.type.endswith("_function"):
            continue  # nested functions belong to their enclosing chunk
        yield from _walk(child, g, scope)


def code_chunks(path: str, source: str, language: str | None = None) -> list[Chunk]:
    """Definition chunks of one source file (empty when its language has no grammar here)."""
    language = language or language_of(path)
    if language is None:
        return []
    g = GRAMMARS[language]
    src = source.encode("utf-8")
    tree = _parser(language).parse(src)
    chunks: list[Chunk] = []
    for node, scope in _walk(tree.root_node, g, []):
        anchor = _anchor(node)
        name = _name(src, node)
        if node.type == "type_spec":
            anchor = node.parent if node.parent is not None else node
        if node.type == "method_declaration" and language == "go":
            scope = [r] if (r := _receiver(src, node)) else scope
        if not name:
            continue
        symbol = ".".join([*scope, name])
        doc = _python_docstring(src, node) if language == "python" else ""
        comments = _leading_comments(src, anchor, g)
        if node.type in g.containers:
            kind = "class"
            body = _body(node)
            kids = body.named_children if body is not None else []
            kids = [c.named_children[-1] if c.type == "decorated_definition" else c for c in kids]
            members = [c for c in kids if c.type in g.functions]
            text = _elided(src, anchor.start_byte, node.end_byte, members)
        else:
            kind = "method" if scope else ("type" if node.type in g.others else "function")
            text = textwrap.dedent(" " * anchor.start_point[1] + _text(src, anchor))
        signature = _signature(src, node, anchor)
        if comments:
            text = comments + "\n" + text
            doc = doc or _comment_text(comments)
        chunks.append(
            Chunk(
                path=path,
                kind=kind,
                symbol=symbol,
                signature=signature,
                docstring=doc[:1000],
                text=clip(text),
                start_line=anchor.start_point[0] + 1,
                language=language,
            )
        )
    return chunks
