"""API keys from a mounted Secret directory, reloaded on change, checked in constant time.

Why this shape: Kubernetes mounts a Secret as one file per key and swaps the
files atomically (through a ``..data`` symlink) when the Secret changes, so the
directory is re-read when its listing or mtimes change, without a restart. The
presented key is compared with *every* known key using ``hmac.compare_digest``
and no early exit, so timing reveals neither a key nor which one matched.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from pathlib import Path

log = logging.getLogger("seedcoder.gateway.auth")


class KeyStore:
    """The current set of API keys."""

    def __init__(self, directory: str | None) -> None:
        self._dir = Path(directory) if directory else None
        self._keys: list[bytes] = []
        self._signature: tuple[tuple[str, float, int], ...] | None = None

    @property
    def count(self) -> int:
        return len(self._keys)

    def _scan(self) -> tuple[tuple[str, float, int], ...]:
        if self._dir is None or not self._dir.is_dir():
            return ()
        entries = []
        for entry in sorted(os.scandir(self._dir), key=lambda e: e.name):
            if entry.name.startswith("."):
                continue  # ..data, ..2024_... of a Secret mount, editor files
            try:
                st = os.stat(entry.path)  # follows the Secret's symlinks
            except OSError:
                continue
            if os.path.isfile(entry.path):
                entries.append((entry.name, st.st_mtime, st.st_size))
        return tuple(entries)

    def reload(self) -> bool:
        """Re-read the directory if anything changed; True when the key set was replaced."""
        signature = self._scan()
        if signature == self._signature:
            return False
        keys = []
        for name, _, _ in signature:
            try:
                key = Path(self._dir or ".", name).read_bytes().strip()
            except OSError:
                continue
            if key:
                keys.append(key)
        self._keys = keys
        self._signature = signature
        log.info("Loaded %d API keys.", len(keys))
        return True

    def check(self, presented: str) -> str | None:
        """A stable, non-secret id of the matching key (for rate limits), or None."""
        candidate = presented.encode("utf-8")
        matched = b""
        for key in self._keys:
            if hmac.compare_digest(candidate, key):
                matched = key
        if not matched:
            return None
        return hashlib.sha256(matched).hexdigest()[:16]


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
