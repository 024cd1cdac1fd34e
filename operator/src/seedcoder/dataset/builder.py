"""Feedback records -> Seed-Coder SPM training samples -> a versioned snapshot.

Only ``accepted`` completions (and, by default, ``edited`` ones: what the
developer kept is the better middle) whose prompt the gateway remembered
become samples: the prefix and suffix exactly as the gateway received them,
the middle as accepted. Each sample's training text is Seed-Coder's SPM order,
``<[fim-suffix]>SUFFIX<[fim-prefix]>PREFIX<[fim-middle]>MIDDLE<[end▁of▁sentence]>``
(the template and EOS are the gateway's own defaults, one source of truth).

Split by file, never by sample: every sample carries a group (its repository and
path when the record names them, else a ``# path:`` style marker at the top of
the prefix, else the head of the file), and a group's split is a hash of its
name, so a file stays on the same side in every snapshot and nothing of a
held-out file is ever trained on. Held-out samples are written as FIM tasks,
ready for ``seedcoder evaluate``.

A snapshot is a folder ``<version>/`` with ``train.jsonl``, ``heldout.jsonl``
and ``manifest.json`` (counts, drop reasons, content hash, time range, config),
written under a temporary name and renamed, so a reader never sees half of one.
Building twice from the same records writes nothing new.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from seedcoder.api.gateway_config import FimTemplate
from seedcoder.dataset import dedup
from seedcoder.dataset.filters import FilterConfig, rejection
from seedcoder.evaluation.tasks import FimTask, Origin, dump_tasks
from seedcoder.gateway.feedback import read_feedback
from seedcoder.gateway.fim import render_fim

SPM_TEMPLATE = FimTemplate().template
EOS = FimTemplate().stop[0]
MANIFEST = "manifest.json"
_PATH_MARKER = re.compile(
    r"^\s*(?:#|//|--|/\*|;)\s*(?:file|path|filename|filepath)\s*:\s*(?P<path>\S+)", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    held_out_fraction: float = 0.1
    near_duplicate_threshold: float = 0.8
    include_edited: bool = True
    filters: FilterConfig = field(default_factory=FilterConfig)

    def __post_init__(self) -> None:
        if not 0.0 < self.held_out_fraction < 1.0:
            raise ValueError(f"held_out_fraction must be between 0 and 1, got {self.held_out_fraction}")


@dataclass(frozen=True, slots=True)
class Sample:
    sample_id: str
    group: str
    prefix: str
    suffix: str
    middle: str
    received: float

    def text(self) -> str:
        """The training text in Seed-Coder's SPM order, ending with EOS."""
        return render_fim(SPM_TEMPLATE, self.prefix, self.suffix) + self.middle + EOS


def group_of(event: Mapping[str, Any], prefix: str) -> str:
    """The file a sample belongs to (see the module docstring)."""
    owner = str(event.get("key_id") or event.get("user") or "")
    repository, path = event.get("repository"), event.get("path")
    if isinstance(path, str) and path:
        return f"file:{repository or owner}:{path}"
    for line in prefix.splitlines()[:5]:
        if m := _PATH_MARKER.match(line):
            return f"file:{owner}:{m.group('path')}"
    head = "\n".join([ln.strip() for ln in prefix.splitlines() if ln.strip()][:3])
    return f"head:{owner}:{hashlib.sha256(head.encode()).hexdigest()[:16]}"


