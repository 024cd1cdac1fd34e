"""The generated SeedCoderFineTune CRD on the real API server: explained, defaulted, validated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from seedcoder.api import finetune_crd
from seedcoder.api.finetune import SeedCoderFineTuneSpec
from seedcoder_dev.devcluster import Cluster
from seedcoder_dev.devcluster.procs import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
CRD = Path(__file__).resolve().parents[2] / finetune_crd.DEFAULT_PATH
NAME = "seedcoderfinetunes.seedcoder.dev"


@pytest.fixture(scope="session")
def finetune_crd_installed(cluster: Cluster) -> None:
    """Installed for the rest of the session, never deleted: kubectl caches discovery, and a CRD
    removed mid-session stays in the cached ``seedcoder`` category, so ``kubectl get seedcoder``
    in a later test would fail on a resource type the server no longer has."""
    cluster.kubectl("apply", "--server-side", "-f", str(CRD))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{NAME}")
    wait_until(
        lambda: cluster.api_exists("/apis/seedcoder.dev/v1alpha1/seedcoderfinetunes"),
        what="the seedcoderfinetunes API",
        timeout=30,
    )
    # the OpenAPI document (what kubectl explain reads) is published a moment after the API
    wait_until(
        lambda: cluster.kubectl("explain", "seedcoderfinetune.spec", check=False).returncode == 0,
        what="the seedcoderfinetunes OpenAPI schema",
        timeout=60,
    )


def _object(name: str, **spec: Any) -> str:
    body = {
        "apiVersion": "seedcoder.dev/v1alpha1",
        "kind": "SeedCoderFineTune",
        "metadata": {"name": name},
        "spec": {
            "deploymentRef": {"name": "demo"},
            "workspace": {"claimName": "ws"},
            "gate": {"apiKeySecretRef": "eval-key"},
            **spec,
        },
    }
    return json.dumps(body)


@pytest.mark.usefixtures("finetune_crd_installed")
def test_the_api_server_explains_defaults_and_validates(cluster: Cluster, namespace: str) -> None:
    explained = cluster.kubectl("explain", "seedcoderfinetune.spec.gate.heldOutMargin").stdout
    assert "must exceed the base's by at least" in " ".join(explained.split())
    cluster.kubectl("create", "-n", namespace, "-f", "-", input=_object("team-a"))
    stored = json.loads(cluster.kubectl("get", "-n", namespace, "scft", "team-a", "-o", "json").stdout)
    assert stored["spec"]["lora"]["rank"] == 16  # defaults come from the CRD, as the models say
    assert stored["spec"]["lora"]["targetModules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert SeedCoderFineTuneSpec.model_validate(stored["spec"]).gate.held_out_margin == 0.02
    refused = [
        (_object("bad-rank", lora={"rank": 0}), "spec.lora.rank"),
        (_object("bad-memory", training={"memory": "lots"}), "must be a quantity"),
        (_object("bad-cron", trigger={"schedule": "sundays"}), "spec.trigger.schedule"),
        (_object("a" * 41), "metadata.name must be at most 40 characters"),
    ]
    for body, message in refused:
        result = cluster.kubectl("create", "-n", namespace, "-f", "-", input=body, check=False)
        assert result.returncode != 0
        assert message in result.stderr


@pytest.mark.usefixtures("finetune_crd_installed")
def test_the_example_is_accepted_by_the_api_server(cluster: Cluster, namespace: str) -> None:
    example = CRD.parents[1] / "examples" / "finetune" / "payments-team.yaml"
    cluster.kubectl("create", "--dry-run=server", "-n", namespace, "-f", str(example))
