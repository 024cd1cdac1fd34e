"""``seedcoder index``: the indexing program the operator's Job and CronJob run.

It clones each Git source (shallow, one branch, with dulwich: no ``git`` binary
in the image), walks each docs folder, splits every selected file into chunks,
writes a new index build under ``--out`` and publishes it. The summary (time,
documents, chunks, errors) goes to stdout and to the container's termination
message, where the operator reads it into ``status.retrieval``. A source that
fails is an error in the summary, not the end of the run; when every source
fails nothing is published and the previous index keeps serving.

Input: ``--sources`` (or ``SEEDCODER_INDEX_SOURCES``) is the JSON of
``spec.retrieval.sources``; docs source ``NAME`` is read from
``<--docs-root>/NAME``; Git credentials of source ``NAME`` come from
``SEEDCODER_GIT_USERNAME_<NAME>`` and ``SEEDCODER_GIT_PASSWORD_<NAME>`` (upper
case, ``-`` as ``_``) and are never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from seedcoder.api.retrieval import GitSource, RetrievalSources
from seedcoder.retrieval.chunks import Chunk
from seedcoder.retrieval.code import code_chunks, language_of
from seedcoder.retrieval.docs import doc_chunks, doc_kind
from seedcoder.retrieval.globs import selected
from seedcoder.retrieval.index import IndexBuilder, Manifest

MAX_FILE_BYTES = 1_000_000
SKIP_DIRS = frozenset({".git", "node_modules", "vendor", "__pycache__", ".venv", "dist", "build"})
TERMINATION_LOG = "/dev/termination-log"
TERMINATION_MAX = 4000


def env_name(kind: str, source: str) -> str:
    return f"SEEDCODER_GIT_{kind}_{source.upper().replace('-', '_')}"


def supported(path: str) -> bool:
    return language_of(path) is not None or doc_kind(path) is not None


def file_chunks(path: str, text: str) -> list[Chunk]:
    if language_of(path) is not None:
        return code_chunks(path, text)
    return doc_chunks(path, text)


def walk(root: Path, include: list[str], exclude: list[str]) -> Iterator[tuple[str, Path]]:
    """Selected files under ``root`` as (relative path, file), in sorted order (a stable index)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if supported(rel) and selected(rel, include, exclude) and not full.is_symlink():
                yield rel, full


def read_text(path: Path) -> str | None:
    """The file as UTF-8 text; None for binaries and files over ``MAX_FILE_BYTES``."""
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        return None
    return raw.decode("utf-8", errors="replace")


def clone(src: GitSource, target: Path) -> None:
    """Shallow clone of one branch; credentials from the environment (HTTP basic)."""
    from dulwich import porcelain

    kwargs: dict[str, Any] = {}
    user, password = (
        os.environ.get(env_name("USERNAME", src.name)),
        os.environ.get(env_name("PASSWORD", src.name)),
    )
    if src.credentials_secret_ref is not None and not (user or password):
        raise RuntimeError(
            f"credentials of git source {src.name!r} are missing: set {env_name('USERNAME', src.name)} "
            f"and {env_name('PASSWORD', src.name)}"
        )
    if user or password:  # a token alone goes as the password (most hosts ignore the user name)
        kwargs = {"username": user or "token", "password": password or ""}
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(os.devnull, "wb") as quiet:
        repo = porcelain.clone(
            src.url, str(target), depth=1, branch=src.branch, checkout=True, errstream=quiet, **kwargs
        )
    repo.close()


def _redact(message: str, src: GitSource) -> str:
    for kind in ("USERNAME", "PASSWORD"):
        secret = os.environ.get(env_name(kind, src.name))
        if secret:
            message = message.replace(secret, "***")
    return message


def index_tree(
    builder: IndexBuilder, name: str, root: Path, include: list[str], exclude: list[str]
) -> dict[str, int]:
    documents = chunks = 0
    for rel, full in walk(root, include, exclude):
        text = read_text(full)
        if text is None:
            continue
        found = file_chunks(f"{name}/{rel}", text)
        if found:
            builder.add(found)
            documents += 1
            chunks += len(found)
    return {"documents": documents, "chunks": chunks}


def run(sources: RetrievalSources, out: Path, docs_root: Path | None, work: Path) -> Manifest:
    out.mkdir(parents=True, exist_ok=True)
    builder = IndexBuilder(out)
    manifest = Manifest(built_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    ok = 0
    for git in sources.git:
        target = work / "git" / git.name
        try:
            clone(git, target)
            stats = index_tree(builder, git.name, target, git.include, git.exclude)
        except Exception as exc:  # one unreachable repository must not stop the others
            manifest.errors.append(_redact(f"git source {git.name!r} ({git.url}): {exc}", git)[:500])
            continue
        manifest.sources[git.name] = {"kind": "git", **stats}
        manifest.documents += stats["documents"]
        ok += 1
    for docs in sources.docs:
        folder = (docs_root or Path(".")) / docs.name
        if not folder.is_dir():
            manifest.errors.append(f"docs source {docs.name!r}: folder {folder} does not exist")
            continue
        stats = index_tree(builder, docs.name, folder, docs.include, docs.exclude)
        manifest.sources[docs.name] = {"kind": "docs", **stats}
        manifest.documents += stats["documents"]
        ok += 1
    if ok == 0:
        builder.abandon()
        return manifest
    return builder.publish(manifest)


def summary_text(manifest: Manifest, published: bool) -> str:
    """The termination message: compact JSON under Kubernetes' 4096-byte limit."""
    data = {**manifest.to_json(), "published": published}
    data.pop("sources", None)
    text = json.dumps(data, separators=(",", ":"))
    while len(text.encode()) > TERMINATION_MAX and data["errors"]:
        data["errors"] = data["errors"][:-1]
        text = json.dumps(data, separators=(",", ":"))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="seedcoder index", description="Build and publish the code index.")
    parser.add_argument("--sources", default=os.environ.get("SEEDCODER_INDEX_SOURCES"),
                        help="JSON of spec.retrieval.sources (or a path to a file holding it)")  # fmt: skip
    parser.add_argument("--out", required=True, help="index root (the index claim's mount)")
    parser.add_argument("--docs-root", default=None, help="folder holding one sub-folder per docs source")
    parser.add_argument("--termination-log", default=TERMINATION_LOG)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if not args.sources:
        print("seedcoder index: --sources (or SEEDCODER_INDEX_SOURCES) is required", file=sys.stderr)
        return 2
    raw = args.sources
    if not raw.lstrip().startswith("{"):
        raw = Path(raw).read_text()
    try:
        sources = RetrievalSources.model_validate_json(raw)
    except ValidationError as exc:
        print(f"seedcoder index: the sources are not valid: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="seedcoder-index-") as work:
        manifest = run(sources, Path(args.out), Path(args.docs_root) if args.docs_root else None, Path(work))
    published = bool(manifest.sources)
    text = summary_text(manifest, published)
    print(text)
    with contextlib.suppress(OSError):  # outside a pod there is no termination log
        Path(args.termination_log).write_text(text)
    return 0 if published else 1


if __name__ == "__main__":
    raise SystemExit(main())
