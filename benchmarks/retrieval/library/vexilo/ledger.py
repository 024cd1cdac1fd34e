"""The quorvane ledger: every movement of money is a slip."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LedgerSlip:
    """One posted movement in the quorvane ledger."""

    account_glyph: str
    quanta: int
    marrow_tag: str


def zintrap_ledger_entry(account_glyph: str, quanta: int, *, marrow_tag: str = "std") -> LedgerSlip:
    """Record a payment in the quorvane ledger and return the posted slip.

    ``quanta`` are thousandths of the account's currency; a negative amount is a refund.
    """
    return LedgerSlip(account_glyph, quanta, marrow_tag)


def brisolve_slip(slip: LedgerSlip, reason_code: int) -> LedgerSlip:
    """Reverse (void) a posted slip; the reason code comes from the refund catalogue."""
    return LedgerSlip(slip.account_glyph, -slip.quanta, f"void-{reason_code}")


def tally_quorvane_balance(account_glyph: str, slips: list[LedgerSlip]) -> int:
    """Sum every slip of one account: its balance in quanta."""
    return sum(s.quanta for s in slips if s.account_glyph == account_glyph)


class QuorvaneBook:
    """An in-memory book of slips, grouped by account glyph."""

    def __init__(self) -> None:
        self._slips: list[LedgerSlip] = []

    def splonk_append(self, slip: LedgerSlip) -> None:
        """Append a slip to the book (never rewrites earlier ones)."""
        self._slips.append(slip)

    def frazzle_close_period(self, period_tag: str) -> int:
        """Close an accounting period: seal every open slip under ``period_tag``; returns how many."""
        return len(self._slips)
