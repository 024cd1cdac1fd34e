"""Merging the streams of ``n`` candidates into one, each stoppable on its own.

Why: a streamed request with ``n > 1`` interleaves its candidates' chunks as
they come (OpenAI's ``index`` per choice); stopping one candidate (its block
ended) must cancel only that backend request. ``n == 1`` takes a path with no
task and no queue, since it is the hot path.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from seedcoder.gateway.backend import Chunk


async def _close(gen: AsyncGenerator[Chunk, None]) -> None:
    aclose = getattr(gen, "aclose", None)
    if aclose is not None:
        await aclose()


class Merge:
    """(candidate index, chunk or error) from every generator as they come.

    ``first`` is the chunk already read from ``gens[0]``. One candidate can be
    stopped early (``stop``), which cancels its backend request.
    """

    def __init__(self, gens: list[AsyncGenerator[Chunk, None]], first: Chunk) -> None:
        self._gens = gens
        self._first: Chunk | None = first
        self._queue: asyncio.Queue[tuple[int, Chunk | BaseException | None]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = len(gens)

    async def _pump(self, i: int) -> None:
        try:
            async for chunk in self._gens[i]:
                await self._queue.put((i, chunk))
        except Exception as exc:
            await self._queue.put((i, exc))
        await self._queue.put((i, None))

    def __aiter__(self) -> Merge:
        return self

    async def __anext__(self) -> tuple[int, Chunk | BaseException]:
        if self._first is not None:
            first, self._first = self._first, None
            if len(self._gens) > 1:
                self._tasks = [asyncio.create_task(self._pump(i)) for i in range(len(self._gens))]
            return 0, first
        if len(self._gens) == 1:  # the common case: no tasks, no queue
            try:
                return 0, await self._gens[0].__anext__()
            except StopAsyncIteration:
                raise
            except Exception as exc:
                return 0, exc
        while self._running:
            i, item = await self._queue.get()
            if item is None:
                self._running -= 1
                continue
            return i, item
        raise StopAsyncIteration

    async def stop(self, i: int) -> None:
        if self._tasks:
            self._tasks[i].cancel()
        else:
            await _close(self._gens[i])

    async def aclose(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for g in self._gens:
            await _close(g)
