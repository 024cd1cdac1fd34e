"""The gateway Deployment rolls when its configuration changes (config checksum on the pod template)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from seedcoder.operator.objects.desired import plan

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path

CHECKSUM = "seedcoder.dev/config-checksum"
HASH = "seedcoder.dev/desired-hash"


def _gateway(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    scd, pools = parsed(body)
    owned = plan(scd, pools, all_built(pools), SETTINGS).owned
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in owned}
    return by_kind[("ConfigMap", "completions-gateway")], by_kind[("Deployment", "completions-gateway")]


def test_the_pod_template_carries_the_checksum_of_the_rendered_config() -> None:
    cm, dep = _gateway(sample())
    canonical = json.dumps(cm["data"], sort_keys=True, separators=(",", ":")).encode()
    assert (
        dep["spec"]["template"]["metadata"]["annotations"][CHECKSUM] == hashlib.sha256(canonical).hexdigest()
    )
    again_cm, again_dep = _gateway(sample())
    assert again_dep == dep  # deterministic: a resync writes nothing
    assert again_cm == cm


def test_a_config_only_change_changes_the_pod_template_and_so_rolls_the_pods() -> None:
    cm, dep = _gateway(sample())
    cm2, dep2 = _gateway(with_path(sample(), "gateway.maxContextTokens", 4096))
    assert cm2["data"] != cm["data"]
    t1, t2 = dep["spec"]["template"], dep2["spec"]["template"]
    assert t2["metadata"]["annotations"][CHECKSUM] != t1["metadata"]["annotations"][CHECKSUM]
    # nothing else in the template differs: the checksum alone makes the Deployment roll
    assert {**t2, "metadata": {}} == {**t1, "metadata": {}}
    assert dep2["metadata"]["annotations"][HASH] != dep["metadata"]["annotations"][HASH]  # applied
