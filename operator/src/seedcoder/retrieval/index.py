"""The lexical index on disk: written by the indexing Job, read by every gateway replica.

Why tantivy: a BM25 engine in Rust with a memory-mapped on-disk format, so the
gateway opens a published index without loading it into Python objects and a
query over 100k chunks costs a fraction of a millisecond; its wheel needs no
compiler and no other native library. Text is tokenised here (``tokens``: whole
identifiers and their sub-words) and handed to tantivy as whitespace-separated
terms, so indexing and querying can never disagree on tokenisation.

Layout of an index root (a volume shared by the Job and the gateway)::

    <root>/CURRENT                 name of the published build (replaced atomically)
    <root>/builds/<name>/          tantivy files + manifest.json

A new build is written beside the published one and published by renaming a
temporary ``CURRENT`` over the old; readers notice the change and reopen. The
two newest builds are kept, so a reader still on the previous one never loses
its files mid-query.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy

from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.tokens import MAX_TOKEN, identifiers, tokens

CURRENT = "CURRENT"
BUILDS = "builds"
MANIFEST = "manifest.json"
SYMBOLS = "symbols.txt"
NAMES_REPEAT = 2
"""A term that matches a chunk's name (symbol, signature, file stem) counts this many times."""
MAX_REPEAT = 3
MAX_DF = 0.05
"""Query terms in more than this share of the chunks are dropped (they barely rank, but cost a scan)."""
MAX_EXPANSIONS = 16
"""A half-typed name is expanded to the full names it starts only when it starts at most this many."""
KEEP_BUILDS = 2


class IndexUnavailable(Exception):
    """The index root is missing, unpublished or unreadable."""


