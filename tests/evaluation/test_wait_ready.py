"""``seedcoder evaluate --wait-ready``: score only once every model answers, give up with the reason.

The endpoint is a small HTTP server on loopback that answers 503 (as the gateway
does for a pool with no ready replica) a set number of times before it answers
with a completion.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from seedcoder.evaluation.cli import main, wait_ready
from seedcoder.evaluation.client import CompletionsClient, EndpointError

from tests.fixtures.http_stub import QuietHandler, serving


@contextmanager
def endpoint(failures: int) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            if len(seen) <= failures:
                self.send_json(503, b'{"error": {"message": "No healthy pool", "code": "no_healthy_pool"}}')
            else:
                self.send_json(200, json.dumps({"choices": [{"text": "x"}]}).encode())

    with serving(Handler) as url:
        yield f"{url}/v1", seen


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_waits_until_each_model_answers_with_one_token_requests() -> None:
    t = FakeTime()
    with endpoint(failures=2) as (url, seen):
        clients = [CompletionsClient(url, "m@a", max_tokens=64), CompletionsClient(url, "m@a.candidate")]
        wait_ready(clients, 60, interval_s=5, clock=t.clock, sleep=t.sleep)
    assert t.slept == [5, 5], "two 503s, then answers"
    assert [b["model"] for b in seen] == ["m@a", "m@a", "m@a", "m@a.candidate"]
    assert {b["max_tokens"] for b in seen} == {1}


def test_gives_up_after_the_deadline_naming_the_model_and_the_last_error() -> None:
    t = FakeTime()
    with endpoint(failures=1000) as (url, _), pytest.raises(EndpointError) as err:
        wait_ready([CompletionsClient(url, "m@b.candidate")], 12, interval_s=5, clock=t.clock, sleep=t.sleep)
    assert "m@b.candidate not answering after 12s" in str(err.value)
    assert "HTTP 503" in str(err.value)
    assert "no_healthy_pool" in str(err.value)
    assert t.now >= 12


def test_a_negative_wait_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--tasks", "public", "--wait-ready", "-1"]
    )
    assert code == 2
    assert "--wait-ready must be 0 or more seconds" in capsys.readouterr().err
