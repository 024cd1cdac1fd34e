"""Build reports: what the build program writes and the operator reads back."""

from __future__ import annotations

from seedcoder.engines.buildcmd import BuildReport, parse_termination_message
from seedcoder.engines.report import TERMINATION_MESSAGE_LIMIT, ManifestSummary


def _done() -> BuildReport:
    return BuildReport(
        key="0123456789abcdef",
        state="Succeeded",
        stage="done",
        percent=100,
        message="Built engine.",
        manifest=ManifestSummary(
            precision="fp8", arch="sm90", runtime_version="1.1.0", engine_bytes=9, build_seconds=1.5
        ),
    )


def test_round_trip_through_a_termination_message() -> None:
    assert parse_termination_message(_done().to_line()) == _done()


def test_the_last_report_wins_among_log_lines() -> None:
    running = BuildReport(key="0123456789abcdef", state="Running", stage="build", percent=40)
    text = f"Loading weights...\n{running.to_line()}\nsome noise {{\n{_done().to_line()}\nbye\n"
    assert parse_termination_message(text) == _done()


def test_nothing_recognisable_is_none() -> None:
    assert parse_termination_message("") is None
    assert parse_termination_message(None) is None
    assert parse_termination_message('{"kind": "other"}\nnot json {') is None
    assert parse_termination_message('{"kind": "seedcoder.engine-build", "percent": 900}') is None


def test_a_long_message_is_shortened_to_fit() -> None:
    report = BuildReport(key="k", state="Failed", stage="build", percent=50, message="x" * 100_000)
    line = report.to_line()
    assert len(line.encode()) <= TERMINATION_MESSAGE_LIMIT
    parsed = parse_termination_message(line)
    assert parsed is not None
    assert parsed.state == "Failed"
    assert parsed.message.endswith("...")
