"""The KWOK stage configuration: how simulated nodes and pods behave.

Why: KWOK plays the kubelet for the simulated GPU nodes, and its Stage objects
decide what happens to a pod (created, Running/Ready, Succeeded, failed,
deleted). The project's own configuration is composed here from KWOK's
published stages (kept next to the binaries by ``make testbins``) with three
changes that the operator tests rely on:

* no default delay or jitter: pods are Ready and Job pods complete within about
  a second, yet the per-pod annotations of KWOK's "general" stages still work,
  e.g. ``pod-complete.stage.kwok.x-k8s.io/delay: "5s"`` for a build Job that
  takes a few seconds;
* pods labelled ``pod-container-running-failed.stage.kwok.x-k8s.io: "true"``
  always fail (``phase: Failed``, exit code 1 or the ``.../exit-code``
  annotation) and never complete, so a Job counts them against its
  ``backoffLimit`` as it would a real failed build;
* deleted pods go away at once instead of waiting out their grace period.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CHAOS_LABEL = "pod-container-running-failed.stage.kwok.x-k8s.io"
COMPLETE_DELAY_ANNOTATION = "pod-complete.stage.kwok.x-k8s.io/delay"

_FILES = (
    "node/fast/node-initialize.yaml",
    "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "pod/general/pod-create.yaml",
    "pod/general/pod-init-container-running.yaml",
    "pod/general/pod-init-container-completed.yaml",
    "pod/general/pod-ready.yaml",
    "pod/general/pod-complete.yaml",
    "pod/general/pod-delete.yaml",
    "pod/chaos/pod-container-running-failed.yaml",
)


def _no_default_delay(stage: dict[str, Any]) -> None:
    delay = stage["spec"].get("delay")
    if not delay:
        return
    delay["durationMilliseconds"] = 0
    delay.pop("jitterDurationMilliseconds", None)
    jitter_from = delay.get("jitterDurationFrom", {}).get("expressionFrom", "")
    if "annotations" not in jitter_from:
        delay.pop("jitterDurationFrom", None)


def _adjust(stage: dict[str, Any]) -> dict[str, Any]:
    name = stage["metadata"]["name"]
    if stage["spec"]["resourceRef"]["kind"] == "Pod":
        _no_default_delay(stage)
    if name == "pod-complete":
        stage["spec"]["selector"]["matchExpressions"].append(
            {"key": f'.metadata.labels["{CHAOS_LABEL}"]', "operator": "NotIn", "values": ["true"]}
        )
    return stage


def compose(upstream: Path) -> list[dict[str, Any]]:
    """The Stage objects, read from KWOK's stage folder and adjusted as described above."""
    stages: list[dict[str, Any]] = []
    for rel in _FILES:
        for doc in yaml.safe_load_all((upstream / rel).read_text()):
            if doc and doc.get("kind") == "Stage":
                stages.append(_adjust(doc))
    return stages


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the status templates) as readable literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def write(upstream: Path, path: Path) -> Path:
    """Write the composed stages as one multi-document YAML file for ``kwok --config``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.dump_all(compose(upstream), Dumper=_Dumper, sort_keys=False))
    return path
