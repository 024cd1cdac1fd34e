"""Fill-in-the-middle prompt building and end-of-block trimming, as pure code.

Why a module of its own: no upstream server (Triton's OpenAI frontend, vLLM,
trtllm-serve) accepts OpenAI's ``suffix`` or knows Seed-Coder's SPM template, so
the gateway renders it. Keeping it free of web and Triton imports lets it be
unit-tested exhaustively and reused by ``/v1/completions`` and ``/infill`` alike.

End of block (the ``seedcoder.stop_at_block_end`` extension) is a deliberately
simple, language-neutral rule:

* the *block indentation* is the indentation of the first completion line that
  starts a fresh line (or, when the completion never leaves the cursor line, of
  the cursor line itself);
* the completion is cut before the first later non-blank line that is indented
  *less* than the block (a dedent: the block is over), and before the first line
  that repeats the first non-blank line of the suffix (the model is re-writing
  code that already follows the cursor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def render_fim(template: str, prefix: str, suffix: str) -> str:
    """The prompt for ``prefix``/``suffix`` (plain replacement: code may contain braces)."""
    marker_p, marker_s = "\x00PREFIX\x00", "\x00SUFFIX\x00"
    skeleton = template.replace("{prefix}", marker_p).replace("{suffix}", marker_s)
    head, _, tail = skeleton.partition(marker_s)
    if marker_p in head:
        before, _, after = head.partition(marker_p)
        return before + prefix + after + suffix + tail
    before, _, after = tail.partition(marker_p)
    return head + suffix + before + prefix + after


def template_overhead(template: str) -> str:
    """The template's own text (everything but the placeholders), for budgeting."""
    return template.replace("{prefix}", "").replace("{suffix}", "")


@dataclass(frozen=True, slots=True)
class ExtraChunk:
    """One extra file of context (llama.cpp ``input_extra``)."""

    filename: str
    text: str


def render_extra(chunks: Sequence[ExtraChunk]) -> str:
    """Extra files as plain text placed before the prefix, each under a header line."""
    parts = []
    for chunk in chunks:
        body = chunk.text if chunk.text.endswith("\n") else chunk.text + "\n"
        parts.append(f"# file: {chunk.filename}\n{body}\n")
    return "".join(parts)


def merge_stops(user_stops: Sequence[str], fim_stops: Sequence[str], fim: bool) -> list[str]:
    """User stop strings plus, for FIM requests, EOS and the FIM tokens; order kept, no duplicates."""
    merged: list[str] = []
    for stop in [*user_stops, *(fim_stops if fim else ())]:
        if stop and stop not in merged:
            merged.append(stop)
    return merged


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def first_code_line(suffix: str) -> str:
    """The first non-blank line of the suffix, stripped ('' when none)."""
    for line in suffix.split("\n"):
        if line.strip():
            return line.strip()
    return ""


def cursor_indent(prefix: str) -> int:
    """Indentation of the line the cursor is on."""
    return _indent(prefix.rsplit("\n", 1)[-1])


class BlockEnd:
    """Finds where a completion leaves the block it started in; fed in pieces.

    ``feed`` returns the text that is safe to emit now; text is held back only
    while the current line is incomplete (a line's fate is known once it ends).
    After a cut, ``done`` is true and everything else is discarded.
    """

    def __init__(self, prefix: str, suffix: str) -> None:
        cursor_line = prefix.rsplit("\n", 1)[-1]
        self._cursor_indent = _indent(cursor_line)
        self._cursor_blank = not cursor_line.strip()
        self._suffix_line = first_code_line(suffix)
        self._block_indent: int | None = None
        self._pending = ""
        self._line_no = 0
        self._emitted_code = False
        self.done = False

    def feed(self, delta: str) -> str:
        if self.done:
            return ""
        self._pending += delta
        out: list[str] = []
        while "\n" in self._pending:
            line, _, rest = self._pending.partition("\n")
            if self._cut(line):
                self.done = True
                self._pending = ""
                return "".join(out)
            out.append(line + "\n")
            self._pending = rest
            self._line_no += 1
        return "".join(out)

    def finish(self) -> str:
        """The held-back last line, unless it ends the block."""
        if self.done:
            return ""
        line, self._pending = self._pending, ""
        if line and self._cut(line):
            self.done = True
            return ""
        return line

    def _cut(self, line: str) -> bool:
        stripped = line.strip()
        if not stripped:
            return False
        if self._emitted_code and self._suffix_line and stripped == self._suffix_line:
            return True
        if self._line_no == 0:
            # The cursor line's continuation belongs to the block by definition; when the
            # cursor sat on a blank line, this line also fixes the block's indentation.
            if self._cursor_blank:
                self._block_indent = self._cursor_indent + _indent(line)
            self._emitted_code = True
            return False
        indent = _indent(line)
        if self._block_indent is None:
            if self._emitted_code and indent < self._cursor_indent:
                return True
            self._block_indent = indent
        elif indent < self._block_indent:
            return True
        self._emitted_code = True
        return False


def trim_block(prefix: str, suffix: str, completion: str) -> tuple[str, bool]:
    """The completion up to the end of its block, and whether anything was cut."""
    detector = BlockEnd(prefix, suffix)
    text = detector.feed(completion) + detector.finish()
    return text, detector.done
