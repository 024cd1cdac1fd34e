"""FIM prompt rendering, stop merging and end-of-block trimming (pure code)."""

from __future__ import annotations

import pytest
from seedcoder.api.gateway_config import FimTemplate
from seedcoder.gateway.fim import BlockEnd, ExtraChunk, merge_stops, render_extra, render_fim, trim_block

SPM = FimTemplate().template


def test_spm_order_puts_the_suffix_first() -> None:
    out = render_fim(SPM, "def f(x):\n    return ", "\n\nprint(f(1))\n")
    assert out == "<[fim-suffix]>\n\nprint(f(1))\n<[fim-prefix]>def f(x):\n    return <[fim-middle]>"


def test_psm_order_and_braces_in_code_survive() -> None:
    template = "<PRE>{prefix}<SUF>{suffix}<MID>"
    assert render_fim(template, "x = {'a': 1}", "}") == "<PRE>x = {'a': 1}<SUF>}<MID>"
    assert (
        render_fim(SPM, "{suffix}", "{prefix}")
        == "<[fim-suffix]>{prefix}<[fim-prefix]>{suffix}<[fim-middle]>"
    )


def test_fim_stops_are_added_only_for_fim_and_deduplicated() -> None:
    fim_stops = FimTemplate().stop
    assert merge_stops(["\n\n"], fim_stops, fim=False) == ["\n\n"]
    merged = merge_stops(["\n\n", "<[fim-prefix]>", ""], fim_stops, fim=True)
    assert merged[0] == "\n\n"
    assert merged.count("<[fim-prefix]>") == 1
    assert "<[end▁of▁sentence]>" in merged
    assert len(merged) == 5


def test_extra_context_has_a_header_per_file() -> None:
    text = render_extra([ExtraChunk("a.py", "x = 1"), ExtraChunk("b.py", "y = 2\n")])
    assert text == "# file: a.py\nx = 1\n\n# file: b.py\ny = 2\n\n"


@pytest.mark.parametrize(
    ("prefix", "suffix", "completion", "expected", "cut"),
    [
        # Python: the body ends at the dedent.
        (
            "def f(x):\n",
            "",
            "    y = x + 1\n    return y\n\ndef g():\n    pass\n",
            "    y = x + 1\n    return y\n\n",
            True,
        ),
        # Cursor mid-line: the line's continuation is kept, a dedent below the cursor line cuts.
        ("    x = ", "", "compute()\n    y = 2\nz = 3\n", "compute()\n    y = 2\n", True),
        # Braces: the closing brace already in the suffix is not repeated.
        ("int f() {\n", "}\n", "  return 1;\n}\n", "  return 1;\n", True),
        # Re-writing the suffix's first line stops the completion.
        ("def f():\n    a = 1\n", "    return a\n", "    b = 2\n    return a\n", "    b = 2\n", True),
        # Nothing to cut.
        ("def f():\n", "", "    return 1", "    return 1", False),
    ],
)
def test_block_end(prefix: str, suffix: str, completion: str, expected: str, cut: bool) -> None:
    assert trim_block(prefix, suffix, completion) == (expected, cut)


def test_block_end_streamed_in_pieces_matches_whole() -> None:
    prefix, completion = "def f(x):\n", "    y = x + 1\n    return y\n\ndef g():\n    pass\n"
    det = BlockEnd(prefix, "")
    out = "".join(det.feed(completion[i : i + 3]) for i in range(0, len(completion), 3)) + det.finish()
    assert det.done
    assert out == trim_block(prefix, "", completion)[0]
