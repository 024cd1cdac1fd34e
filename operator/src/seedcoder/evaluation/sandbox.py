"""Run a filled program and its test in a child process that cannot hurt the evaluator.

Generated code is untrusted. The child runs ``python -I`` (no user site, no
environment variables honoured) in an empty temporary folder with an empty
environment, in its own session (a timeout kills the whole process group, so
a forked grandchild cannot outlive it), under resource limits: CPU seconds,
address space, written file size, no core dumps. Network isolation is not done
here: the evaluation Job runs in a pod whose NetworkPolicy denies egress.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one program ended: passed (exit 0), failed, or timed out."""

    passed: bool
    timed_out: bool
    returncode: int | None
    detail: str


def _limits(cpu_s: int, memory_bytes: int) -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_program(program: str, timeout_s: float = 10.0, memory_bytes: int = 1 << 30) -> Outcome:
    """Run ``program`` with this Python; passed when it exits 0 within ``timeout_s``."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    with tempfile.TemporaryDirectory(prefix="fim-eval-") as work:
        script = Path(work) / "program.py"
        script.write_text(program, encoding="utf-8")
        cpu = max(1, int(timeout_s) + 1)
        proc = subprocess.Popen(
            [sys.executable, "-I", str(script)],
            cwd=work,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: _limits(cpu, memory_bytes),
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return Outcome(False, True, None, f"timed out after {timeout_s:g} s")
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever it left running in its session
                os.killpg(proc.pid, signal.SIGKILL)
    tail = out.decode("utf-8", "replace").strip().splitlines()[-1:] if out else []
    return Outcome(proc.returncode == 0, False, proc.returncode, tail[0][:300] if tail else "")
