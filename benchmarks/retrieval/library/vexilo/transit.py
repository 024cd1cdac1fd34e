"""Transit: sending money between banks over the skelmwire network."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SkelmwireHandle:
    """An open connection to the skelmwire clearing network."""

    region: str
    lane_count: int = 4


def open_skelmwire(region: str, *, lane_count: int = 4) -> SkelmwireHandle:
    """Open a connection to the skelmwire clearing network of a region."""
    return SkelmwireHandle(region, lane_count)


def dispatch_torvel_batch(handle: SkelmwireHandle, slips: list[object], priority: str = "normal") -> str:
    """Send a batch of ledger slips over skelmwire as one torvel transfer; returns its transfer id."""
    return f"{handle.region}-{len(slips)}-{priority}"


def await_torvel_settlement(handle: SkelmwireHandle, transfer_id: str, timeout_s: float = 30.0) -> bool:
    """Wait until a torvel transfer settles; False when it did not within the timeout."""
    return bool(transfer_id) and timeout_s > 0


class GrimbleRetryPolicy:
    """Backoff for skelmwire calls that the clearing house throttled."""

    def __init__(self, attempts: int = 5, base_ms: int = 200) -> None:
        self.attempts = attempts
        self.base_ms = base_ms

    def next_delay_ms(self, attempt: int) -> int:
        """Delay before retry number ``attempt`` (exponential, capped)."""
        return min(self.base_ms * 2**attempt, 30_000)
