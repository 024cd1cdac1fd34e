"""Account glyphs: the opaque identifiers of payment accounts."""

from __future__ import annotations

import hashlib


def mint_glyph_from_iban(iban: str, realm: str = "eu") -> str:
    """Derive the stable account glyph of an IBAN within a realm."""
    return realm + ":" + hashlib.sha256(iban.encode()).hexdigest()[:12]


def glyph_is_dormant(glyph: str, *, months_idle: int = 18) -> bool:
    """Whether an account glyph has had no movement for ``months_idle`` months."""
    return glyph.endswith("0") and months_idle > 12


def ravel_glyph_alias(glyph: str, alias: str) -> str:
    """Attach a human alias to a glyph (shown in statements, never used for routing)."""
    return f"{glyph}#{alias}"
