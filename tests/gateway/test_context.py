"""Trimming a prompt around the cursor (pure code)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from seedcoder.gateway.context import trim_around_cursor


def _lines(tag: str, n: int) -> str:
    return "".join(f"{tag}{i:03d}\n" for i in range(n))


def test_fits_untouched() -> None:
    t = trim_around_cursor("a\nb", "c\nd", "x", 100)
    assert (t.prefix, t.suffix, t.extra, t.dropped_bytes) == ("a\nb", "c\nd", "x", 0)


def test_keeps_the_lines_nearest_the_cursor_on_both_sides() -> None:
    prefix = _lines("p", 100) + "    cur"
    suffix = "sor()\n" + _lines("s", 100)
    t = trim_around_cursor(prefix, suffix, "EXTRA" * 100, 200)
    assert t.extra == ""  # other files go first
    assert t.prefix.endswith("p099\n    cur")
    assert t.suffix.startswith("sor()\ns000")
    assert "p000" not in t.prefix
    assert "s099" not in t.suffix
    kept = len((t.prefix + t.suffix).encode())
    assert kept <= 200
    assert t.dropped_bytes == len((prefix + suffix).encode()) + 500 - kept
    # Balanced: about as many lines on each side.
    assert abs(t.prefix.count("\n") - t.suffix.count("\n")) <= 1


def test_one_side_short_lets_the_other_use_the_room() -> None:
    t = trim_around_cursor(_lines("p", 100), "end", "", 300)
    assert t.suffix == "end"
    assert len(t.prefix.encode()) > 250


def test_a_huge_cursor_line_is_cut_far_from_the_cursor() -> None:
    t = trim_around_cursor("x" * 1000 + "NEAR", "NEXT" + "y" * 1000, "", 100)
    assert t.prefix.endswith("NEAR")
    assert t.suffix.startswith("NEXT")
    assert len((t.prefix + t.suffix).encode()) <= 100


@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=100), st.integers(0, 700))
def test_never_over_budget_and_always_contiguous_around_the_cursor(
    prefix: str, suffix: str, extra: str, budget: int
) -> None:
    t = trim_around_cursor(prefix, suffix, extra, budget)
    total = len((prefix + suffix + extra).encode())
    kept = len((t.prefix + t.suffix + t.extra).encode())
    assert kept <= max(budget, 0) or total <= budget
    assert prefix.endswith(t.prefix)
    assert suffix.startswith(t.suffix)
    assert extra.endswith(t.extra)
    assert t.dropped_bytes == total - kept
