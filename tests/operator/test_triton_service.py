"""A pool's Triton Service is headless, and one left by an older version (with a cluster IP) is replaced."""

from __future__ import annotations

from seedcoder.operator.objects.desired import must_replace, plan

from tests.operator.helpers import SETTINGS, all_built, parsed


def _services() -> list[dict[str, object]]:
    scd, pools = parsed()
    owned = plan(scd, pools, all_built(pools), SETTINGS).owned
    return [o for o in owned if o["kind"] == "Service" and "-triton-" in o["metadata"]["name"]]


def test_every_pool_service_is_headless_with_its_named_ports() -> None:
    services = _services()
    assert len(services) == 2
    for svc in services:
        spec = svc["spec"]
        assert isinstance(spec, dict)
        assert spec["clusterIP"] == "None"  # DNS answers with every ready pod: the gateway's replicas
        assert "publishNotReadyAddresses" not in spec  # only ready pods are answered
        assert [(p["name"], p["port"]) for p in spec["ports"]] == [
            ("http", 8000),
            ("grpc", 8001),
            ("metrics", 8002),
        ]


def test_a_live_service_with_a_cluster_ip_is_replaced_once() -> None:
    desired = _services()[0]
    old = {"kind": "Service", "metadata": {"name": "x"}, "spec": {"clusterIP": "10.96.0.12"}}
    new = {"kind": "Service", "metadata": {"name": "x"}, "spec": {"clusterIP": "None"}}
    assert must_replace(desired, old)
    assert not must_replace(desired, new)  # already headless: a plain apply
    assert not must_replace(desired, None)  # absent: created
    gateway = {"kind": "Service", "spec": {"type": "ClusterIP"}}
    assert not must_replace(gateway, old)  # the gateway's Service keeps its cluster IP
