"""``spec.gateway.scan`` reaches the gateway's configuration file; the chart's default fills it when unset."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from seedcoder.api.gateway_config import GatewayConfig
from seedcoder.api.spec import SeedCoderDeploymentSpec
from seedcoder.operator.objects import gateway_objects
from seedcoder.operator.settings import OperatorSettings

from tests.operator.sample import sample

POOLS = [
    gateway_objects.pool_endpoint(
        instance="completions",
        namespace="ml",
        pool="h100",
        gpu="H100",
        max_input_len=8192,
        domain="cluster.local",
    )
]


def spec_with(**gateway: object) -> SeedCoderDeploymentSpec:
    base = sample()["spec"]
    return SeedCoderDeploymentSpec.model_validate({**base, "gateway": {**base["gateway"], **gateway}})


def test_scan_section_is_copied_into_the_gateway_file() -> None:
    spec = spec_with(scan={"policy": "block", "denyModules": ["requests"], "denyCalls": ["os.system"]})
    cfg = gateway_objects.gateway_config(spec, POOLS, "off")
    cm = gateway_objects.config_map(instance="completions", namespace="ml", config=cfg)
    parsed = GatewayConfig.model_validate_json(cm["data"]["gateway.json"])
    assert parsed.scan.policy == "block"
    assert parsed.scan.deny_modules == ["requests"]
    assert parsed.scan.deny_calls == ["os.system"]
    assert json.loads(cm["data"]["gateway.json"])["scan"]["scrub_feedback"] is True


def test_unset_scan_takes_the_operators_default_policy() -> None:
    settings = OperatorSettings.from_env(
        {"SEEDCODER_ALL_NAMESPACES": "true", "SEEDCODER_DEFAULT_SCAN_POLICY": "block"}
    )
    cfg = gateway_objects.gateway_config(spec_with(), POOLS, settings.default_scan_policy)
    assert cfg.scan.policy == "block"
    assert cfg.scan.deny_modules == []
    assert OperatorSettings.from_env({"SEEDCODER_ALL_NAMESPACES": "true"}).default_scan_policy == "annotate"


def test_bad_scan_values_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="policy"):
        spec_with(scan={"policy": "warn"})
    with pytest.raises(ValidationError, match="denyModules"):
        spec_with(scan={"denyModules": ["requests; rm -rf"]})
    with pytest.raises(ValidationError, match="default_scan_policy"):
        OperatorSettings.from_env(
            {"SEEDCODER_ALL_NAMESPACES": "true", "SEEDCODER_DEFAULT_SCAN_POLICY": "loud"}
        )
