"""Two gateway replicas writing into one folder make one readable feedback data set."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from seedcoder.gateway.feedback import FeedbackStore, read_feedback, writer_name


def _event(n: int, at: float) -> dict[str, object]:
    return {"event_id": f"e{n}", "received": at, "outcome": "accepted", "text": "x" * 40}


def _each_file_has_one_writer(folder: Path) -> None:
    files = sorted(p.name for p in folder.iterdir())
    assert len(files) > 2  # rotation happened (200-byte files)
    for name in files:  # every file belongs to one writer: lines never interleave across processes
        ids = [int(json.loads(line)["event_id"][1:]) for line in (folder / name).read_text().splitlines()]
        odd = {i % 2 for i in ids}
        assert len(odd) == 1
        assert name.startswith("feedback-completions-gateway-7d9f-" + ("abcde" if odd == {1} else "fghij"))


async def test_two_writers_in_one_folder_read_back_as_one_data_set_in_time_order(tmp_path: Path) -> None:
    a = FeedbackStore(str(tmp_path), max_file_bytes=200, writer="completions-gateway-7d9f-abcde")
    b = FeedbackStore(str(tmp_path), max_file_bytes=200, writer="completions-gateway-7d9f-fghij")
    times = [5.0, 1.0, 3.0, 2.0, 6.0, 4.0, 8.0, 7.0]
    # both append at once, as two pods on one ReadWriteMany claim do
    await asyncio.gather(*((a if i % 2 else b).append(_event(i, t)) for i, t in enumerate(times)))
    _each_file_has_one_writer(tmp_path)
    events = read_feedback(tmp_path)
    assert [e["received"] for e in events] == sorted(times)
    assert sorted(e["event_id"] for e in events) == sorted(f"e{i}" for i in range(len(times)))


async def test_a_restarted_writer_continues_its_own_files(tmp_path: Path) -> None:
    first = FeedbackStore(str(tmp_path), max_file_bytes=10_000, writer="gw-a")
    await first.append(_event(1, 1.0))
    other = FeedbackStore(str(tmp_path), max_file_bytes=10_000, writer="gw-b")
    await other.append(_event(2, 2.0))
    again = FeedbackStore(str(tmp_path), max_file_bytes=10_000, writer="gw-a")
    assert await again.append(_event(3, 3.0)) == "feedback-gw-a-00000000.jsonl"
    assert [e["event_id"] for e in read_feedback(tmp_path)] == ["e1", "e2", "e3"]


def test_reader_skips_a_torn_last_line_and_reads_the_old_file_names(tmp_path: Path) -> None:
    (tmp_path / "feedback-00000001.jsonl").write_text(json.dumps(_event(1, 2.0)) + "\n")
    (tmp_path / "feedback-gw-b-00000000.jsonl").write_text(
        json.dumps(_event(2, 1.0)) + "\n" + '{"event_id": "e3", "rec'
    )
    (tmp_path / "notes.txt").write_text("not part of the data set")
    assert [e["event_id"] for e in read_feedback(tmp_path)] == ["e2", "e1"]
    assert read_feedback(tmp_path / "missing") == []


def test_writer_names_are_safe_in_file_names() -> None:
    assert writer_name("completions-gateway-7d9f-abcde") == "completions-gateway-7d9f-abcde"
    assert writer_name("My Host/..") == "my-host"
    assert writer_name("///") == "gateway"
