"""Starting, watching and stopping the control plane's processes.

Why: the same processes must be started by a pytest session (and die with it)
and by ``make cluster-up`` (and outlive it until ``make cluster-down``). Each
process gets its own session (process group), a log file and a pid file that
records the kernel's start time too, so ``down`` never signals a recycled pid.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1

# Popen objects of the processes this Python process started, kept so they are
# not garbage-collected while running and so ``stop`` can reap them.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


class StartupError(RuntimeError):
    """A component did not come up; the message carries the tail of its log."""


@dataclass(frozen=True)
class ProcRecord:
    """A started process: enough to find it again from another Python process."""

    name: str
    pid: int
    start_time: int
    log: Path

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "pid": self.pid, "start_time": self.start_time, "log": str(self.log)}
        )

    @classmethod
    def from_json(cls, text: str) -> ProcRecord:
        data = json.loads(text)
        return cls(str(data["name"]), int(data["pid"]), int(data["start_time"]), Path(data["log"]))


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; split after its closing parenthesis.
    return raw[raw.rindex(")") + 2 :].split()


def _start_time(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[19]) if fields else 0


def is_alive(record: ProcRecord) -> bool:
    """True while the very process we started runs (a zombie or a recycled pid counts as gone)."""
    fields = _stat(record.pid)
    return fields is not None and fields[0] != "Z" and int(fields[19]) == record.start_time


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def start(
    name: str,
    argv: Sequence[str],
    *,
    logs: Path,
    pid_dir: Path,
    env: Mapping[str, str] | None = None,
    die_with_parent: bool,
) -> ProcRecord:
    """Start one component in its own session with output to ``logs/<name>.log``."""
    logs.mkdir(parents=True, exist_ok=True)
    pid_dir.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    _CHILDREN[proc.pid] = proc
    record = ProcRecord(name, proc.pid, _start_time(proc.pid), log_path)
    (pid_dir / f"{name}.json").write_text(record.to_json())
    return record


def read_records(pid_dir: Path) -> list[ProcRecord]:
    if not pid_dir.is_dir():
        return []
    return [ProcRecord.from_json(p.read_text()) for p in sorted(pid_dir.glob("*.json"))]


def _gone(record: ProcRecord) -> bool:
    """True once the process has exited (and, when it is our own child, has been reaped)."""
    child = _CHILDREN.get(record.pid)
    if child is not None:
        # poll() reaps only after every thread has exited; /proc shows the leader as
        # a zombie earlier than that.
        if child.poll() is None:
            return False
        del _CHILDREN[record.pid]
        return True
    return not is_alive(record)


def _signal_group(record: ProcRecord, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record.pid, sig)


def stop(record: ProcRecord, pid_dir: Path, *, timeout: float = 5.0) -> None:
    """SIGTERM the component's process group, SIGKILL it after ``timeout``; forget its pid file."""
    if not _gone(record):
        _signal_group(record, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while not _gone(record) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _gone(record):
            _signal_group(record, signal.SIGKILL)
            while not _gone(record):
                time.sleep(0.05)
    (pid_dir / f"{record.name}.json").unlink(missing_ok=True)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    check: Callable[[], bool], *, what: str, timeout: float, watch: Sequence[ProcRecord] = ()
) -> float:
    """Poll ``check`` until true; fail fast with the log tail when a watched process has died."""
    started = time.monotonic()
    while True:
        for record in watch:
            if not is_alive(record):
                raise StartupError(
                    f"{record.name} exited while waiting for {what}; last lines of {record.log}:\n"
                    f"{log_tail(record.log)}"
                )
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            logs = "".join(f"\n--- {r.log}\n{log_tail(r.log, 20)}" for r in watch)
            raise StartupError(f"timed out after {timeout:.0f}s waiting for {what}{logs}")
        time.sleep(0.2)


def http_ok(url: str, *, ca: Path | None = None, cert: tuple[Path, Path] | None = None) -> bool:
    """True when ``GET url`` answers 200 (TLS verified against ``ca`` when given)."""
    context: ssl.SSLContext | None = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if ca is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
