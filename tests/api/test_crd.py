"""The committed CRD equals the one generated from the models, and it teaches the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from seedcoder.api import crdgen
from seedcoder.api.spec import GpuKind, SeedCoderDeploymentSpec
from seedcoder.engines.profiles import load_profiles

CRD_PATH = Path(__file__).resolve().parents[2] / "manifests" / "crds" / "seedcoderdeployments.yaml"


def _schema() -> dict[str, Any]:
    doc = yaml.safe_load(CRD_PATH.read_text())
    schema: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_committed_crd_is_generated_from_models() -> None:
    assert CRD_PATH.read_text() == crdgen.render(), (
        "manifests/crds/seedcoderdeployments.yaml is stale: "
        "python -m seedcoder.api.crdgen --write manifests/crds/seedcoderdeployments.yaml"
    )


def test_crdgen_check_mode_reports_drift(tmp_path: Path) -> None:
    stale = tmp_path / "crd.yaml"
    stale.write_text("old\n")
    assert crdgen.main(["--check", str(stale)]) == 1
    assert crdgen.main(["--check", str(CRD_PATH)]) == 0


def _walk(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    out = [(path, node)]
    for name, sub in (node.get("properties") or {}).items():
        out += _walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        out += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        out += _walk(node["additionalProperties"], f"{path}{{}}")
    return out


@pytest.mark.parametrize("root", ["spec", "status"])
def test_every_field_has_a_description_and_is_structural(root: str) -> None:
    for path, node in _walk(_schema()["properties"][root], root):
        if path.endswith("[]") or path.endswith("{}"):
            continue  # list items and map values are described by their field
        assert node.get("description"), f"{path} has no description"
        assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{path} has no type"
        for forbidden in ("anyOf", "oneOf", "allOf", "$ref", "title"):
            assert forbidden not in node, f"{path} uses {forbidden}"


def test_every_string_and_list_is_bounded() -> None:
    """CEL cost estimation and 'huge strings' need maxLength / maxItems everywhere in spec."""
    for path, node in _walk(_schema()["properties"]["spec"], "spec"):
        if node.get("type") == "string" and "enum" not in node:
            assert "maxLength" in node, f"{path} has no maxLength"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path} has no maxItems"
        if node.get("type") == "object" and "additionalProperties" in node:
            assert "maxProperties" in node, f"{path} has no maxProperties"


def test_gpu_enum_matches_the_build_profiles() -> None:
    assert set(get_args(GpuKind)) == set(load_profiles())


def test_printer_columns_and_names() -> None:
    doc = yaml.safe_load(CRD_PATH.read_text())
    names = doc["spec"]["names"]
    assert names["shortNames"] == ["scd"]
    assert "seedcoder" in names["categories"]
    columns = [c["name"] for c in doc["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "Ready", "Engines", "Build", "TTFT-P95", "Endpoint", "Age"]
    assert doc["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_fp8_rule_is_generated_from_profiles() -> None:
    pool = _schema()["properties"]["spec"]["properties"]["pools"]["items"]
    rules = " ".join(r["rule"] for r in pool["x-kubernetes-validations"])
    assert "'A100/tensorrt-llm': ['bf16', 'fp16', 'int8-sq', 'int4-awq']" in rules
    assert "'H100/tensorrt-llm': ['fp8'" in rules
    # 24 GB cards: TensorRT-LLM or llama.cpp (CUDA) on the same nodes, each with its own precisions
    assert "'RTX4090/llamacpp': ['gguf-q4_k_m', 'gguf-q8_0', 'gguf-f16']" in rules
    assert "'L4': ['tensorrt-llm', 'llamacpp']" in rules


def _pruned(value: Any) -> Any:
    """Without empty lists and maps (absent and empty mean the same to the operator)."""
    if isinstance(value, dict):
        items = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in ({}, [])}
    return value


def test_crd_defaults_match_model_defaults() -> None:
    """Defaults the apiserver applies must be what the models assume."""
    spec = _schema()["properties"]["spec"]["properties"]
    parsed = SeedCoderDeploymentSpec.model_validate(
        {
            "model": {"revision": "r1", "source": {"pvc": {"claimName": "m"}}},
            "pools": [{"name": "a", "gpu": "H100"}],
            "gateway": {"openMode": True},
        }
    )
    for name in ("slo", "autoscaling", "network", "engine"):
        assert _pruned(spec[name]["default"]) == _pruned(getattr(parsed, name).wire()), f"spec.{name} differs"
    assert spec["model"]["properties"]["name"]["default"] == parsed.model.name
    assert spec["slo"]["properties"]["ttftP95Ms"]["default"] == parsed.slo.ttft_p95_ms
    assert spec["autoscaling"]["properties"]["mode"]["default"] == parsed.autoscaling.mode
    cache = spec["engine"]["properties"]["cache"]["properties"]["pvc"]["default"]
    assert cache == {"claimName": parsed.engine.cache.pvc.claim_name}
    assert spec["network"]["properties"]["exposure"]["default"] == "ClusterIP"
