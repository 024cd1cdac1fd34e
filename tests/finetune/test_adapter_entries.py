"""The gateway entries of a run's adapter (``finetune.serving``), checked by the gateway's own schema."""

from __future__ import annotations

from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.finetune.serving import adapter_entry, remove_entry, replace_entry, task_id
from seedcoder.gateway.adapters import AdapterRouter


def test_staged_and_published_entries_route_as_the_gateway_expects() -> None:
    staged = adapter_entry(namespace="ml", finetune="payments", run="r3", name="payments-r3", published=False,
                           teams=["payments"])  # fmt: skip
    published = adapter_entry(namespace="ml", finetune="payments", run="r3", name="payments", published=True,
                              teams=["payments"], created=1_800_000_000)  # fmt: skip
    assert staged.gguf == "payments/r3/adapter.gguf"
    assert staged.trtllm is not None
    assert staged.trtllm.weights == "payments/r3/trtllm"
    assert staged.teams == []  # a candidate serves no team
    cfg = GatewayConfig.model_validate(
        {
            "model_name": "seed-coder-8b-base",
            "pools": [{"name": "cpu", "grpc_url": "a:1", "gpu": "CPU"}],
            "adapters": [a.model_dump() for a in replace_entry([staged], published)],
        }
    )
    router = AdapterRouter(cfg)
    assert router.route("seed-coder-8b-base", team="payments").label == "payments"
    assert router.route("seed-coder-8b-base:payments-r3", team=None).label == "payments-r3"
    assert [d["id"] for d in router.listing(0)] == ["seed-coder-8b-base", "seed-coder-8b-base:payments"]
    assert [a.name for a in remove_entry(cfg.adapters, "payments")] == ["payments-r3"]


def test_task_ids_are_stable_positive_and_differ_per_run() -> None:
    a = task_id("ml", "payments", "r3")
    assert a == task_id("ml", "payments", "r3")
    assert a != task_id("ml", "payments", "r4")
    assert a != task_id("dev", "payments", "r3")
    assert 1 <= a < 2**63
