"""Splitting documentation at its headings: Markdown, reStructuredText, OpenAPI.

Why headings: a section is what a writer meant as one topic, and its heading
path (``Payments > Refunds > Limits``) names it the way a reader would. An
OpenAPI document becomes one chunk per operation (method and path, summary,
parameters) and one per component schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from seedcoder.retrieval.chunks import Chunk, clip

DOC_EXTENSIONS = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".yaml": "openapi",
                  ".yml": "openapi", ".json": "openapi"}  # fmt: skip
_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'`#*+:.])\1{2,}\s*$")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def doc_kind(path: str) -> str | None:
    dot = path.rfind(".")
    return DOC_EXTENSIONS.get(path[dot:].lower()) if dot >= 0 else None


def _section(path: str, trail: list[str], lines: list[str], start: int, language: str) -> Chunk | None:
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        return None
    symbol = " > ".join(trail) if trail else path.rsplit("/", 1)[-1]
    body = [line for line in lines[1:] if line.strip()] if trail else [line for line in lines if line.strip()]
    return Chunk(path, "section", symbol, trail[-1] if trail else "", " ".join(body[:3])[:400], clip(text),
                 start, language)  # fmt: skip


def markdown_chunks(path: str, text: str) -> list[Chunk]:
    """One chunk per heading (any level), fenced code blocks never split."""
    out: list[Chunk] = []
    trail: list[str] = []
    levels: list[int] = []
    current: list[str] = []
    start, fenced = 1, False
    for no, line in enumerate(text.split("\n"), start=1):
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _ATX.match(line)
        if m:
            if (chunk := _section(path, list(trail), current, start, "markdown")) is not None:
                out.append(chunk)
            level = len(m.group(1))
            while levels and levels[-1] >= level:
                levels.pop()
                trail.pop()
            levels.append(level)
            trail.append(m.group(2))
            current, start = [line], no
        else:
            current.append(line)
    if (chunk := _section(path, list(trail), current, start, "markdown")) is not None:
        out.append(chunk)
    return out


def rst_chunks(path: str, text: str) -> list[Chunk]:
    """One chunk per reStructuredText section (title over an adornment line; levels by first use)."""
    lines = text.split("\n")
    out: list[Chunk] = []
    order: list[str] = []
    trail: list[str] = []
    current: list[str] = []
    start, i = 1, 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        m = _RST_UNDERLINE.match(nxt)
        if line.strip() and not _RST_UNDERLINE.match(line) and m and len(nxt.strip()) >= len(line.strip()):
            if (chunk := _section(path, list(trail), current, start, "rst")) is not None:
                out.append(chunk)
            mark = m.group(1)
            if mark not in order:
                order.append(mark)
            level = order.index(mark)
            trail = [*trail[:level], line.strip()]
            current, start = [line.strip()], i + 1
            i += 2
            continue
        current.append(line)
        i += 1
    if (chunk := _section(path, list(trail), current, start, "rst")) is not None:
        out.append(chunk)
    return out


def _load_structured(path: str, text: str) -> Any:
    if path.lower().endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def openapi_chunks(path: str, text: str) -> list[Chunk]:
    """One chunk per operation and per component schema; [] when the file is not OpenAPI/Swagger."""
    try:
        doc = _load_structured(path, text)
    except (ValueError, yaml.YAMLError):
        return []
    if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
        return []
    out: list[Chunk] = []
    paths = doc.get("paths") or {}
    for route, item in paths.items() if isinstance(paths, dict) else ():
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            name = f"{method.upper()} {route}"
            summary = str(op.get("summary") or "")
            desc = str(op.get("description") or "")
            body = yaml.safe_dump({name: op}, sort_keys=False, allow_unicode=True, width=100)
            symbol = str(op.get("operationId") or name)
            out.append(Chunk(path, "operation", symbol, name, (summary + "\n" + desc).strip()[:1000],
                             clip(body), 1, "openapi"))  # fmt: skip
    schemas = (doc.get("components") or {}).get("schemas") or doc.get("definitions") or {}
    for name, schema in schemas.items() if isinstance(schemas, dict) else ():
        desc = str(schema.get("description") or "") if isinstance(schema, dict) else ""
        body = yaml.safe_dump({name: schema}, sort_keys=False, allow_unicode=True, width=100)
        out.append(Chunk(path, "type", str(name), f"schema {name}", desc[:1000], clip(body), 1, "openapi"))
    return out


def doc_chunks(path: str, text: str) -> list[Chunk]:
    kind = doc_kind(path)
    if kind == "markdown":
        return markdown_chunks(path, text)
    if kind == "rst":
        return rst_chunks(path, text)
    if kind == "openapi":
        return openapi_chunks(path, text)
    return []