@dataclass
class Manifest:
    """What a build holds; the indexing program prints it and the operator copies it to status."""

    built_at: str
    documents: int = 0
    chunks: int = 0
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    build_seconds: float = 0.0
    bytes: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "builtAt": self.built_at,
            "documents": self.documents,
            "chunks": self.chunks,
            "sources": self.sources,
            "errors": self.errors,
            "buildSeconds": round(self.build_seconds, 3),
            "bytes": self.bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            built_at=str(data["builtAt"]),
            documents=int(data.get("documents", 0)),
            chunks=int(data.get("chunks", 0)),
            sources=dict(data.get("sources", {})),
            errors=list(data.get("errors", [])),
            build_seconds=float(data.get("buildSeconds", 0.0)),
            bytes=int(data.get("bytes", 0)),
        )


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_text_field("names", stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_bytes_field("chunk", stored=True, indexed=False)
    return sb.build()


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class IndexBuilder:
    """Writes one new build under ``root``; ``publish()`` makes it the current one."""

    def __init__(self, root: Path, *, heap_bytes: int = 200_000_000, threads: int = 1) -> None:
        self.root = root
        (root / BUILDS).mkdir(parents=True, exist_ok=True)
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}"
        n = 0
        while True:  # names sort in build order; a clash (same microsecond) takes the next number
            self.name = f"{stamp}-{n}"
            self.path = root / BUILDS / self.name
            try:
                self.path.mkdir()
                break
            except FileExistsError:
                n += 1
        self._index = tantivy.Index(_schema(), path=str(self.path))
        self._writer = self._index.writer(heap_size=heap_bytes, num_threads=threads)
        self.chunks = 0
        self._symbols: set[str] = set()
        self._started = time.monotonic()

    def add(self, chunks: Iterable[Chunk]) -> None:
        for c in chunks:
            names = " ".join(tokens(f"{c.symbol} {c.signature} {Path(c.path).stem}", keep_stop=True))
            body = " ".join(tokens(f"{c.docstring}\n{c.text}"))
            data = json.dumps(c.to_json(), separators=(",", ":")).encode()
            self._writer.add_document(tantivy.Document(body=body, names=names, chunk=data))
            self._symbols.update(i.lower() for i in identifiers(c.symbol) if len(i) <= MAX_TOKEN)
            self.chunks += 1

    def abandon(self) -> None:
        """Drop this unpublished build (nothing worth serving was found)."""
        self._writer.rollback()
        del self._writer, self._index
        shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, manifest: Manifest) -> Manifest:
        """Commit, write the manifest, point ``CURRENT`` here, drop builds older than the last two."""
        self._writer.commit()
        self._writer.wait_merging_threads()
        manifest.chunks = self.chunks
        manifest.build_seconds = time.monotonic() - self._started
        (self.path / SYMBOLS).write_text("".join(f"{name}\n" for name in sorted(self._symbols)))
        manifest.bytes = _dir_bytes(self.path)
        (self.path / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n")
        tmp = self.root / f".{CURRENT}.{self.name}"
        tmp.write_text(self.name + "\n")
        os.replace(tmp, self.root / CURRENT)
        builds = sorted((p for p in (self.root / BUILDS).iterdir() if p.is_dir()), key=lambda p: p.name)
        for old in builds[:-KEEP_BUILDS]:
            shutil.rmtree(old, ignore_errors=True)
        return manifest


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float


def current_build(root: Path) -> Path:
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError as exc:
        raise IndexUnavailable(f"no index has been published under {root} yet (no {CURRENT} file)") from exc
    if not name or "/" in name:
        raise IndexUnavailable(f"{root / CURRENT} does not name a build")
    return root / BUILDS / name


class IndexReader:
    """One opened build: BM25 search over identifiers and their sub-words."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not (path / MANIFEST).is_file():
            raise IndexUnavailable(f"{path} is not a complete index build (no {MANIFEST})")
        self.manifest = Manifest.from_json(json.loads((path / MANIFEST).read_text()))
        self._index = tantivy.Index.open(str(path))
        self._schema = self._index.schema
        self._searcher = self._index.searcher()
        self._docs = max(self._searcher.num_docs, 1)
        symbols = path / SYMBOLS
        self._symbols = symbols.read_text().split() if symbols.is_file() else []

    @classmethod
    def open_current(cls, root: Path) -> IndexReader:
        return cls(current_build(root))

    def expand(self, partial: str) -> list[str]:
        """Full names that start with a half-typed one; [] when none or too many to be telling."""
        lo = bisect.bisect_left(self._symbols, partial)
        hi = bisect.bisect_left(
            self._symbols, partial + "\x7f", lo, min(len(self._symbols), lo + MAX_EXPANSIONS + 1)
        )
        if hi - lo > MAX_EXPANSIONS:
            return []
        return self._symbols[lo:hi]

    def _telling(self, terms: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """Terms that are in the index and not in nearly every chunk."""
        limit = max(MAX_DF * self._docs, 20)
        out = []
        for term, weight in terms:
            df = self._searcher.doc_freq("body", term) + self._searcher.doc_freq("names", term)
            if 0 < df <= limit:
                out.append((term, weight))
        return out

    def search(self, terms: Sequence[tuple[str, float]], k: int, partial: str | None = None) -> list[Hit]:
        """The ``k`` best chunks (BM25) for weighted terms and an optional half-typed name.

        Weights become repetitions of a term's clause (1 to ``MAX_REPEAT``), and a match in the
        names counts ``NAMES_REPEAT`` times: plain term clauses keep tantivy's block-max WAND, which
        skips most of the index, where boosted clauses would make it score every match.
        """
        if k <= 0:
            return []
        weighted = self._telling(terms)
        if partial:
            weighted += [(name, float(MAX_REPEAT)) for name in self.expand(partial.lower())]
        clauses = []
        for term, weight in weighted:
            repeat = max(1, min(MAX_REPEAT, round(weight)))
            body = tantivy.Query.term_query(self._schema, "body", term)
            names = tantivy.Query.term_query(self._schema, "names", term)
            clauses += [(tantivy.Occur.Should, body)] * repeat + [(tantivy.Occur.Should, names)] * (
                repeat * NAMES_REPEAT
            )
        if not clauses:
            return []
        result = self._searcher.search(tantivy.Query.boolean_query(clauses), k)
        hits = []
        for score, addr in result.hits:
            raw = self._searcher.doc(addr)["chunk"][0]
            hits.append(Hit(Chunk.from_json(json.loads(bytes(raw))), float(score)))
        return hits


class LiveIndex:
    """The current build under a root, reopened when a newer one is published (checked at most every
    ``check_s`` seconds, on the caller's clock). ``reader`` is None until a build exists."""

    def __init__(self, root: Path, check_s: float = 10.0) -> None:
        self.root = root
        self.check_s = check_s
        self.reader: IndexReader | None = None
        self.error: str | None = None
        self._checked = -1e18
        self._name = ""

    def refresh(self, now: float) -> IndexReader | None:
        if now - self._checked < self.check_s:
            return self.reader
        self._checked = now
        try:
            path = current_build(self.root)
            if path.name != self._name:
                self.reader = IndexReader(path)
                self._name = path.name
            self.error = None
        except (IndexUnavailable, OSError, ValueError) as exc:
            self.error = str(exc)
        return self.reader
