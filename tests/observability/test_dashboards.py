"""The Grafana dashboards: the parts of Grafana's dashboard schema we use, and their metric names.

A panel whose query names a metric nobody exports shows "No data" forever; these
tests fail instead. (That the names are really scraped from the running gateway
and Triton is checked in ``test_scrape.py``.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seedcoder import metricnames
from seedcoder.observability import dashboards, rules
from seedcoder.observability.promql import base_name, metric_names

ROOT = Path(__file__).resolve().parents[2]
BOARDS = dashboards.all_dashboards()
EXPORTED = {v for k, v in vars(metricnames).items() if k.isupper() and isinstance(v, str)}
RECORDED = set(rules.recording_rule_names())
PANEL_TYPES = {"timeseries", "stat"}
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def queries(board: dict[str, Any]) -> Iterator[str]:
    for panel in board["panels"]:
        for target in panel["targets"]:
            yield target["expr"]
    for ann in board["annotations"]["list"]:
        if "expr" in ann:
            yield ann["expr"]
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            yield var["query"]["query"].removeprefix("label_values(").rsplit(",", 1)[0]


def known(name: str) -> bool:
    return name in EXPORTED or base_name(name) in EXPORTED or name in RECORDED


def used_metric_names() -> set[str]:
    return {name for board in BOARDS.values() for q in queries(board) for name in metric_names(q)}


@pytest.mark.parametrize("file_name", sorted(BOARDS))
def test_dashboard_shape(file_name: str) -> None:
    board = BOARDS[file_name]
    assert file_name == f"{board['uid']}.json"
    assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"])
    assert board["title"].startswith("SeedCoder / ")
    assert isinstance(board["schemaVersion"], int)
    assert board["schemaVersion"] >= 36
    variables = {v["name"] for v in board["templating"]["list"]}
    assert board["templating"]["list"][0]["name"] == "datasource"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        assert panel["type"] in PANEL_TYPES
        assert panel["title"]
        assert panel["description"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        pos = panel["gridPos"]
        assert pos["x"] >= 0
        assert pos["w"] > 0
        assert pos["x"] + pos["w"] <= 24
        assert pos["h"] > 0
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"panel {panel['title']!r} overlaps another"
                cells.add((x, y))
        refs = [t["refId"] for t in panel["targets"]]
        assert refs
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target["expr"].strip()
            assert target["expr"].count("(") == target["expr"].count(")")
            assert target["expr"].count("{") == target["expr"].count("}")
    for query in queries(board):
        for match in VARIABLE.finditer(query):
            assert (match.group(1) or match.group(2)) in variables, f"unknown variable in {query!r}"


def test_every_metric_name_is_exported_or_recorded() -> None:
    unknown = {n for n in used_metric_names() if not known(n)}
    assert not unknown, f"not in seedcoder.metricnames nor recorded: {sorted(unknown)}"


def test_rules_use_only_exported_or_recorded_names() -> None:
    names = set()
    for doc in (rules.recording_and_alert_rules("ml", "c", 300), rules.operator_rules()):
        for group in doc["groups"]:
            for rule in group["rules"]:
                names |= metric_names(rule["expr"])
    unknown = {n for n in names if not known(n)}
    assert not unknown, sorted(unknown)


def test_the_name_check_catches_an_unknown_metric() -> None:
    names = metric_names('sum by (pool) (rate(seedcoder_gateway_nonsense_total{pool=~"$pool"}[5m])) / 2')
    assert names == {"seedcoder_gateway_nonsense_total"}
    assert not known("seedcoder_gateway_nonsense_total")


def test_issue_panels_exist() -> None:
    titles = {p["title"] for board in BOARDS.values() for p in board["panels"]}
    for wanted in (
        "Time to first token vs objective",
        "TTFT error budget left (3d)",
        "TTFT burn rate",
        "Replicas: desired vs ready",
        "Queue depth (Triton)",
        "KV cache in use (TensorRT-LLM)",
        "GPUs held",
        "Engine builds by state",
        "Build duration",
        "Acceptance rate (1h)",
        "Cancellations",
    ):
        assert wanted in titles
    slo_board = BOARDS["seedcoder-slo.json"]
    assert any("autoscaler_decisions_total" in a.get("expr", "") for a in slo_board["annotations"]["list"])


def test_chart_ships_the_dashboards_as_files() -> None:
    folder = ROOT / "charts" / "seedcoder-operator" / "files" / "dashboards"
    shipped = {p.name: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert shipped == BOARDS
