"""The feedback data set: durable, size-rotated JSONL, plus the recent completions it refers to.

Why durable: accepted / rejected / edited events are the raw material of
fine-tuning data sets, and a client that got a 2xx must be able to rely on the
event being on disk. Each event is written and ``fsync``ed (and the directory
too when a new file is started) *before* the route answers; any failure is
raised to the client as an error, never dropped. Files are
``feedback-<writer>-<sequence>.jsonl`` and a new one starts past ``max_file_bytes``.

One data set across replicas: every gateway replica mounts the same folder (a
ReadWriteMany claim) and writes only files carrying its own writer name (its
pod name, from the downward API), so no two processes ever append to one file
and lines never interleave. ``read_feedback`` is the one reader: it merges
every writer's files into one list in time order.

The recent-completions map lets an event carry the prompt and completion it is
about; it is bounded (oldest forgotten first). An event for a completion this
replica does not remember (another replica served it, or a restart) is still
recorded, with ``context_known: false``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seedcoder.scan.secrets import scrub

if TYPE_CHECKING:
    from seedcoder.gateway.deeppass import DeepPass

_FILE = re.compile(r"^feedback-(?:(?P<writer>[a-z0-9][a-z0-9.-]*)-)?(?P<seq>\d{8})\.jsonl$")
_UNSAFE = re.compile(r"[^a-z0-9.-]+")


def writer_name(raw: str) -> str:
    """A writer name safe in a file name (a pod name already is)."""
    name = _UNSAFE.sub("-", raw.lower()).strip("-.")
    return name or "gateway"


@dataclass(frozen=True, slots=True)
class Served:
    """What was answered under one completion id."""

    model: str
    pool: str
    prompt: str
    suffix: str | None
    choices: list[str]
    created: int


class RecentCompletions:
    """A bounded map of completion id -> what was served."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._data: OrderedDict[str, Served] = OrderedDict()

    def remember(self, completion_id: str, served: Served) -> None:
        self._data[completion_id] = served
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def get(self, completion_id: str) -> Served | None:
        return self._data.get(completion_id)


class FeedbackStore:
    """Appends events durably; one writer at a time (the lock keeps lines whole and ordered)."""

    def __init__(
        self,
        directory: str,
        max_file_bytes: int,
        writer: str,
        *,
        scrub_secrets: bool = True,
        deep: DeepPass | None = None,
    ) -> None:
        self._scrub = scrub_secrets
        self._deep = deep
        self._dir = Path(directory)
        self._max = max_file_bytes
        self._writer = writer_name(writer)
        self._lock = asyncio.Lock()
        self._seq = -1

    def _current(self) -> Path:
        if self._seq < 0:
            self._dir.mkdir(parents=True, exist_ok=True)
            seqs = [
                int(m.group("seq"))
                for p in self._dir.iterdir()
                if (m := _FILE.match(p.name)) and m.group("writer") == self._writer
            ]
            self._seq = max(seqs, default=0)
        return self._dir / f"feedback-{self._writer}-{self._seq:08d}.jsonl"

    def _append(self, line: bytes) -> str:
        path = self._current()
        if path.exists() and path.stat().st_size + len(line) > self._max and path.stat().st_size > 0:
            self._seq += 1
            path = self._current()
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            dir_fd = os.open(self._dir, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return path.name

    async def append(self, event: dict[str, Any]) -> str:
        """Write one event (secrets scrubbed) and fsync it; returns the file name. Raises OSError on failure.

        Accepted and edited completions then go to the background pass, if any."""
        async with self._lock:
            name = await asyncio.to_thread(self._write, event)
        if self._deep is not None:
            self._deep.submit(event)
        return name

    def _write(self, event: dict[str, Any]) -> str:
        stored = scrub_event(event) if self._scrub else event
        return self._append(
            (json.dumps(stored, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        )


def read_feedback(directory: str | Path) -> list[dict[str, Any]]:
    """Every event of the data set in ``directory``, all writers merged, in time order.

    Order: ``received`` (the writer's wall clock), then writer and position in
    its files. A last line cut short (a node lost power mid-write, before the
    client got its 2xx) is skipped; any other bad line raises ``ValueError``.
    """
    folder = Path(directory)
    keyed: list[tuple[float, str, int, int, dict[str, Any]]] = []
    for path in folder.iterdir() if folder.is_dir() else ():
        m = _FILE.match(path.name)
        if m is None:
            continue
        # a whole file ends with a newline; text after the last one was never acknowledged
        for i, line in enumerate(path.read_bytes().split(b"\n")[:-1]):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path.name} line {i + 1}: {exc}") from exc
            writer, seq = m.group("writer") or "", int(m.group("seq"))
            keyed.append((float(event.get("received", 0.0)), writer, seq, i, event))
    keyed.sort(key=lambda k: k[:4])
    return [k[4] for k in keyed]


def build_event(
    event_id: str,
    feedback: dict[str, Any],
    served: Served | None,
    key_id: str | None,
) -> dict[str, Any]:
    """The JSON object stored for one feedback event."""
    event: dict[str, Any] = {
        "event_id": event_id,
        "received": time.time(),
        "completion_id": feedback["id"],
        "outcome": feedback["outcome"],
        "choice_index": feedback.get("choice_index", 0),
        "edited_text": feedback.get("edited_text"),
        "client_latency_ms": feedback.get("latency_ms"),
        "user": feedback.get("user"),
        "key_id": key_id,
        "context_known": served is not None,
    }
    if served is not None:
        ctx = asdict(served)
        index = event["choice_index"]
        ctx["completion"] = served.choices[index] if index < len(served.choices) else None
        event.update(ctx)
    return event


SCRUBBED_FIELDS = ("prompt", "suffix", "completion", "edited_text")


def scrub_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``event`` whose code fields carry typed placeholders instead of credentials."""
    out = dict(event)
    for key in SCRUBBED_FIELDS:
        if isinstance(out.get(key), str):
            out[key] = scrub(out[key])
    if isinstance(out.get("choices"), list):
        out["choices"] = [scrub(c) if isinstance(c, str) else c for c in out["choices"]]
    return out
