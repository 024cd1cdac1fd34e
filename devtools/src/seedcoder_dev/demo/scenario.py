"""What the demo shows once the stack is up: status, completions, and an autoscaling decision.

Why separate from the stack: these are the things a person wants to see (and the
demo's test asserts on); the stack only starts and stops processes.
"""

from __future__ import annotations

import concurrent.futures
import time
from typing import Any

from seedcoder_dev.demo.console import Console, StepRecord
from seedcoder_dev.demo.stack import DEMO_NAMESPACE, DemoError, Stack, wait_for

FIM_PREFIX = '''def mean(values: list[float]) -> float:
    """Return the arithmetic mean of values."""
    if not values:
        raise ValueError("mean of an empty list")
'''
FIM_SUFFIX = """
    return total / len(values)
"""


def status_line(obj: dict[str, Any]) -> str:
    """One line of a SeedCoderDeployment's status, the way ``kubectl get scd -w`` shows it."""
    status = obj.get("status") or {}
    engines = ", ".join(
        f"{e.get('arch')}: {e.get('state')}"
        + (
            f" ({e.get('stage')} {e.get('percent')}%)"
            if e.get("state") == "Building" and e.get("stage")
            else ""
        )
        for e in status.get("engines", [])
    )
    pools = ", ".join(
        f"{p.get('name')} {p.get('readyReplicas', 0)}/{p.get('replicas', 0)}" for p in status.get("pools", [])
    )
    ready = next((c["status"] for c in status.get("conditions", []) if c.get("type") == "Ready"), "Unknown")
    return f"phase={status.get('phase', '-'):<15} ready={ready:<7} engines[{engines}] pools[{pools}]"


def follow_until_ready(
    console: Console,
    stack: Stack,
    name: str,
    record: StepRecord,
    timeout: float,
    namespace: str = DEMO_NAMESPACE,
) -> None:
    last = ""
    deadline = time.monotonic() + timeout
    while True:
        stack.operator_alive()
        obj = stack.kubectl_json("-n", namespace, "get", "scd", name)
        line = status_line(obj)
        if line != last:
            console.detail(f"{time.strftime('%H:%M:%S')}  {line}")
            last = line
        status = obj.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
        )
        if ready:
            record.facts.setdefault("resources", {})[name] = dict(
                phase=status.get("phase"),
                engines={e["arch"]: e["state"] for e in status.get("engines", [])},
                build_jobs={e["arch"]: e["job"] for e in status.get("engines", [])},
                pools={p["name"]: p.get("readyReplicas", 0) for p in status.get("pools", [])},
                endpoint=status.get("endpoint"),
            )
            return
        if time.monotonic() > deadline:
            raise DemoError(f"the SeedCoderDeployment was not Ready within {timeout:.0f}s (last: {line})")
        time.sleep(1)


def fim_completion(console: Console, stack: Stack, model: str, record: StepRecord) -> None:
    import openai

    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.api_key, max_retries=0)
    console.detail("prompt (the cursor is at <HOLE>):")
    console.detail(FIM_PREFIX + "<HOLE>" + FIM_SUFFIX)
    t0 = time.monotonic()
    stream = client.completions.create(
        model=model, prompt=FIM_PREFIX, suffix=FIM_SUFFIX, max_tokens=48, temperature=0, stream=True
    )
    ttft: float | None = None
    parts: list[str] = []
    for chunk in stream:
        text = chunk.choices[0].text if chunk.choices else ""
        if text and ttft is None:
            ttft = time.monotonic() - t0
        parts.append(text)
    completion = "".join(parts)
    console.detail("completion:")
    console.detail(completion if completion.strip() else "(empty)")
    console.detail(f"time to first token: {1000 * (ttft or 0):.0f} ms (a 270M model on this machine's CPU)")
    console.detail(
        "(the demo model, Gemma 3 270M, has no fill-in-the-middle tokens: Seed-Coder's template reaches it"
    )
    console.detail(" as plain text, so it continues rather than fills the hole; Seed-Coder-8B fills it)")
    record.facts.update(completion=completion, ttft_ms=round(1000 * (ttft or 0), 1))
    if not completion.strip():
        raise DemoError("the model returned an empty completion")


