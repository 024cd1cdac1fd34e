"""``seedcoder operator``: run the Kopf operator in this process.

Why a plain ``main(argv)``: the one ``seedcoder`` command dispatches here, tests
start it as a subprocess exactly as the container does, and everything it needs
is built here and handed down (settings from the environment, the API client,
metrics, hooks) instead of living in module globals.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket

import kopf

from seedcoder.observability.rules import monitoring_objects
from seedcoder.operator import handlers
from seedcoder.operator.autoscaling.scaling import autoscale
from seedcoder.operator.finetune import handlers as finetune_handlers
from seedcoder.operator.kube import Kube
from seedcoder.operator.metrics import OperatorMetrics
from seedcoder.operator.reconcile.reconciler import ReconcileDeps
from seedcoder.operator.settings import OperatorSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seedcoder operator", description="Run the SeedCoderDeployment operator."
    )
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "-n", "--namespace", action="append", default=[], help="namespace to watch (repeatable)"
    )
    scope.add_argument("-A", "--all-namespaces", action="store_true", help="watch every namespace")
    p.add_argument("--verbose", action="store_true", help="debug logging")
    return p


async def _operate(settings: OperatorSettings, namespaces: list[str], clusterwide: bool) -> None:
    metrics = OperatorMetrics()
    if settings.metrics_port:
        metrics.serve(settings.metrics_port, settings.bind_address)
    kube = Kube.connect(settings.kubeconfig, on_write=metrics.wrote)
    try:
        deps = ReconcileDeps(
            kube=kube,
            settings=settings,
            autoscale=autoscale,
            monitoring=monitoring_objects,
            monitoring_api=await kube.has_api("monitoring.coreos.com/v1"),
            instance=os.environ.get("POD_NAME", socket.gethostname()),
        )
        registry = kopf.OperatorRegistry()
        handlers.register(registry)
        runtime = handlers.Runtime(deps, metrics)
        finetune = finetune_handlers.setup(registry, kube, settings, deps.instance, metrics)
        liveness = (
            f"http://{settings.bind_address}:{settings.probe_port}/healthz" if settings.probe_port else None
        )
        resync = asyncio.create_task(runtime.loop.resync_forever(settings.resync_seconds))
        finetune_resync = asyncio.create_task(finetune.loop.resync_forever(settings.resync_seconds))
        try:
            await kopf.operator(
                registry=registry,
                settings=handlers.kopf_settings(kopf.OperatorSettings()),
                standalone=True,
                clusterwide=clusterwide,
                namespaces=namespaces,
                liveness_endpoint=liveness,
                memo=kopf.Memo(runtime=runtime, finetune=finetune),
            )
        finally:
            resync.cancel()
            finetune_resync.cancel()
    finally:
        await kube.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = OperatorSettings.from_env(os.environ)
    namespaces = list(args.namespace) or list(settings.namespaces)
    clusterwide = args.all_namespaces or settings.all_namespaces
    if not namespaces and not clusterwide:
        print("seedcoder operator: give --namespace NS (or SEEDCODER_NAMESPACES) or --all-namespaces")
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.verbose:
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)  # one line per handled event otherwise
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig  # Kopf's own login reads it
    asyncio.run(_operate(settings, namespaces, clusterwide))
    return 0
