"""Where a completion is cut short by the text itself: block end and llama.cpp's ``n_indent``.

Why one seam: the service feeds every candidate's text through at most one cut
object (``feed`` returns what may be emitted now, ``finish`` the held-back rest,
``done`` once the cut happened), whatever rules the request asked for, so the
streamed and the non-streamed paths apply the same rules.

``n_indent`` (llama.vscode sends the cursor line's indentation) ends the
completion at the first later line whose indentation is smaller: the model has
left the block the cursor is in. The first line continues the cursor line and is
never cut; blank lines are kept; tabs count as one character, as in llama.cpp.
"""

from __future__ import annotations

from typing import Protocol

from seedcoder.gateway.fim import BlockEnd


class TextCut(Protocol):
    @property
    def done(self) -> bool: ...

    def feed(self, delta: str) -> str: ...

    def finish(self) -> str: ...


class IndentLimit:
    """Cuts before the first later line indented less than ``n_indent`` characters."""

    def __init__(self, n_indent: int) -> None:
        self._n = n_indent
        self._held = ""
        self._at_line_start = False  # true after a newline, until the line's first visible character
        self.done = False

    def feed(self, delta: str) -> str:
        if self.done:
            return ""
        out: list[str] = []
        for ch in delta:
            if not self._at_line_start:
                out.append(ch)
                self._at_line_start = ch == "\n"
            elif ch in " \t":
                self._held += ch
            elif ch in "\r\n":
                out.append(self._held + ch)
                self._held = ""
            elif len(self._held) < self._n:
                self.done = True
                self._held = ""
                break
            else:
                out.append(self._held + ch)
                self._held = ""
                self._at_line_start = False
        return "".join(out)

    def finish(self) -> str:
        held, self._held = self._held, ""
        return "" if self.done else held


class Chain:
    """Two cuts, the second fed with what the first lets through."""

    def __init__(self, first: TextCut, second: TextCut) -> None:
        self._a, self._b = first, second

    @property
    def done(self) -> bool:
        return self._a.done or self._b.done

    def feed(self, delta: str) -> str:
        return self._b.feed(self._a.feed(delta)) if not self.done else ""

    def finish(self) -> str:
        if self._b.done:
            return ""
        rest = self._b.feed(self._a.finish())
        return rest + ("" if self._b.done else self._b.finish())


def text_cut(block_end: bool, n_indent: int, prefix: str, suffix: str | None) -> TextCut | None:
    """The cut a request asks for, or None when its text is never cut."""
    cuts: list[TextCut] = []
    if block_end:
        cuts.append(BlockEnd(prefix, suffix or ""))
    if n_indent > 0:
        cuts.append(IndentLimit(n_indent))
    if not cuts:
        return None
    return cuts[0] if len(cuts) == 1 else Chain(cuts[0], cuts[1])
