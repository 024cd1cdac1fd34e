"""``python -m seedcoder_dev.demo run|up|down``: behind ``make demo``, ``make up`` and ``make down``.

Why three verbs: ``run`` shows everything and tears it down (exit 0 only if every
step worked); ``up`` leaves the same stack running under a supervisor process for
exploration and prints how to reach it; ``down`` stops that supervisor, which
tears the stack down the same way ``run`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import yaml

from seedcoder_dev.demo import scenario
from seedcoder_dev.demo.console import Console
from seedcoder_dev.demo.ide import client_snippets
from seedcoder_dev.demo.stack import (
    CLIENT_NAMESPACE,
    CPU_RESOURCE,
    DEMO_NAMESPACE,
    GPU_NAMESPACE,
    RELEASE,
    DemoError,
    Stack,
    repo_root,
)
from seedcoder_dev.devcluster import KubectlError, LowDiskError, MissingToolError, PortInUseError
from seedcoder_dev.devcluster.procs import StartupError
from seedcoder_dev.localstack.prometheus import PrometheusError

EXAMPLE = "manifests/examples/h100-a100.yaml"

# Failures a newcomer may meet; each message says what to do (a port in use, low
# disk, a missing binary, a component that did not start and the tail of its log).
_EXPECTED: tuple[type[Exception], ...] = (
    DemoError,
    MissingToolError,
    PortInUseError,
    LowDiskError,
    StartupError,
    PrometheusError,
    KubectlError,
)


class _Interrupted(Exception):
    pass


_STOPS: tuple[type[BaseException], ...] = (*_EXPECTED, _Interrupted, KeyboardInterrupt)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise _Interrupted(f"stopped by signal {signal.Signals(signum).name}")


def bring_up(console: Console, stack: Stack) -> tuple[str, str]:
    """Steps 1-4: control plane + real node, chart + operator pod + resources, Ready, the data plane."""
    with console.step("Start the local control plane: a real CPU node and simulated GPU pools") as rec:
        cluster = stack.start_cluster()
        console.detail(
            cluster.kubectl(
                "get",
                "nodes",
                "-o",
                "custom-columns=NODE:.metadata.name,GPU:.metadata.labels.nvidia\\.com/gpu\\.product,"
                'GPUS:.status.allocatable.nvidia\\.com/gpu,READY:.status.conditions[?(@.type=="Ready")].status,'
                "RUNTIME:.status.nodeInfo.containerRuntimeVersion",
            ).stdout
        )
        console.detail("cpu-0 is a real kubelet + containerd node; the H100/A100 nodes are simulated (KWOK)")
        rec.facts.update(server=cluster.server, kubeconfig=str(cluster.kubeconfig))
    with console.step("Install the chart with the product's images; the operator runs as its pod") as rec:
        stack.install_chart()
        stack.prepare_namespace()
        op = stack.operator_pod()
        gpu = yaml.safe_load((stack.repo / EXAMPLE).read_text())
        stack.kubectl("-n", GPU_NAMESPACE, "apply", "-f", str(stack.repo / EXAMPLE))
        cpu = stack.cpu_resource()
        stack.apply({**cpu, "metadata": {**cpu["metadata"], "namespace": DEMO_NAMESPACE}})
        console.detail(
            f"helm release {RELEASE}; operator pod {op['metadata']['name']} on {op['spec'].get('nodeName')} "
            f"as {op['spec']['serviceAccountName']}, image {op['spec']['containers'][0]['image']}"
        )
        console.detail(f"kubectl apply -n {GPU_NAMESPACE} -f {EXAMPLE}  (pools h100 + a100: simulated)")
        console.detail(
            f"kubectl apply -n {DEMO_NAMESPACE} {CPU_RESOURCE}  (a CPU pool: runs for real on cpu-0)"
        )
        rec.facts.update(
            resources=[gpu["metadata"]["name"], CPU_RESOURCE], operator_pod=op["metadata"]["name"]
        )
    name, model = CPU_RESOURCE, str(cpu["spec"]["model"]["name"])
    with console.step("Follow both until Ready (kubectl get scd -w)") as rec:
        scenario.follow_until_ready(
            console, stack, str(gpu["metadata"]["name"]), rec, timeout=240, namespace=GPU_NAMESPACE
        )
        scenario.follow_until_ready(console, stack, name, rec, timeout=420)
        console.detail(stack.kubectl("get", "scd", "-A"))
    with console.step(
        "The data plane as pods on cpu-0: build Job, Triton, gateway behind its Service"
    ) as rec:
        console.detail(
            stack.kubectl(
                "-n", DEMO_NAMESPACE, "get", "pods", "-o", "wide", "--field-selector=spec.nodeName=cpu-0"
            )
        )
        code, text = stack.client_call(
            name, {"model": model, "prompt": "def add(a, b):\n    return", "max_tokens": 8}
        )
        console.detail(
            f"from a pod in namespace {CLIENT_NAMESPACE} to {name}-gateway.{DEMO_NAMESPACE}.svc: "
            f"HTTP {code} {text}"
        )
        if code != 200:
            raise DemoError(f"the completion through the gateway's Service failed: HTTP {code} {text}")
        stack.start_port_forward(name)
        prometheus = stack.start_prometheus()
        console.detail(
            f"from this machine: kubectl port-forward svc/{name}-gateway -> {stack.gateway_url}/v1"
        )
        rec.facts.update(gateway=stack.gateway_url, service_status=code, prometheus=prometheus.url)
    return name, model


def run(workdir: Path, summary: Path) -> int:
    console = Console()
    stack = Stack(workdir=workdir)
    signal.signal(signal.SIGTERM, _on_signal)
    ok = False
    try:
        console.say(
            "Seed-Coder operator demo on this machine.\n"
            "Real: the control plane, the CPU node cpu-0 and every pod on it (operator, build Job,\n"
            "Triton + llama.cpp, gateway). Simulated: the H100/A100 nodes, their build Jobs and Triton\n"
            "pods (no GPU here; TensorRT-LLM is planned and generated, not executed)."
        )
        name, model = bring_up(console, stack)
        with console.step("Fill-in-the-middle completion with the official openai client") as rec:
            scenario.fim_completion(console, stack, model, rec)
        with console.step("A streaming completion, printed as it arrives") as rec:
            scenario.streaming_completion(console, stack, model, rec)
        with console.step(
            "A burst of load, and the autoscaler adds a real Triton pod to the CPU pool"
        ) as rec:
            scenario.autoscaling_decision(console, stack, name, model, rec, timeout=180)
        with console.step("Where to look next"):
            _where_next(console, stack, name)
        ok = True
    except _STOPS as exc:
        console.say(f"\nThe demo stopped: {exc}")
        for part in ("operator", "gateway"):
            tail = stack.log_tail(part)
            if tail:
                console.say(f"--- last lines of {part}.log ---\n{tail}")
    finally:
        console.say("\nTearing down everything the demo started...")
        stack.stop()
        console.write_summary(summary, ok=ok)
        console.say(
            f"{'Demo finished' if ok else 'Demo FAILED'} in {console.elapsed():.0f}s (summary: {summary})"
        )
    return 0 if ok else 1


def _where_next(console: Console, stack: Stack, name: str) -> None:
    console.detail(
        f"kubectl --kubeconfig {stack.kubeconfig} get scd,deploy,svc,job,netpol -n {DEMO_NAMESPACE} "
        f"(and -n {GPU_NAMESPACE})"
    )
    console.detail(f"kubectl --kubeconfig {stack.kubeconfig} explain scd.spec.pools")
    console.detail("dashboards: charts/seedcoder-operator/files/dashboards/*.json")
    console.detail("SLO rules and burn-rate alerts: manifests/monitoring/")
    console.detail(f"Prometheus: {stack.prometheus.url if stack.prometheus else '-'}")
    console.detail(
        "The demo tears all of this down when it ends: run `make up` to keep the stack running, so that "
        "these commands work and your IDE can connect (it prints the Continue, Tabby and llama.vscode "
        "settings); `make down` stops it."
    )


# ------------------------------------------------------------------ up / down


def serve(workdir: Path, ready_file: Path) -> int:
    """The supervisor behind ``make up``: bring the stack up, then wait for SIGTERM."""
    console = Console()
    stack = Stack(workdir=workdir)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        name, model = bring_up(console, stack)
        info = {
            "kubeconfig": str(stack.kubeconfig),
            "gateway": stack.gateway_url + "/v1",
            "api_key": stack.api_key,
            "model": model,
            "resource": name,
            "prometheus": stack.prometheus.url if stack.prometheus else None,
        }
        ready_file.write_text(json.dumps(info))
        while True:
            time.sleep(1)
            stack.operator_alive()
    except _STOPS as exc:
        console.say(f"stopping: {exc}")
    finally:
        stack.stop()
        ready_file.unlink(missing_ok=True)
    return 0


def up(workdir: Path) -> int:
    pid_file, ready_file, log_file = workdir / "supervisor.pid", workdir / "ready.json", workdir / "up.log"
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        print(
            f"The stack is already up (supervisor pid {pid_file.read_text().strip()}); `make down` stops it."
        )
        return 0 if ready_file.exists() else 1
    ready_file.unlink(missing_ok=True)
    with log_file.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seedcoder_dev.demo", "_serve", "--workdir", str(workdir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pid_file.write_text(str(proc.pid))
    print(f"Starting the stack (progress in {log_file})...")
    while not ready_file.exists():
        if proc.poll() is not None:
            print(log_file.read_text(errors="replace"), file=sys.stderr)
            print("error: the stack did not come up; see the log above", file=sys.stderr)
            return 1
        time.sleep(1)
    info = json.loads(ready_file.read_text())
    print(log_file.read_text(errors="replace"))
    print(f"The stack is up. kubeconfig: {info['kubeconfig']}")
    print(f"  gateway: {info['gateway']}   API key: {info['api_key']}   model: {info['model']}")
    print(client_snippets(info["gateway"], info["api_key"], info["model"]))
    print("Stop it with `make down`.")
    return 0


def down(workdir: Path) -> int:
    pid_file = workdir / "supervisor.pid"
    if not pid_file.exists() or not _alive(pid := int(pid_file.read_text())):
        print("The stack is not running.")
        pid_file.unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 90
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if _alive(pid):
        os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    print("The stack is down.")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seedcoder_dev.demo", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "up", "down", "_serve"])
    parser.add_argument("--workdir", type=Path, default=None, help="state folder (default: .dev/demo)")
    parser.add_argument("--summary", type=Path, default=None, help="JSON record of each step (run only)")
    args = parser.parse_args(argv)
    workdir = (args.workdir or repo_root() / ".dev" / "demo").resolve()
    if (
        args.command in {"run", "up"}
        and shutil.disk_usage(workdir.parent if workdir.parent.exists() else "/").free < 2 << 30
    ):
        print("error: less than 2 GiB of free disk; free some space and run again", file=sys.stderr)
        return 1
    workdir.mkdir(parents=True, exist_ok=True)
    if args.command == "run":
        return run(workdir, args.summary or workdir / "summary.json")
    if args.command == "up":
        return up(workdir)
    if args.command == "down":
        return down(workdir)
    return serve(workdir, workdir / "ready.json")


if __name__ == "__main__":
    raise SystemExit(main())
