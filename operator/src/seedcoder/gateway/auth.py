"""API keys from a mounted Secret directory, reloaded on change, checked in constant time.

Why this shape: Kubernetes mounts a Secret as one file per key and swaps the
files atomically (through a ``..data`` symlink) when the Secret changes, so the
directory is re-read when its listing or mtimes change, without a restart. The
presented key is compared with *every* known key using ``hmac.compare_digest``
and no early exit, so timing reveals neither a key nor which one matched.

Teams: a key's team is its file name (its key in the Secret) up to the first
``.``: ``payments.alice`` and ``payments.ci`` are team ``payments``, a key file
``api-key`` is team ``api-key``. Adapter routing reads it (``gateway.adapters``).
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
        self._teams: dict[str, str] = {}  # key id -> team
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
        teams: dict[str, str] = {}
        for name, _, _ in signature:
            try:
                key = Path(self._dir or ".", name).read_bytes().strip()
            except OSError:
                continue
            if key:
                keys.append(key)
                teams[key_id(key)] = team_of(name)
        self._keys = keys
        self._teams = teams
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
        return key_id(matched)

    def team(self, identity: str) -> str | None:
        """The team of the key whose id is ``identity`` (None: open mode or an unknown id)."""
        return self._teams.get(identity)


def key_id(key: bytes) -> str:
    """A stable, non-secret id of a key."""
    return hashlib.sha256(key).hexdigest()[:16]


def team_of(file_name: str) -> str:
    """A key file's team: its name up to the first ``.``."""
    return file_name.split(".", 1)[0]


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
