"""Every alert has a severity Alertmanager's default routing understands and a runbook in the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedcoder.observability import rules

ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = ROOT / "docs" / "runbooks"


def _alerts() -> list[dict[str, Any]]:
    docs = [rules.recording_and_alert_rules("ml", "completions", 300), rules.operator_rules()]
    return [r for doc in docs for g in doc["groups"] for r in g["rules"] if "alert" in r]


def test_every_alert_has_a_standard_severity_and_its_runbook() -> None:
    alerts = _alerts()
    assert len(alerts) >= 9
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"critical", "warning"}, name
        url = alert["annotations"]["runbook_url"]
        assert url == rules.RUNBOOK_BASE_URL + f"{name}.md"
        page = RUNBOOKS / f"{name}.md"
        assert page.is_file(), f"{name} has no runbook at {page.relative_to(ROOT)}"
        text = page.read_text()
        assert text.startswith(f"# {name}\n")
        for section in ("## What it means", "## How to confirm", "## What to do"):
            assert section in text, f"{page.name} lacks {section!r}"
        assert f"Severity: `{alert['labels']['severity']}`" in text


def test_fast_burn_pages_and_slow_burn_tickets() -> None:
    severity = {a["alert"]: a["labels"]["severity"] for a in _alerts()}
    assert severity[rules.TTFT_FAST_BURN] == severity[rules.AVAILABILITY_FAST_BURN] == "critical"
    assert severity[rules.TTFT_SLOW_BURN] == severity[rules.AVAILABILITY_SLOW_BURN] == "warning"


def test_no_runbook_without_an_alert() -> None:
    names = {a["alert"] for a in _alerts()}
    pages = {p.stem for p in RUNBOOKS.glob("*.md")} - {"README"}
    assert pages == names
    index = (RUNBOOKS / "README.md").read_text()
    assert all(f"[{n}]({n}.md)" in index for n in names)
