"""Turning a stream of generated token bytes into clean text deltas that honour stop words.

Why: a streamed completion must never show half a UTF-8 character (a token can end
inside one) nor any part of a stop string (the contract says the output excludes
them), yet it should release text as early as it safely can, since the first token's
latency is the product's SLO. Both Triton runtimes (the llama.cpp model and the
TensorRT-LLM BLS model) import this from the installed package; it is pure, so it
is unit-tested here rather than only through a server.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field


@dataclass
class StopMatcher:
    """Holds back the shortest tail of text that could still become a stop string."""

    stops: tuple[str, ...]
    _held: str = ""
    stopped: bool = False

    def __post_init__(self) -> None:
        self.stops = tuple(s for s in self.stops if s)

    def feed(self, text: str) -> str:
        """Add new text; return what can be shown now. After a stop, nothing more is shown."""
        if self.stopped:
            return ""
        buf = self._held + text
        cut = self._first_stop(buf)
        if cut is not None:
            self.stopped = True
            self._held = ""
            return buf[:cut]
        keep = self._longest_partial(buf)
        self._held = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep]

    def flush(self) -> str:
        """The held-back text, at the end of generation (it never became a stop string)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _first_stop(self, buf: str) -> int | None:
        found = [i for i in (buf.find(s) for s in self.stops) if i >= 0]
        return min(found) if found else None

    def _longest_partial(self, buf: str) -> int:
        """Length of the longest suffix of ``buf`` that is a proper prefix of a stop string."""
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buf)), best, -1):
                if buf.endswith(stop[:n]):
                    best = n
                    break
        return best


@dataclass
class TextAssembler:
    """Token bytes in, valid UTF-8 text deltas out, stop words removed."""

    stops: tuple[str, ...] = ()
    _decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )
    _matcher: StopMatcher = field(init=False)

    def __post_init__(self) -> None:
        self._matcher = StopMatcher(self.stops)

    @property
    def stopped(self) -> bool:
        """True once a stop string appeared: generation should end."""
        return self._matcher.stopped

    def feed(self, token_bytes: bytes) -> str:
        return self._matcher.feed(self._decoder.decode(token_bytes))

    def finish(self) -> str:
        """Whatever is left (an incomplete character becomes U+FFFD)."""
        tail = self._matcher.feed(self._decoder.decode(b"", final=True))
        return tail + self._matcher.flush()


@dataclass
class TokenLoop:
    """The response sequence every ``seedcoder`` Triton model sends, one generated token at a time.

    Streamed: each safe text delta goes out at once (:meth:`add` returns it); the
    last token's text rides on the final response with ``finish_reason``. Not
    streamed: everything goes on the final response. Generation ends at a stop
    string or end-of-generation token (``stop``) or at ``max_tokens`` (``length``).
    The llama.cpp model and the benchmark's instant model both drive this loop, so
    they cannot drift apart.
    """

    stops: tuple[str, ...]
    max_tokens: int
    stream: bool
    generated: int = 0
    finish: str = "length"
    done: bool = False
    _text: TextAssembler = field(init=False)
    _pending: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._text = TextAssembler(self.stops)

    def add(self, piece: bytes) -> str:
        """One generated token's bytes; returns the text to stream now ("" when none)."""
        self.generated += 1
        delta = self._text.feed(piece)
        if self._text.stopped or self.generated >= self.max_tokens:
            self.finish = "stop" if self._text.stopped else "length"
            self.done = True
            self._pending.append(delta)
            return ""
        if self.stream:
            return delta
        self._pending.append(delta)
        return ""

    def end_of_generation(self) -> None:
        """The model produced its end-of-generation token (not counted, not shown)."""
        self.finish, self.done = "stop", True

    def final_text(self) -> str:
        """The text of the final response (call once, when :attr:`done` or the tokens ran out)."""
        self._pending.append(self._text.finish())
        text, self._pending = "".join(self._pending), []
        return text
