"""``python -m seedcoder_dev.devcluster up|down|status``: the local control plane from the shell.

Why: ``make cluster-up`` must leave the control plane running after make exits
(detached, state and pids under ``.dev/cluster/``, the admin kubeconfig at
``.dev/kubeconfig``), and ``make cluster-down`` must stop exactly the processes
that ``up`` started, found again from their pid files.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from pathlib import Path

from .cluster import Cluster
from .procs import StartupError
from .start import LowDiskError, PortInUseError, repo_root, start_cluster
from .tools import MissingToolError

log = logging.getLogger("seedcoder_dev.devcluster")


def _dev_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg).resolve()
    return Path(os.environ.get("SEEDCODER_DEV_DIR", repo_root() / ".dev")).resolve()


def up(dev: Path, apiserver_port: int | None) -> int:
    workdir = dev / "cluster"
    existing = Cluster.attach(workdir)
    if existing is not None:
        running = existing.running()
        if running and len(running) == len(existing.processes()):
            log.info(
                "The local control plane is already running at %s (kubeconfig %s)",
                existing.server,
                dev / "kubeconfig",
            )
            return 0
        existing.stop()
    try:
        cluster = start_cluster(workdir, detach=True, apiserver_port=apiserver_port)
    except (MissingToolError, PortInUseError, LowDiskError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shutil.copyfile(cluster.kubeconfig, dev / "kubeconfig")
    (dev / "kubeconfig").chmod(0o600)
    print(f"Local control plane is up at {cluster.server} ({cluster.timings['total']:.1f}s).")
    print(f"  export KUBECONFIG={dev / 'kubeconfig'}")
    print(f"  logs: {cluster.logs}")
    return 0


def down(dev: Path) -> int:
    cluster = Cluster.attach(dev / "cluster")
    if cluster is None or not cluster.processes():
        log.info("No local control plane was running under %s", dev)
        return 0
    cluster.stop()
    (dev / "kubeconfig").unlink(missing_ok=True)
    shutil.rmtree(cluster.layout.etcd_data, ignore_errors=True)  # every `up` starts from empty state
    log.info("Stopped the local control plane (logs kept in %s)", cluster.logs)
    return 0


def status(dev: Path) -> int:
    cluster = Cluster.attach(dev / "cluster")
    running = cluster.running() if cluster else []
    if cluster is None or not running:
        print("not running")
        return 1
    print(f"running at {cluster.server}")
    for record in running:
        print(f"  {record.name:<24} pid {record.pid}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seedcoder_dev.devcluster", description=__doc__.splitlines()[0]
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument(
        "--dev-dir", help="state folder (default: .dev in the checkout, or SEEDCODER_DEV_DIR)"
    )
    parser.add_argument("--port", type=int, default=None, help="kube-apiserver port (default: a free one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[devcluster] %(message)s")
    dev = _dev_dir(args.dev_dir)
    dev.mkdir(parents=True, exist_ok=True)
    if args.command == "up":
        return up(dev, args.port)
    if args.command == "down":
        return down(dev)
    return status(dev)


if __name__ == "__main__":
    raise SystemExit(main())
