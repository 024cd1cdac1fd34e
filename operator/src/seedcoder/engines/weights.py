"""Stages 1 and 2 of a build: fetch the weights from the model source, verify their checksums.

Why: a build must use exactly the bytes it claims to (the engine key names a
revision), and a corrupted or truncated download must fail the build, not make a
broken engine. Checksums come from a ``SHA256SUMS`` file beside the weights when
there is one (``sha256sum`` format) and are always recorded in the manifest.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

from seedcoder.engines.buildcmd import ModelSource
from seedcoder.engines.manifest import WeightFile

CHECKSUMS = "SHA256SUMS"
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin")


class FetchError(RuntimeError):
    """The weights could not be fetched or failed verification."""


def fetch(source: ModelSource, revision: str, downloads: Path) -> Path:
    """A local directory holding the model's files."""
    if source.kind == "pvc":
        path = Path(source.location)
        if not path.is_dir():
            raise FetchError(f"model directory {path} does not exist (is the model volume mounted?)")
        return path
    target = downloads / revision
    target.mkdir(parents=True, exist_ok=True)
    if source.kind == "huggingface":
        hub = importlib.import_module("huggingface_hub")  # in the build image; checks LFS sha256s

        return Path(hub.snapshot_download(repo_id=source.location, revision=revision, local_dir=target))
    return _fetch_s3(source, target)


def _fetch_s3(source: ModelSource, target: Path) -> Path:
    boto3 = importlib.import_module("boto3")  # in the build image

    bucket, _, prefix = source.location.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3", endpoint_url=source.endpoint)
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(prefix) :].lstrip("/")
            if rel:
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, obj["Key"], str(target / rel))
    return target


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_checksums(text: str) -> dict[str, str]:
    """``sha256sum`` output: ``<hex>  <name>`` (``*name`` for binary mode) per line."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) != 64 or not name:
            raise FetchError(f"{CHECKSUMS} line {n} is not '<sha256>  <file>': {line!r}")
        out[name] = digest.lower()
    return out


def verify(model_dir: Path, *, required: tuple[str, ...] = ()) -> list[WeightFile]:
    """Check required files, every listed checksum; return every weight file with its sha256."""
    missing = [name for name in required if not (model_dir / name).exists()]
    if missing:
        raise FetchError(f"{model_dir} lacks {', '.join(missing)}")
    weights = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise FetchError(f"{model_dir} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    listed = parse_checksums((model_dir / CHECKSUMS).read_text()) if (model_dir / CHECKSUMS).is_file() else {}
    for name in listed:
        if not (model_dir / name).is_file():
            raise FetchError(f"{CHECKSUMS} lists {name}, which is missing")
    files = []
    for path in weights:
        rel = str(path.relative_to(model_dir))
        digest = sha256_file(path)
        if rel in listed and listed[rel] != digest:
            raise FetchError(f"checksum mismatch for {rel}: expected {listed[rel]}, got {digest}")
        files.append(WeightFile(path=rel, bytes=path.stat().st_size, sha256=digest))
    return files
