"""Small builders for Grafana dashboard JSON (schema version 39).

Why not a Grafana SDK: the foundation SDK is not published for Python where this
project installs from, and a dashboard is plain JSON. These helpers fill the
fields Grafana needs (ids, grid positions, the datasource variable) so that the
dashboards in :mod:`seedcoder.observability.dashboards` read as a list of
queries, and a test checks the result against the parts of the schema we use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_WIDTH = 24


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel; ``legend`` uses Grafana's ``{{label}}`` syntax."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    """A panel before layout: kind (``timeseries``, ``stat``), title, queries, unit, width in grid columns."""

    kind: str
    title: str
    queries: tuple[Query, ...]
    description: str
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    options: dict[str, Any] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None


def timeseries(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    return Panel("timeseries", title, queries, description, unit, **kw)


def stat(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    kw.setdefault("width", 6)
    kw.setdefault("height", 4)
    return Panel("stat", title, queries, description, unit, **kw)


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": color, "value": value} for value, color in panel.thresholds],
        },
    }
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
        options: dict[str, Any] = {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        options = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    options.update(panel.options)
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": dict(DATASOURCE),
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "targets": [
            {
                "datasource": dict(DATASOURCE),
                "refId": chr(ord("A") + i),
                "expr": q.expr,
                "legendFormat": q.legend or "__auto",
                "range": True,
                "instant": False,
            }
            for i, q in enumerate(panel.queries)
        ],
    }


def layout(rows: list[list[Panel]]) -> list[dict[str, Any]]:
    """Panels placed row by row, left to right; each row as tall as its tallest panel."""
    panels: list[dict[str, Any]] = []
    y = 0
    for row in rows:
        x = 0
        for panel in row:
            if x + panel.width > GRID_WIDTH:
                raise ValueError(f"row with {panel.title!r} is wider than {GRID_WIDTH} columns")
            panels.append(_panel_json(panel, len(panels) + 1, x, y))
            x += panel.width
        y += max(p.height for p in row)
    return panels


def query_variable(name: str, label: str, query: str, *, include_all: bool = False) -> dict[str, Any]:
    """A template variable filled from ``label_values(...)``."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": dict(DATASOURCE),
        "query": {"query": query, "refId": f"{name}-variable"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "includeAll": include_all,
        "multi": include_all,
        **({"allValue": ".*"} if include_all else {}),
        "current": {},
        "options": [],
        "hide": 0,
    }


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "options": [],
        "hide": 0,
        "refresh": 1,
        "regex": "",
    }


def annotation(name: str, expr: str, title: str, text: str, color: str = "orange") -> dict[str, Any]:
    """Events drawn on every time series panel: one per sample of ``expr``."""
    return {
        "name": name,
        "datasource": dict(DATASOURCE),
        "enable": True,
        "iconColor": color,
        "expr": expr,
        "step": "1m",
        "titleFormat": title,
        "textFormat": text,
        "useValueForTime": False,
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    rows: list[list[Panel]],
    variables: list[dict[str, Any]],
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A complete dashboard; the datasource variable comes first."""
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["seedcoder"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [datasource_variable(), *variables]},
        "annotations": {"list": [builtin, *(annotations or [])]},
        "panels": layout(rows),
        "links": [],
    }
