"""Adapter routing rules (``gateway.adapters``) and their configuration (``api.adapters``).

Pure: the router is built from a real ``GatewayConfig``; the end-to-end path
through the real Triton and gateway is in ``tests/engines/test_lora_serving.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from seedcoder.api.adapters import BASE, SEPARATOR, adapter_model, split_model, valid_adapter_name
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.gateway.adapters import AdapterRouter
from seedcoder.gateway.auth import KeyStore, team_of
from seedcoder.gateway.backend import GenParams, LoraSelection, _tensors
from seedcoder.gateway.errors import NotFound
from seedcoder.gateway.jobs import from_completion, from_infill
from seedcoder.gateway.protocol import CompletionRequest, InfillRequest

MODEL = "seed-coder-8b-base"


def config(**overrides: object) -> GatewayConfig:
    raw: dict[str, object] = {
        "model_name": MODEL,
        "pools": [
            {"name": "h100", "grpc_url": "10.0.0.1:8001", "gpu": "H100", "runtime": "tensorrt-llm"},
            {"name": "cpu", "grpc_url": "10.0.0.2:8001", "gpu": "CPU", "runtime": "llamacpp"},
        ],
        "adapters": [
            {
                "name": "payments",
                "teams": ["payments", "billing"],
                "gguf": "payments/r3/adapter.gguf",
                "trtllm": {"task_id": 7, "weights": "payments/r3/trtllm"},
                "created": 1_700_000_000,
            },
            {"name": "search", "teams": ["search"], "gguf": "search/r1/adapter.gguf", "scale": 0.5},
            {"name": "payments-r4", "published": False, "teams": ["payments"], "gguf": "payments/r4/a.gguf"},
        ],
    }
    raw.update(overrides)
    return GatewayConfig.model_validate(raw)


def test_model_names_split_and_join_in_one_place() -> None:
    assert SEPARATOR == ":"
    assert split_model(f"{MODEL}:payments") == (MODEL, "payments")
    assert split_model(MODEL) == (MODEL, None)
    assert adapter_model(MODEL, "payments") == f"{MODEL}:payments"
    assert valid_adapter_name("team-a")
    assert not valid_adapter_name(BASE)
    assert not valid_adapter_name("A_b")


def test_a_named_adapter_is_routed_and_an_unknown_one_is_a_404_naming_it() -> None:
    router = AdapterRouter(config())
    route = router.route(f"{MODEL}:search", team="payments")
    assert route.adapter is not None
    assert route.adapter.name == "search"
    assert route.model == f"{MODEL}:search"
    assert route.label == "search"
    with pytest.raises(NotFound) as err:
        router.route(f"{MODEL}:nope", team=None)
    assert "'nope'" in err.value.message
    assert "payments, search" in err.value.message
    assert err.value.code == "model_not_found"
    assert err.value.param == "model"
    assert err.value.status == 404
    with pytest.raises(NotFound, match="'gpt-4' does not exist"):
        router.route("gpt-4", team=None)


def test_the_base_name_follows_the_team_and_base_suffix_forces_the_base() -> None:
    router = AdapterRouter(config())
    assert router.route(MODEL, team="billing").label == "payments"
    assert router.route(MODEL, team="billing").model == f"{MODEL}:payments"
    assert router.route(MODEL, team="other").adapter is None
    assert router.route(MODEL, team=None).model == MODEL
    assert router.route(f"{MODEL}:base", team="billing").adapter is None
    # an unpublished candidate answers by name only, never as a team default
    assert router.route(f"{MODEL}:payments-r4", team=None).label == "payments-r4"


def test_models_lists_the_base_and_published_adapters_only() -> None:
    data = AdapterRouter(config()).listing(created=123)
    assert [d["id"] for d in data] == [MODEL, f"{MODEL}:payments", f"{MODEL}:search"]
    assert data[1]["parent"] == MODEL
    assert data[1]["created"] == 1_700_000_000
    assert data[2]["created"] == 123
    assert "parent" not in data[0]


def test_pools_and_what_each_runtime_is_sent() -> None:
    cfg = config()
    router = AdapterRouter(cfg)
    payments, search = cfg.adapters[0], cfg.adapters[1]
    assert router.serves(payments, "h100")
    assert router.serves(payments, "cpu")
    assert not router.serves(search, "h100")
    assert router.serves(search, "cpu")
    assert router.selection(payments, "h100") == LoraSelection("payments", "payments/r3/trtllm", 1.0, 7)
    assert router.selection(payments, "cpu") == LoraSelection("payments", "payments/r3/adapter.gguf", 1.0)
    assert router.selection(None, "cpu") is None
    names = {t.name: t.value for t in _tensors(GenParams("x", 4, lora=router.selection(search, "cpu")))}
    assert names["lora_path"] == [b"search/r1/adapter.gguf"]
    assert names["lora_scale"] == 0.5
    assert "lora_task_id" not in names
    names = {t.name: t.value for t in _tensors(GenParams("x", 4, lora=router.selection(payments, "h100")))}
    assert names["lora_task_id"] == 7
    assert names["lora_path"] == [b"payments/r3/trtllm"]
    assert "lora_path" not in {t.name for t in _tensors(GenParams("x", 4))}


def test_jobs_carry_the_routed_adapter_and_model() -> None:
    cfg = config()
    req = CompletionRequest.model_validate({"model": f"{MODEL}:search", "prompt": "x"})
    job = from_completion(req, cfg, AdapterRouter(cfg), team=None)
    assert job.model == f"{MODEL}:search"
    assert job.adapter is not None
    assert job.adapter.name == "search"
    infill = from_infill(InfillRequest.model_validate({"input_prefix": "x"}), cfg, team="payments")
    assert infill.adapter is not None
    assert infill.adapter.name == "payments"


def test_metric_labels_are_bounded_to_configured_names() -> None:
    router = AdapterRouter(config())
    assert router.label_for("search") == "search"
    assert router.label_for("made-up") == "other"  # e.g. rolled back since it answered
    assert router.label_for(None) == BASE


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"adapters": [{"name": "base", "gguf": "a.gguf"}]}, "reserved"),
        ({"adapters": [{"name": "other", "gguf": "a.gguf"}]}, "reserved"),
        ({"adapters": [{"name": "a"}]}, "neither 'gguf' nor 'trtllm'"),
        ({"adapters": [{"name": "a", "gguf": "../etc/passwd"}]}, "relative path"),
        ({"adapters": [{"name": "a", "gguf": "/abs.gguf"}]}, "relative path"),
        ({"adapters": [{"name": "Bad_Name", "gguf": "a.gguf"}]}, "string_pattern_mismatch|pattern"),
        ({"adapters": [{"name": "a", "gguf": "a"}, {"name": "a", "gguf": "b"}]}, "listed twice"),
        (
            {
                "adapters": [
                    {"name": "a", "gguf": "a", "teams": ["t"]},
                    {"name": "b", "gguf": "b", "teams": ["t"]},
                ]
            },
            "team 't' is given to two published adapters",
        ),
        (
            {
                "adapters": [
                    {"name": "a", "trtllm": {"task_id": 1, "weights": "a"}},
                    {"name": "b", "trtllm": {"task_id": 1, "weights": "b"}},
                ]
            },
            "share trtllm.task_id 1",
        ),
        ({"adapters": [{"name": "a", "gguf": "a", "pools": ["a100"]}]}, "names pool 'a100'"),
        ({"adapters": [{"name": "a", "gguf": "a", "teams": ["x.y"]}]}, "without '.'"),
    ],
)
def test_bad_adapter_configuration_is_refused_naming_the_problem(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**change)


def test_api_key_teams_come_from_the_key_file_names(tmp_path: Path) -> None:
    (tmp_path / "payments.alice").write_text("key-a\n")
    (tmp_path / "search").write_text("key-b\n")
    store = KeyStore(str(tmp_path))
    store.reload()
    a, b = store.check("key-a"), store.check("key-b")
    assert a is not None
    assert b is not None
    assert store.team(a) == "payments"
    assert store.team(b) == "search"
    assert store.team("unknown") is None
    assert team_of("payments.ci.2") == "payments"


def test_the_config_file_round_trips_and_omits_an_empty_adapter_list() -> None:
    cfg = config()
    assert GatewayConfig.model_validate_json(cfg.model_dump_json()) == cfg
    plain = config(adapters=[])
    assert "adapters" not in plain.model_dump_json()  # unchanged file (and checksum) without adapters
    assert GatewayConfig.model_validate_json(plain.model_dump_json()) == plain
