"""The real node's cgroups (v1, cgroupfs driver) and the processes left in them.

Why: by default the kubelet makes pod cgroups at the root of every hierarchy.
Here its ``cgroupRoot`` is a folder under the cgroup the harness itself runs in
(the deepest path in ``/proc/self/cgroup``), so every container stays inside
the harness's own tree and its memory accounting. The kubelet insists that
``cgroupRoot`` exists in every hierarchy, so this module creates it (copying
``cpuset`` from the parent, as cgroup v1 requires) and, on stop, kills what is
still inside, removes the folders and any parent folder it had to create.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
NODE_CGROUP = "seedcoder-node"


def _v1_lines(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        hid, controllers, path = line.split(":", 2)
        if hid != "0" and controllers:
            out.append((controllers, path))
    return out


def harness_cgroup(proc_cgroup: str | None = None) -> str:
    """The deepest v1 cgroup path this process runs in (e.g. its memory cgroup)."""
    text = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    paths = [path for _, path in _v1_lines(text)]
    return max(paths, key=lambda p: p.count("/") if p != "/" else 0, default="/")


def node_cgroup_root(proc_cgroup: str | None = None) -> str:
    """The kubelet's ``cgroupRoot``: a folder under the harness's own cgroup."""
    return harness_cgroup(proc_cgroup).rstrip("/") + "/" + NODE_CGROUP


def hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies, each once (aliases such as ``cpu`` -> ``cpu,cpuacct`` dropped)."""
    seen: dict[Path, Path] = {}
    if not CGROUP_FS.is_dir():
        return []
    for entry in sorted(CGROUP_FS.iterdir()):
        if entry.name == "unified" or not entry.is_dir() or not (entry / "cgroup.procs").exists():
            continue
        if (entry / "cgroup.controllers").exists():  # a cgroup v2 mount
            continue
        seen.setdefault(entry.resolve(), entry)
    return list(seen.values())


def create(root: str) -> list[str]:
    """Make ``root`` in every hierarchy; return the folders created (deepest last), for ``remove``."""
    created: list[str] = []
    for hierarchy in hierarchies():
        current = hierarchy
        for part in [p for p in root.split("/") if p]:
            parent, current = current, current / part
            if current.is_dir():
                continue
            current.mkdir()
            created.append(str(current))
            for name in ("cpuset.cpus", "cpuset.mems"):
                if (parent / name).exists():
                    (current / name).write_text((parent / name).read_text())
    return created


def _subtree(root: Path) -> list[Path]:
    """Every cgroup folder under ``root`` (included), deepest first."""
    if not root.is_dir():
        return []
    found = [Path(dirpath) for dirpath, _, _ in os.walk(root)]
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def pids_in(root: str) -> set[int]:
    pids: set[int] = set()
    for hierarchy in hierarchies():
        for folder in _subtree(hierarchy / root.lstrip("/")):
            with contextlib.suppress(OSError):
                pids |= {int(p) for p in (folder / "cgroup.procs").read_text().split()}
    return pids


def kill_all(root: str, timeout: float = 10.0) -> int:
    """SIGKILL every process in the node's cgroups until none is left; return how many were killed."""
    killed: set[int] = set()
    deadline = time.monotonic() + timeout
    while True:
        pids = pids_in(root) - {os.getpid()}
        if not pids:
            return len(killed)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed |= pids
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(pids)} in cgroup {root} survived SIGKILL")
        time.sleep(0.1)


def remove(root: str, created: list[str]) -> None:
    """Remove the node's cgroup folders, then the parents ``create`` had made (when empty)."""
    for hierarchy in hierarchies():
        for folder in _subtree(hierarchy / root.lstrip("/")):
            for _ in range(50):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)  # the kernel frees a cgroup shortly after its last task exits
    for made in reversed(created):
        with contextlib.suppress(OSError):
            Path(made).rmdir()
