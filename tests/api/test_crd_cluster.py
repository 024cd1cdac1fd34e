"""The real API server rejects invalid SeedCoderDeployments at ``kubectl apply``, naming the field."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from seedcoder_dev.devcluster import Cluster

from tests.operator.sample import sample, with_path

pytestmark = pytest.mark.cluster

S = sample()
INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("bad gpu enum", with_path(S, "pools.0.gpu", "V100"), "spec.pools[0].gpu"),
    ("bad runtime enum", with_path(S, "pools.0.runtime", "vllm"), "spec.pools[0].runtime"),
    ("bad precision enum", with_path(S, "engine.precision", "fp4"), "spec.engine.precision"),
    ("bad autoscaling mode", with_path(S, "autoscaling.mode", "hpa"), "spec.autoscaling.mode"),
    ("public exposure", with_path(S, "network.exposure", "LoadBalancer"), "spec.network.exposure"),
    ("NodePort exposure", with_path(S, "network.exposure", "NodePort"), "spec.network.exposure"),
    ("public CIDR", with_path(S, "network.allowedCIDRs", ["8.8.8.0/24"]), "spec.network.allowedCIDRs[0]"),
    (
        "all-addresses CIDR",
        with_path(S, "network.allowedCIDRs", ["0.0.0.0/0"]),
        "spec.network.allowedCIDRs[0]",
    ),
    ("not a CIDR", with_path(S, "network.allowedCIDRs", ["10.0.0.300/8"]), "spec.network.allowedCIDRs[0]"),
    ("replicas wrong type", with_path(S, "pools.0.minReplicas", "two"), "spec.pools[0].minReplicas"),
    ("kvCacheReuse wrong type", with_path(S, "engine.kvCacheReuse", "yes"), "spec.engine.kvCacheReuse"),
    ("pools not a list", with_path(S, "pools", {"name": "h100"}), "spec.pools"),
    ("missing source", with_path(S, "model.source", {}), "spec.model.source"),
    ("two sources", with_path(S, "model.source.s3", {"uri": "s3://models/seed"}), "spec.model.source"),
    ("missing revision", with_path(S, "model.revision", ...), "spec.model.revision"),
    ("missing pools", with_path(S, "pools", ...), "spec.pools"),
    ("no pools", with_path(S, "pools", []), "spec.pools"),
    ("min > max", with_path(S, "pools.0.minReplicas", 5), "spec.pools[0]"),
    ("fp8 on A100", with_path(S, "pools.1.precision", "fp8"), "spec.pools[1].precision"),
    ("engine fp8 with an A100 pool", with_path(S, "engine.precision", "fp8"), "spec.engine.precision"),
    ("gguf on H100", with_path(S, "pools.0.precision", "gguf-q4_k_m"), "spec.pools[0].precision"),
    ("llamacpp on H100", with_path(S, "pools.0.runtime", "llamacpp"), "spec.pools[0].runtime"),
    (
        "gguf on an RTX4090 TensorRT-LLM pool",
        with_path(S, "pools.0", {"name": "rtx", "gpu": "RTX4090", "precision": "gguf-q4_k_m"}),
        "spec.pools[0].precision",
    ),
    (
        "int4-awq on an L4 llama.cpp pool",
        with_path(S, "pools.0", {"name": "l4", "gpu": "L4", "runtime": "llamacpp", "precision": "int4-awq"}),
        "spec.pools[0].precision",
    ),
    (
        "engine gguf with an RTX4090 TensorRT-LLM pool",
        with_path(
            with_path(S, "pools", [{"name": "rtx", "gpu": "RTX4090"}]), "engine.precision", "gguf-q8_0"
        ),
        "spec.engine.precision",
    ),
    ("duplicate pools", with_path(S, "pools.1", {"name": "h100", "gpu": "A100"}), "spec.pools"),
    ("replicas out of range", with_path(S, "pools.0.maxReplicas", 1000), "spec.pools[0].maxReplicas"),
    ("negative replicas", with_path(S, "pools.0.minReplicas", -1), "spec.pools[0].minReplicas"),
    ("ttft too small", with_path(S, "slo.ttftP95Ms", 1), "spec.slo.ttftP95Ms"),
    ("ttft above the 60 s ceiling", with_path(S, "slo.ttftP95Ms", 60001), "spec.slo.ttftP95Ms"),
    (
        "input+output beyond 32K",
        with_path(with_path(S, "engine.maxInputLen", 32000), "engine.maxOutputLen", 1000),
        "spec.engine",
    ),
    ("batch size out of range", with_path(S, "engine.maxBatchSize", 4096), "spec.engine.maxBatchSize"),
    ("huge revision string", with_path(S, "model.revision", "a" * 5000), "spec.model.revision"),
    ("huge model name", with_path(S, "model.name", "org/" + "m" * 300), "spec.model.name"),
    ("pool name not a DNS label", with_path(S, "pools.0.name", "H100_Pool"), "spec.pools[0].name"),
    ("pool name too long", with_path(S, "pools.0.name", "a" * 16), "spec.pools[0].name"),
    (
        "too many pools",
        with_path(S, "pools", [{"name": f"p{i}", "gpu": "H100"} for i in range(9)]),
        "spec.pools",
    ),
    ("no API keys and not open", with_path(S, "gateway.apiKeySecretRef", ...), "spec.gateway"),
    (
        "hub download not allowed",
        with_path(S, "model.source", {"huggingFace": {}}),
        "spec.network.allowModelDownload",
    ),
    (
        "path escapes the volume",
        with_path(S, "model.source.pvc.path", "a/../../etc"),
        "spec.model.source.pvc.path",
    ),
    (
        "s3 uri not s3",
        with_path(S, "model.source", {"s3": {"uri": "https://bucket/x"}}),
        "spec.model.source.s3.uri",
    ),
    (
        "plain http s3 endpoint",
        with_path(S, "model.source", {"s3": {"uri": "s3://models/x", "endpoint": "http://minio:9000"}}),
        "spec.model.source.s3.endpoint",
    ),
    ("unknown field", with_path(S, "pools.0.gpus", 2), "spec.pools[0].gpus"),
    ("name too long", {**S, "metadata": {"name": "n" * 41, "namespace": "x"}}, "metadata.name"),
]


def _apply(cluster: Cluster, namespace: str, manifest: dict[str, Any]) -> tuple[int, str]:
    body = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
    result = cluster.kubectl("apply", "--validate=strict", "-f", "-", input=yaml.safe_dump(body), check=False)
    return result.returncode, result.stderr + result.stdout


def test_the_sample_is_accepted(cluster: Cluster, namespace: str) -> None:
    code, out = _apply(cluster, namespace, sample())
    assert code == 0, out


def test_24gb_cards_take_either_runtime_with_its_own_precisions(cluster: Cluster, namespace: str) -> None:
    pools = [
        {"name": "rtx", "gpu": "RTX4090", "precision": "fp8"},
        {"name": "rtx-gguf", "gpu": "RTX4090", "runtime": "llamacpp", "precision": "gguf-q4_k_m"},
        {"name": "l4", "gpu": "L4", "runtime": "tensorrt-llm"},
        {"name": "l4-gguf", "gpu": "L4", "runtime": "llamacpp"},
    ]
    code, out = _apply(cluster, namespace, sample(name="consumer", pools=pools))
    assert code == 0, out
    # a GGUF engine precision is fine when every pool without its own precision runs llama.cpp
    gguf = sample(name="gguf", pools=[{"name": "l4", "gpu": "L4", "runtime": "llamacpp"}], engine={
        "precision": "gguf-q8_0", "cache": {"pvc": {"claimName": "engine-cache"}}})  # fmt: skip
    code, out = _apply(cluster, namespace, gguf)
    assert code == 0, out


@pytest.mark.parametrize(("case", "manifest", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_resource_is_rejected_naming_the_field(
    cluster: Cluster, namespace: str, case: str, manifest: dict[str, Any], field: str
) -> None:
    manifest = {**manifest, "metadata": {**manifest["metadata"], "name": manifest["metadata"]["name"]}}
    code, out = _apply(cluster, namespace, manifest)
    assert code != 0, f"{case}: accepted but should be rejected"
    assert field in out, f"{case}: message does not name {field}: {out}"


def test_explain_teaches_the_pools_field(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "scd.spec.pools").stdout
    for text in (
        "One group of Triton replicas",
        "gpu",
        "GPU kind of the pool's nodes",
        "minReplicas",
        "Fewest Triton replicas",
        "precision",
    ):
        assert text in out, f"kubectl explain scd.spec.pools lacks {text!r}:\n{out}"


def test_short_name_and_category(cluster: Cluster, namespace: str) -> None:
    assert cluster.kubectl("get", "scd", "-n", namespace).returncode == 0
    assert cluster.kubectl("get", "seedcoder", "-n", namespace).returncode == 0
