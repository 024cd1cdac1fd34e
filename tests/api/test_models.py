"""The typed models parse real manifests once and write them back unchanged."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.api.status import Condition, SeedCoderDeploymentStatus

from tests.operator.sample import live, sample


def test_sample_parses_with_defaults() -> None:
    scd = SeedCoderDeployment.parse(live(sample()))
    assert scd.metadata.name == "completions"
    assert [p.gpu for p in scd.spec.pools] == ["H100", "A100"]
    assert scd.spec.engine.kv_cache_reuse is True
    assert scd.spec.engine.cache.pvc.claim_name == "engine-cache"
    assert scd.status == SeedCoderDeploymentStatus()


def test_wire_form_is_camel_case_and_round_trips() -> None:
    scd = SeedCoderDeployment.parse(live(sample()))
    wire = scd.spec.wire()
    assert wire["pools"][0]["minReplicas"] == 1  # type: ignore[index]
    assert "min_replicas" not in str(wire)
    assert SeedCoderDeployment.parse(live({**sample(), "spec": wire})).spec == scd.spec


def test_unknown_fields_are_refused() -> None:
    body = live(sample())
    body["spec"]["pools"][0]["replicaz"] = 3
    with pytest.raises(ValidationError, match="replicaz"):
        SeedCoderDeployment.parse(body)


def test_status_with_from_alias_round_trips() -> None:
    status = SeedCoderDeploymentStatus.model_validate(
        {
            "phase": "Ready",
            "autoscaling": {
                "history": [
                    {
                        "time": "2026-01-01T00:00:00Z",
                        "pool": "h100",
                        "from": 1,
                        "to": 2,
                        "reason": "p95 TTFT 410 ms > 300 ms",
                    }
                ]
            },
        }
    )
    assert status.autoscaling is not None
    assert status.autoscaling.history[0].from_ == 1
    assert status.wire()["autoscaling"] == {  # type: ignore[comparison-overlap]
        "history": [
            {
                "time": "2026-01-01T00:00:00Z",
                "pool": "h100",
                "from": 1,
                "to": 2,
                "reason": "p95 TTFT 410 ms > 300 ms",
            }
        ]
    }


def test_condition_reason_must_be_camel_case() -> None:
    with pytest.raises(ValidationError):
        Condition(type="Ready", status="True", last_transition_time="2026-01-01T00:00:00Z", reason="not ok")
