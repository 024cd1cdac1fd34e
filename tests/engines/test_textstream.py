"""Stop words and UTF-8 boundaries in streamed text."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from seedcoder.engines.textstream import StopMatcher, TextAssembler, TokenLoop


def _run(stops: tuple[str, ...], chunks: list[str]) -> tuple[str, bool]:
    m = StopMatcher(stops)
    out = "".join(m.feed(c) for c in chunks)
    return out + m.flush(), m.stopped


def test_text_before_a_stop_word_is_kept_and_the_stop_excluded() -> None:
    assert _run(("\n\n",), ["def f():", "\n", "\n", "x"]) == ("def f():", True)


def test_partial_stop_is_held_back_then_released() -> None:
    m = StopMatcher(("<END>",))
    assert m.feed("abc<E") == "abc"
    assert m.feed("x") == "<Ex"
    assert not m.stopped


def test_held_text_is_released_at_the_end() -> None:
    assert _run(("<END>",), ["abc<EN"]) == ("abc<EN", False)


def test_earliest_of_several_stops_wins() -> None:
    assert _run(("b", "cd"), ["acdb"]) == ("a", True)


def test_nothing_after_a_stop() -> None:
    m = StopMatcher(("x",))
    m.feed("ax")
    assert m.feed("more") == ""
    assert m.flush() == ""


def test_empty_stop_strings_are_ignored() -> None:
    assert _run(("",), ["abc"]) == ("abc", False)


def test_multibyte_characters_split_across_tokens() -> None:
    a = TextAssembler()
    data = "é→🙂".encode()
    out = [a.feed(data[i : i + 1]) for i in range(len(data))]
    assert "".join(out) + a.finish() == "é→🙂"
    assert all(s == "" or s.encode() for s in out)
    assert out[0] == ""  # half of 'é' is never shown


def test_an_incomplete_character_at_the_end_becomes_a_replacement() -> None:
    a = TextAssembler()
    assert a.feed(b"ok" + "é".encode()[:1]) == "ok"
    assert a.finish() == "\ufffd"


@given(
    text=st.text(alphabet="ab\n<>é", max_size=40),
    stop=st.text(alphabet="ab\n<>", min_size=1, max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=40), max_size=6),
)
def test_chunking_never_changes_the_result(text: str, stop: str, cuts: list[int]) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    out, stopped = _run((stop,), chunks)
    i = text.find(stop)
    assert (out, stopped) == ((text[:i], True) if i >= 0 else (text, False))


def _loop(
    pieces: list[bytes], stops: tuple[str, ...], max_tokens: int, stream: bool
) -> tuple[list[str], TokenLoop]:
    loop = TokenLoop(stops, max_tokens, stream)
    sent = []
    for piece in pieces:
        delta = loop.add(piece)
        if loop.done:
            break
        if delta:
            sent.append(delta)
    sent.append(loop.final_text())
    return sent, loop


def test_token_loop_streams_deltas_and_puts_the_last_token_on_the_final_response() -> None:
    sent, loop = _loop([b"def", b" f", b"():", b"\n"], (), 3, stream=True)
    assert sent == ["def", " f", "():"]
    assert (loop.generated, loop.finish) == (3, "length")


def test_token_loop_stops_at_a_stop_string_split_across_tokens_and_never_shows_it() -> None:
    sent, loop = _loop([b"x = 1", b"\n\n", b"def", b" g"], ("\n\ndef",), 16, stream=True)
    assert "".join(sent) == "x = 1"
    assert (loop.generated, loop.finish) == (3, "stop")


def test_token_loop_not_streamed_sends_everything_at_the_end() -> None:
    sent, loop = _loop([b"a", b"b", b"c"], (), 16, stream=False)
    assert sent == ["abc"]
    assert loop.finish == "length"
    loop = TokenLoop((), 16, False)
    loop.add(b"a")
    loop.end_of_generation()
    assert (loop.final_text(), loop.finish, loop.generated) == ("a", "stop", 1)