def streaming_completion(console: Console, stack: Stack, model: str, record: StepRecord) -> None:
    import openai

    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.api_key, max_retries=0)
    prompt = "# Python: read a CSV file and print the sum of the second column\nimport csv\n\n"
    console.detail(f"prompt: {prompt!r}")
    console.out.write("    ")
    chunks = 0
    text: list[str] = []
    for chunk in client.completions.create(model=model, prompt=prompt, max_tokens=64, stream=True):
        piece = chunk.choices[0].text if chunk.choices else ""
        chunks += 1
        text.append(piece)
        console.out.write(piece.replace("\n", "\n    "))
        console.out.flush()
    console.say("")
    record.facts.update(chunks=chunks, text="".join(text))
    if chunks < 2:
        raise DemoError(f"expected a streamed completion in several chunks, got {chunks}")


def load_burst(stack: Stack, model: str, requests: int, concurrency: int) -> dict[str, Any]:
    """Send ``requests`` short completions, ``concurrency`` at a time; return what came back."""
    import openai

    client = openai.OpenAI(base_url=stack.gateway_url + "/v1", api_key=stack.api_key, max_retries=0)

    def one(i: int) -> bool:
        try:
            client.completions.create(model=model, prompt=f"def f{i}(x):\n    return", max_tokens=8)
            return True
        except openai.APIError:
            return False

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    return {"sent": requests, "ok": sum(results), "failed": requests - sum(results)}


def autoscaling_decision(
    console: Console, stack: Stack, name: str, model: str, record: StepRecord, timeout: float
) -> None:
    obj = stack.kubectl_json("-n", DEMO_NAMESPACE, "get", "scd", name)
    before = {p["name"]: int(p.get("minReplicas", 0)) for p in obj["spec"]["pools"]}
    console.detail(
        f"replicas at start (minReplicas): {before}; the SLO is p95 TTFT {obj['spec']['slo']['ttftP95Ms']} ms"
    )
    console.detail(
        "a 270M model on two shared cores is slower than that, so the policy adds a CPU replica (a real pod)"
    )
    deadline = time.monotonic() + timeout
    bursts = 0
    history: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        burst = load_burst(stack, model, requests=12, concurrency=4)
        bursts += 1
        console.detail(f"burst {bursts}: {burst['ok']} of {burst['sent']} completions served")
        stack.operator_alive()
        history = (_status(stack, name).get("autoscaling") or {}).get("history", [])
        if any(h.get("to", 0) > h.get("from", 0) for h in history):
            break
    else:
        raise DemoError(f"the autoscaler made no scale-up decision within {timeout:.0f}s")
    last = history[-1]
    deployment = f"{name}-triton-{last['pool']}"
    wait_for(
        f"Deployment {deployment} to ask for {last['to']} replicas",
        lambda: _deployment_replicas(stack, deployment) == last["to"],
        timeout=60,
    )
    after = {p: _deployment_replicas(stack, f"{name}-triton-{p}") for p in before}
    for h in history:
        console.detail(f"{h['time']}  pool {h['pool']}: {h['from']} -> {h['to']}  ({h['reason']})")
    slo = _status(stack, name).get("slo") or {}
    console.detail(
        f"replicas after: {after}; measured p95 TTFT {slo.get('ttftP95Ms')} ms (met: {slo.get('met')})"
    )
    record.facts.update(before=before, after=after, decisions=history, slo=slo, bursts=bursts)


def _deployment_replicas(stack: Stack, deployment: str) -> int:
    obj = stack.kubectl_json("-n", DEMO_NAMESPACE, "get", "deployment", deployment)
    return int(obj["spec"].get("replicas", 0))


def _status(stack: Stack, name: str) -> dict[str, Any]:
    obj = stack.kubectl_json("-n", DEMO_NAMESPACE, "get", "scd", name)
    status: dict[str, Any] = obj.get("status") or {}
    return status
