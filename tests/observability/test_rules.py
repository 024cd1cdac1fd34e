"""The SLO recording rules and burn-rate alerts, checked by the real promtool.

``promtool test rules`` runs the committed scenarios in ``promtool/`` (fast burn
pages, slow burn opens only a ticket, healthy traffic fires nothing) against the
rules generated for the example deployment ml/completions (300 ms, 99%).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder.observability import monitors, rules, slo
from seedcoder.observability.yamltext import dump
from seedcoder_dev.devcluster.tools import promtool_path

HERE = Path(__file__).parent
SCENARIOS = sorted((HERE / "promtool").glob("*_test.yaml"))


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(promtool_path()), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _write_rules(directory: Path, doc: dict[str, object]) -> Path:
    path = directory / "rules.yaml"
    path.write_text(dump(doc))
    return path


def test_generated_rules_pass_promtool_check(tmp_path: Path) -> None:
    for name, doc in {
        "slo": rules.recording_and_alert_rules("ml", "completions", 300),
        "slo-1s": rules.recording_and_alert_rules("team-a", "x", 1000, 0.999, 0.95),
        "operator": rules.operator_rules(),
    }.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(dump(doc))
        result = _promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout


def test_promtool_check_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above can fail: a syntax error in an expression is reported."""
    doc = rules.recording_and_alert_rules("ml", "completions", 300)
    doc["groups"][0]["rules"][0]["expr"] = "sum by (pool (rate(x[5m]))"
    path = _write_rules(tmp_path, doc)
    assert _promtool("check", "rules", str(path)).returncode != 0


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.stem)
def test_promtool_scenarios(scenario: Path, tmp_path: Path) -> None:
    _write_rules(tmp_path, rules.recording_and_alert_rules("ml", "completions", 300))
    shutil.copy(scenario, tmp_path / scenario.name)
    result = _promtool("test", "rules", str(tmp_path / scenario.name))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scenarios_fail_when_the_page_threshold_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast-burn scenario really depends on the 14.4x/6x page windows."""
    slow_page = tuple(
        slo.BurnWindow(w.long, w.short, 100.0, w.severity) if w.severity == "page" else w
        for w in slo.BURN_WINDOWS
    )
    monkeypatch.setattr(rules, "BURN_WINDOWS", slow_page)
    _write_rules(tmp_path, rules.recording_and_alert_rules("ml", "completions", 300))
    scenario = HERE / "promtool" / "ttft_burn_test.yaml"
    shutil.copy(scenario, tmp_path / scenario.name)
    result = _promtool("test", "rules", str(tmp_path / scenario.name))
    assert result.returncode != 0
    assert "SeedCoderTTFTBudgetFastBurn" in result.stdout + result.stderr


def test_scenarios_cover_every_slo_alert() -> None:
    tested = {
        case["alertname"]
        for scenario in SCENARIOS
        for test in yaml.safe_load(scenario.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    alerts = {
        rule["alert"]
        for group in rules.recording_and_alert_rules("ml", "completions", 300)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert alerts <= tested


def test_ttft_threshold_is_read_at_the_slo_bucket() -> None:
    text = dump(rules.recording_and_alert_rules("ml", "completions", 300))
    assert 'le="0.3"' in text
    text = dump(rules.recording_and_alert_rules("ml", "completions", 1000))
    assert 'le=~"1|1\\\\.0"' in text


@pytest.mark.parametrize(
    ("ms", "bound"), [(300, 0.3), (250, 0.25), (1000, 1.0), (320, 0.3), (3000, 2.0), (60000, 10.0)]
)
def test_threshold_bucket_rounds_down_to_a_bucket(ms: int, bound: float) -> None:
    assert slo.threshold_bucket(ms) == bound


@pytest.mark.parametrize("ms", [0, -5, 10, 49])
def test_threshold_bucket_refuses_impossible_objectives(ms: int) -> None:
    with pytest.raises(ValueError, match="ttft_p95_ms"):
        slo.threshold_bucket(ms)


@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1])
def test_targets_must_be_ratios(bad: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        rules.recording_and_alert_rules("ml", "x", 300, availability_target=bad)
    with pytest.raises(ValueError, match="between 0 and 1"):
        rules.recording_and_alert_rules("ml", "x", 300, ttft_target_ratio=bad)


def test_gateway_histogram_has_every_slo_bucket() -> None:
    from seedcoder.gateway.metrics import TTFT_BUCKETS

    assert set(slo.TTFT_SLO_BUCKETS_SECONDS) <= set(TTFT_BUCKETS)


def test_burn_windows_follow_the_sre_workbook() -> None:
    assert [(w.long, w.short, w.factor, w.severity) for w in slo.BURN_WINDOWS] == [
        ("1h", "5m", 14.4, "page"),
        ("6h", "30m", 6.0, "page"),
        ("1d", "2h", 3.0, "ticket"),
        ("3d", "6h", 1.0, "ticket"),
    ]


def test_prometheus_rule_object() -> None:
    obj = rules.prometheus_rule("ml", "completions", 300, labels={"release": "kps"})
    assert obj["apiVersion"] == "monitoring.coreos.com/v1"
    assert obj["kind"] == "PrometheusRule"
    assert obj["metadata"] == {
        "name": "completions-slo",
        "namespace": "ml",
        "labels": {
            "app.kubernetes.io/name": "seedcoder",
            "app.kubernetes.io/instance": "completions",
            "app.kubernetes.io/component": "slo-rules",
            "app.kubernetes.io/managed-by": "seedcoder-operator",
            "release": "kps",
        },
    }
    assert obj["spec"] == rules.recording_and_alert_rules("ml", "completions", 300)


def _resource(ttft_ms: int) -> SeedCoderDeployment:
    return SeedCoderDeployment.parse(
        {
            "apiVersion": "seedcoder.dev/v1alpha1",
            "kind": "SeedCoderDeployment",
            "metadata": {"name": "completions", "namespace": "team-a", "uid": "u-1"},
            "spec": {
                "model": {"name": "org/model", "revision": "r", "source": {"pvc": {"claimName": "models"}}},
                "engine": {"cache": {"pvc": {"claimName": "engine-cache"}}},
                "pools": [{"name": "h100", "gpu": "H100"}],
                "slo": {"ttftP95Ms": ttft_ms},
                "gateway": {"apiKeySecretRef": {"name": "keys"}},
            },
        }
    )


def test_monitoring_objects_of_a_resource() -> None:
    objs = rules.monitoring_objects(_resource(400))
    assert [(o["kind"], o["metadata"]["namespace"]) for o in objs] == [
        ("PrometheusRule", "team-a"),
        ("PodMonitor", "team-a"),
    ]
    assert objs[0] == rules.prometheus_rule("team-a", "completions", 400)
    assert objs[1] == monitors.pod_monitor("team-a", "completions")
    thresholds = [
        r["expr"]
        for g in objs[0]["spec"]["groups"]
        for r in g["rules"]
        if r.get("record") == rules.SLO_TTFT_THRESHOLD
    ]
    assert thresholds == ["vector(0.4)"]


def test_the_api_admits_only_objectives_the_ttft_histogram_can_measure() -> None:
    smallest_ms = round(slo.TTFT_SLO_BUCKETS_SECONDS[0] * 1000)
    kinds = [o["kind"] for o in rules.monitoring_objects(_resource(smallest_ms))]
    assert kinds == ["PrometheusRule", "PodMonitor"]
    with pytest.raises(ValidationError, match=r"ttftP95Ms|ttft_p95_ms"):
        _resource(smallest_ms - 1)


def test_every_rule_is_scoped_to_its_deployment() -> None:
    doc = rules.recording_and_alert_rules("ml", "completions", 300)
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["expr"].startswith("vector("):
                assert rule["labels"] == {"namespace": "ml", "deployment": "completions"}
            else:
                assert 'namespace="ml", deployment="completions"' in rule["expr"], rule