def held_out(group: str, fraction: float) -> bool:
    """Stable across snapshots: depends only on the group's name."""
    digest = hashlib.sha256(("split:" + group).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def samples_from_events(
    events: Iterable[Mapping[str, Any]], config: BuildConfig, counts: Counter[str]
) -> list[Sample]:
    """Filtered, deduplicated samples in time order; ``counts`` says what happened to each event."""
    kept: list[Sample] = []
    seen: set[str] = set()
    near = dedup.NearDuplicateIndex(config.near_duplicate_threshold)
    for event in events:
        counts["events"] += 1
        outcome = event.get("outcome")
        if outcome == "accepted":
            middle = event.get("completion")
        elif outcome == "edited" and config.include_edited:
            middle = event.get("edited_text")
        else:
            counts[f"ignored_{outcome}"] += 1
            continue
        counts[str(outcome)] += 1
        prefix, suffix = event.get("prompt"), event.get("suffix") or ""
        if not event.get("context_known") or not isinstance(prefix, str) or not isinstance(middle, str):
            counts["dropped_context_unknown"] += 1
            continue
        if not isinstance(suffix, str):
            counts["dropped_context_unknown"] += 1
            continue
        reason = rejection(prefix, middle, suffix, config.filters)
        if reason is not None:
            counts["dropped_" + reason] += 1
            continue
        key = dedup.exact_key(prefix, middle, suffix)
        if key in seen:
            counts["dropped_exact_duplicate"] += 1
            continue
        seen.add(key)
        if near.add(dedup.neighbourhood(prefix, middle, suffix)):
            counts["dropped_near_duplicate"] += 1
            continue
        kept.append(
            Sample(
                sample_id=str(event.get("event_id") or key[:16]),
                group=group_of(event, prefix),
                prefix=prefix,
                suffix=suffix,
                middle=middle,
                received=float(event.get("received") or 0.0),
            )
        )
    return kept


def split(samples: Iterable[Sample], fraction: float) -> tuple[list[Sample], list[Sample]]:
    """(train, held-out) by group. When the hash puts every group in training and there are at
    least two, the group with the lowest hash is held out, so the gate always has a held-out set."""
    samples = list(samples)
    train = [s for s in samples if not held_out(s.group, fraction)]
    heldout = [s for s in samples if held_out(s.group, fraction)]
    groups = sorted(
        {s.group for s in samples}, key=lambda g: hashlib.sha256(("split:" + g).encode()).digest()
    )
    if not heldout and len(groups) >= 2:
        train = [s for s in samples if s.group != groups[0]]
        heldout = [s for s in samples if s.group == groups[0]]
    return train, heldout


def _train_jsonl(samples: Iterable[Sample]) -> str:
    return "".join(
        json.dumps({**asdict(s), "text": s.text()}, ensure_ascii=False, sort_keys=True) + "\n"
        for s in samples
    )


def _heldout_jsonl(samples: Iterable[Sample]) -> str:
    tasks = (
        FimTask(
            task_id=f"heldout/{s.sample_id}",
            prefix=s.prefix,
            suffix=s.suffix,
            middle=s.middle,
            origin=Origin(path=s.group, licence="proprietary"),
        )
        for s in samples
    )
    return dump_tasks(tasks)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class DatasetSnapshot:
    path: Path
    manifest: dict[str, Any]
    created: bool  # False: an existing snapshot already held exactly this content


def latest_snapshot(out_dir: Path) -> Path | None:
    """The newest complete snapshot folder (versions sort by time)."""
    if not out_dir.is_dir():
        return None
    done = sorted(p for p in out_dir.iterdir() if not p.name.startswith(".") and (p / MANIFEST).is_file())
    return done[-1] if done else None


def build_snapshot(
    feedback_dir: str | Path, out_dir: str | Path, config: BuildConfig | None = None, now: float | None = None
) -> DatasetSnapshot:
    """Read every feedback record, build the samples and write a snapshot (unless nothing changed)."""
    config = config or BuildConfig()
    out = Path(out_dir)
    counts: Counter[str] = Counter()
    samples = samples_from_events(read_feedback(feedback_dir), config, counts)
    train, heldout = split(samples, config.held_out_fraction)
    assert not {s.group for s in train} & {s.group for s in heldout}
    files = {"train.jsonl": _train_jsonl(train), "heldout.jsonl": _heldout_jsonl(heldout)}
    content = _sha("".join(f"{name}\x00{_sha(text)}\n" for name, text in sorted(files.items())))
    previous = latest_snapshot(out)
    if previous is not None:
        manifest = json.loads((previous / MANIFEST).read_text())
        if manifest.get("content_sha256") == content:
            return DatasetSnapshot(previous, manifest, created=False)
    created = time.time() if now is None else now
    version = datetime.fromtimestamp(created, UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + content[:12]
    times = [s.received for s in samples]
    manifest = {
        "version": version,
        "created": _iso(created),
        "content_sha256": content,
        "counts": {
            **{k: counts[k] for k in sorted(counts)},
            "samples": len(samples),
            "train": len(train),
            "heldout": len(heldout),
            "train_groups": len({s.group for s in train}),
            "heldout_groups": len({s.group for s in heldout}),
        },
        "time_range": {"first": _iso(min(times)), "last": _iso(max(times))} if times else None,
        "files": {
            name: {"sha256": _sha(text), "lines": text.count("\n"), "bytes": len(text.encode())}
            for name, text in files.items()
        },
        "format": {"template": SPM_TEMPLATE, "eos": EOS, "order": "SPM"},
        "config": {**asdict(config)},
    }
    out.mkdir(parents=True, exist_ok=True)
    staging = out / f".{version}.partial"
    staging.mkdir(exist_ok=True)
    for name, text in files.items():
        (staging / name).write_text(text, encoding="utf-8")
    (staging / MANIFEST).write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    os.replace(staging, out / version)
    return DatasetSnapshot(out / version, manifest, created=True)
