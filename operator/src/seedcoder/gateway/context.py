"""Fitting a prompt into the context budget by keeping the code nearest the cursor.

Why pure code: the decision of *what* to keep is independent of *how* tokens are
counted (the service counts them with the model's real tokenizer over Triton and
hands this module a byte budget derived from that count), so it is unit-tested
without a model.

Rule: lines are taken in order of distance from the cursor, alternating prefix
(upwards) and suffix (downwards), starting with the cursor line's two halves,
until the next line on a side no longer fits; that side then stops (kept text
stays contiguous) while the other side continues. Extra context (other files)
is dropped before any line of the prefix or the suffix. When even the cursor
line's halves do not fit, they are cut character-wise, far end first.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trimmed:
    """What survives the budget."""

    prefix: str
    suffix: str
    extra: str
    dropped_bytes: int


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _tail_bytes(text: str, budget: int) -> str:
    """The longest end of ``text`` within ``budget`` UTF-8 bytes (never splits a character)."""
    raw = text.encode("utf-8")
    if len(raw) <= budget:
        return text
    return raw[len(raw) - budget :].decode("utf-8", errors="ignore") if budget > 0 else ""


def _head_bytes(text: str, budget: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= budget:
        return text
    return raw[:budget].decode("utf-8", errors="ignore") if budget > 0 else ""


def trim_around_cursor(prefix: str, suffix: str, extra: str, budget_bytes: int) -> Trimmed:
    """Keep at most ``budget_bytes`` of ``extra + prefix + suffix``, nearest the cursor first."""
    total = _nbytes(prefix) + _nbytes(suffix) + _nbytes(extra)
    if total <= budget_bytes:
        return Trimmed(prefix, suffix, extra, 0)
    budget = max(budget_bytes, 0)
    # Lines with their newline attached on the side away from the cursor.
    p_lines = prefix.split("\n")
    p_parts = [line + "\n" for line in p_lines[:-1]]
    p_cursor = p_lines[-1]
    s_lines = suffix.split("\n")
    s_cursor = s_lines[0]
    s_parts = ["\n" + line for line in s_lines[1:]]

    # The cursor line's halves come first, cut character-wise if they alone overflow.
    p_cur_b, s_cur_b = _nbytes(p_cursor), _nbytes(s_cursor)
    if p_cur_b + s_cur_b > budget:
        keep_p = min(p_cur_b, max(budget - min(s_cur_b, budget // 4), 0))
        p_cursor = _tail_bytes(p_cursor, keep_p)
        s_cursor = _head_bytes(s_cursor, budget - _nbytes(p_cursor))
        kept = p_cursor + s_cursor
        return Trimmed(p_cursor, s_cursor, "", total - _nbytes(kept))

    used = p_cur_b + s_cur_b
    kept_p: list[str] = []
    kept_s: list[str] = []
    i = len(p_parts) - 1
    j = 0
    p_open, s_open = i >= 0, j < len(s_parts)
    while p_open or s_open:
        if p_open:
            size = _nbytes(p_parts[i])
            if used + size <= budget:
                kept_p.append(p_parts[i])
                used += size
                i -= 1
                p_open = i >= 0
            else:
                p_open = False
        if s_open:
            size = _nbytes(s_parts[j])
            if used + size <= budget:
                kept_s.append(s_parts[j])
                used += size
                j += 1
                s_open = j < len(s_parts)
            else:
                s_open = False
    new_prefix = "".join(reversed(kept_p)) + p_cursor
    new_suffix = s_cursor + "".join(kept_s)
    new_extra = ""
    if i < 0 and j >= len(s_parts) and extra:
        # Everything of the file fits: what is left goes to the extra context, nearest end first.
        new_extra = _tail_bytes(extra, budget - used)
    kept_bytes = _nbytes(new_prefix) + _nbytes(new_suffix) + _nbytes(new_extra)
    return Trimmed(new_prefix, new_suffix, new_extra, total - kept_bytes)
