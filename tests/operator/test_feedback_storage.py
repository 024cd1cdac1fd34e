"""Where the gateway's feedback goes: a shared claim (durable), or each pod's emptyDir (status says so)."""

from __future__ import annotations

from typing import Any

from seedcoder.operator.objects.desired import plan
from seedcoder.operator.reconcile.status_calc import feedback_verdict

from tests.operator.helpers import SETTINGS, all_built, parsed
from tests.operator.sample import sample, with_path


def _pod(body: dict[str, Any]) -> dict[str, Any]:
    scd, pools = parsed(body)
    (dep,) = [
        o
        for o in plan(scd, pools, all_built(pools), SETTINGS).owned
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "completions-gateway"
    ]
    pod: dict[str, Any] = dep["spec"]["template"]["spec"]
    return pod


def _feedback_volume(pod: dict[str, Any]) -> dict[str, Any]:
    (vol,) = [v for v in pod["volumes"] if v["name"] == "feedback"]
    return vol


def test_a_claim_puts_every_replicas_feedback_in_one_folder() -> None:
    body = with_path(sample(), "gateway.feedback", {"pvc": {"claimName": "feedback-rwx"}})
    pod = _pod(body)
    assert _feedback_volume(pod) == {
        "name": "feedback",
        "persistentVolumeClaim": {"claimName": "feedback-rwx"},
    }
    (container,) = pod["containers"]
    assert {"name": "feedback", "mountPath": "/var/lib/seedcoder/feedback"} in container["volumeMounts"]
    # each replica names its files after its pod, so writers never share a file
    assert {
        "name": "SEEDCODER_GATEWAY_FEEDBACK_WRITER",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
    } in container["env"]
    scd, _ = parsed(body)
    v = feedback_verdict(scd)
    assert (v.type, v.status, v.reason) == ("FeedbackDurable", "True", "PersistentVolumeClaim")
    assert "feedback-rwx" in v.message


def test_without_a_claim_feedback_is_in_an_emptydir_and_status_says_it_is_not_durable() -> None:
    assert _feedback_volume(_pod(sample())) == {"name": "feedback", "emptyDir": {}}
    scd, _ = parsed()
    v = feedback_verdict(scd)
    assert (v.type, v.status, v.reason) == ("FeedbackDurable", "False", "EmptyDir")
    assert "spec.gateway.feedback.pvc" in v.message
