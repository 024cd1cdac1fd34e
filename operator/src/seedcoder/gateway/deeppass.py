"""The background pass on accepted completions: deeper scanners, results stored beside the feedback.

Why a queue and one worker: the pass takes seconds (Semgrep starts slowly) and
must never delay an answer; feedback events for accepted or edited completions
whose context this replica remembers are queued (bounded: when full, the event
is skipped and counted as ``rule="queue_full"``) and scanned one at a time in a
thread. Each result is one line of ``deepscan-<writer>.jsonl`` in the feedback
folder, keyed by the feedback ``event_id``, and every finding is counted in
``seedcoder_gateway_scan_deep_findings_total{rule,engine,fast_path}``;
``fast_path="missed"`` names fast rules to improve.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.feedback import writer_name
from seedcoder.gateway.metrics import Metrics
from seedcoder.scan.deep import deep_scan, record
from seedcoder.scan.scanner import Scanner

log = logging.getLogger("seedcoder.gateway")
QUEUE_MAX = 256


class DeepPass:
    def __init__(self, directory: str, writer: str, metrics: Metrics, scanner: Scanner) -> None:
        self._path = Path(directory) / f"deepscan-{writer}.jsonl"
        self._metrics = metrics
        self._scanner = scanner
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_MAX)
        self._worker: asyncio.Task[None] | None = None

    def submit(self, event: dict[str, Any]) -> bool:
        """Queue an event if it is an accepted or edited completion with known context."""
        if event.get("outcome") not in ("accepted", "edited") or not event.get("context_known"):
            return False
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._metrics.scan_deep_findings.labels("queue_full", "none", "skipped").inc()
            return False
        return True

    async def drain(self) -> None:
        """Wait until every queued event is scanned (tests, shutdown)."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await asyncio.to_thread(self._scan, event)
            except Exception:
                log.exception("Failed the deep scan of feedback event %s.", event.get("event_id"))
            finally:
                self._queue.task_done()

    def _scan(self, event: dict[str, Any]) -> None:
        text = event.get("edited_text") if event.get("outcome") == "edited" else event.get("completion")
        findings = deep_scan(event.get("prompt") or "", text or "", event.get("suffix") or "", self._scanner)
        for f in findings:
            self._metrics.scan_deep_findings.labels(f.rule, f.engine, f.fast_path).inc()
        missed = sorted({f"{f.engine}:{f.rule}" for f in findings if f.fast_path == "missed"})
        if missed:
            log.info("Background scan of feedback event %s found what the fast path missed: %s.",
                     event["event_id"], ", ".join(missed))  # fmt: skip
        line = json.dumps(record(event["event_id"], event["completion_id"], findings), separators=(",", ":"))
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def read_deep_scans(directory: str | Path) -> list[dict[str, Any]]:
    """Every background-pass record in the feedback folder (all writers)."""
    out: list[dict[str, Any]] = []
    for path in sorted(Path(directory).glob("deepscan-*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def deep_pass(cfg: GatewayConfig, metrics: Metrics, scanner: Scanner) -> DeepPass | None:
    """The background pass the configuration asks for (``scan.deepScan``), or None."""
    if not cfg.scan.deep_scan or cfg.scan.policy == "off":
        return None
    writer = writer_name(cfg.feedback_writer or socket.gethostname())
    return DeepPass(cfg.feedback_dir, writer, metrics, scanner)
