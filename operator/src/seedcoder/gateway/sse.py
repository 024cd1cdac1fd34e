"""Server-sent events exactly as OpenAI sends them, and disconnect-aware responses.

Why one helper: every streamed endpoint must frame events the same way
(``data: {json}\\n\\n`` ... ``data: [DONE]\\n\\n``), and must notice a client that
goes away *while the model is still thinking* (Starlette's ``StreamingResponse``
only notices on the next write under ASGI 2.4). ``StreamResponse`` and
``run_until_disconnect`` watch ``http.disconnect`` concurrently and cancel the
producer, whose ``finally`` blocks cancel the Triton request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from starlette.types import Receive, Scope, Send

T = TypeVar("T")
DONE = b"data: [DONE]\n\n"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def event(payload: dict[str, Any]) -> bytes:
    return (
        b"data: " + json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"
    )


class ClientGone(Exception):
    """The client disconnected before the answer was complete."""


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def run_until_disconnect(receive: Receive, work: Awaitable[T]) -> T:
    """Await ``work`` unless the client disconnects first (then cancel it and raise ClientGone)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise ClientGone()
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()


class StreamResponse:
    """An ASGI response sending ``events`` as they come; a disconnect cancels the producer.

    ``on_disconnect`` is called once when the client went away before the end.
    """

    def __init__(
        self,
        events: AsyncIterator[bytes],
        on_disconnect: Callable[[], None] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self._events = events
        self._on_disconnect = on_disconnect
        self._headers = HEADERS + (headers or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = False

        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self._headers})
            async for chunk in self._events:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            await run_until_disconnect(receive, pump())
        except (ClientGone, OSError):
            gone = True
        finally:
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()
        if gone and self._on_disconnect is not None:
            self._on_disconnect()
