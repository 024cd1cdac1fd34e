"""The engine cache on disk: where an artifact lives, when it is complete, how it is published.

Why: several build Jobs (retries, two resources needing the same engine) may touch
one key, and a Job can die at any moment. An artifact is built in a private
temporary directory and published with one ``rename``; ``manifest.json`` is its
last file, so a directory at the final path with a manifest whose key matches is
complete and is never rebuilt, and anything else is debris that is cleaned away.

The layout and its names are defined once in :mod:`seedcoder.engines.layout`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from seedcoder.engines import layout
from seedcoder.engines.layout import MANIFEST

LOCK = ".lock"


@dataclass(frozen=True)
class Artifact:
    cache_dir: Path
    key: str

    @property
    def engines_dir(self) -> Path:
        return Path(layout.engines_root(self.cache_dir))

    @property
    def final_dir(self) -> Path:
        return Path(layout.artifact_dir(self.cache_dir, self.key))

    def is_complete(self) -> bool:
        """A published artifact whose manifest names this key."""
        try:
            data = json.loads((self.final_dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("key") == self.key

    def partials(self) -> list[Path]:
        """Abandoned temporary directories of this key, and an incomplete final directory.

        A temporary directory whose lock is held belongs to a build still running
        (another Job, or a retry racing a slow one) and is left alone.
        """
        found = sorted(self.engines_dir.glob(f".tmp-{self.key}-*")) if self.engines_dir.is_dir() else []
        found = [p for p in found if not _locked(p)]
        if self.final_dir.exists() and not self.is_complete():
            found.append(self.final_dir)
        return found

    def clean_partials(self) -> list[Path]:
        """Remove what :meth:`partials` finds; returns what was removed."""
        removed = self.partials()
        for path in removed:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        return removed

    def new_workdir(self) -> Path:
        """A fresh private directory on the same file system as the final one (rename is atomic)."""
        self.engines_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".tmp-{self.key}-", dir=self.engines_dir))

    @contextmanager
    def locked_workdir(self) -> Iterator[Path]:
        """:meth:`new_workdir`, holding its lock (``flock``) until the block ends."""
        workdir = self.new_workdir()
        fd = os.open(workdir / LOCK, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield workdir
        finally:
            os.close(fd)

    def publish(self, workdir: Path) -> bool:
        """Rename ``workdir`` to the final path.

        Returns False if another build published first (``workdir`` is then removed).
        """
        if not (workdir / MANIFEST).is_file():
            raise ValueError(f"refusing to publish {workdir}: it has no {MANIFEST}")
        try:
            os.rename(workdir, self.final_dir)
        except OSError:
            if self.is_complete():
                shutil.rmtree(workdir, ignore_errors=True)
                return False
            raise
        return True


def _locked(workdir: Path) -> bool:
    """True while a running build holds ``workdir``'s lock."""
    try:
        fd = os.open(workdir / LOCK, os.O_RDWR)
    except OSError:
        return False  # no lock file: abandoned before it was even locked
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def tree_size(path: Path) -> int:
    """Bytes of all regular files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
