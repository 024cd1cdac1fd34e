"""The Helm chart, rendered by the real Helm: lint, schema, security, RBAC modes, monitoring objects.

Everything here runs without a cluster; ``test_install_cluster.py`` installs the
same chart into the local control plane.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from seedcoder.images import default_image
from seedcoder.observability import dashboards, rules

from tests.install.conftest import CHART, CI_VALUES, Render, by_kind, run_helm

RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
}


@pytest.mark.parametrize("values", [None, *CI_VALUES], ids=lambda p: p.name if p else "defaults")
def test_lint_and_template(helm: Path, render: Render, values: Path | None) -> None:
    extra = ["-f", str(values)] if values else []
    lint = run_helm(helm, "lint", "--strict", str(CHART), *extra)
    assert "0 chart(s) failed" in lint.stdout
    objects = render(*extra)
    assert by_kind(objects, "Deployment")
    for obj in objects:
        assert obj["metadata"]["labels"]["app.kubernetes.io/name"] == "seedcoder-operator"


def test_schema_is_closed(helm: Path) -> None:
    for bad in ("unknownKey=1", "image.tagg=1", "monitoring.dashboards.enable=true", "metrics.port=80"):
        result = run_helm(helm, "template", "x", str(CHART), "--set", bad, check=False)
        assert result.returncode != 0, bad
        assert (
            "values don't meet the specifications of the schema" in result.stderr or "at '" in result.stderr
        )


def _schema_paths(node: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for key, sub in node.get("properties", {}).items():
        path = f"{prefix}{key}"
        paths[path] = sub
        paths.update(_schema_paths(sub, path + "."))
    return paths


def test_every_value_is_documented_in_values_and_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    paths = _schema_paths(schema)
    for path, sub in paths.items():
        assert sub.get("description"), f"{path} has no description in values.schema.json"
        if sub.get("type") == "object" and "properties" in sub:
            assert sub.get("additionalProperties") is False, f"{path} is not closed"
    text = (CHART / "values.yaml").read_text()
    documented = set(re.findall(r"^\s*## @param (\S+) \S", text, re.MULTILINE))
    values = yaml.safe_load(text)

    def leaves(node: Any, prefix: str = "") -> set[str]:
        if isinstance(node, dict) and node and f"{prefix[:-1]}" not in documented:
            return {p for k, v in node.items() for p in leaves(v, f"{prefix}{k}.")}
        return {prefix[:-1]}

    for leaf in leaves(values):
        assert leaf in documented, f"{leaf} has no ## @param line"
        assert leaf in paths, f"{leaf} is not in values.schema.json"
    assert documented <= set(paths)


def test_deployment_is_restricted_and_probed(render: Render) -> None:
    (deploy,) = by_kind(render(), "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    assert container["securityContext"] == RESTRICTED_CONTAINER
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]["memory"]
    assert container["command"] == ["seedcoder", "operator"]
    assert "args" not in container, "the operator takes its settings from the environment"
    assert {p["name"]: p["containerPort"] for p in container["ports"]}["healthz"] == 8080
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SEEDCODER_NAMESPACES"] == ""
    assert env["SEEDCODER_ALL_NAMESPACES"] == "true", "no namespaces listed: the operator must watch all"
    assert env["SEEDCODER_MONITORING_NAMESPACE"] == "monitoring"
    assert env["SEEDCODER_GATEWAY_IMAGE"] == container["image"] == default_image("seedcoder").reference
    assert env["SEEDCODER_TRITON_CPU_IMAGE"] == default_image("triton-cpu").reference
    assert env["SEEDCODER_TRITON_TRTLLM_IMAGE"] == default_image("triton-trtllm").reference
    assert env["SEEDCODER_TRITON_LLAMACPP_CUDA_IMAGE"] == default_image("triton-llamacpp-cuda").reference
    assert env["SEEDCODER_FINETUNE_TRAINING_IMAGE"] == default_image("seedcoder-train").reference
    assert "tolerations" not in pod, "the operator must not land on the GPU pools"
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}


def test_values_reach_the_operator(render: Render) -> None:
    (deploy,) = by_kind(
        render(
            "--set",
            "operator.watchNamespaces={a,b}",
            "--set",
            "operator.prometheusUrl=http://prom.monitoring.svc:9090",
            "--set",
            "image.digest=sha256:" + "a" * 64,
            "--set",
            "images.gateway.registry=registry.local",
            "--set",
            "images.gateway.repository=gw",
            "--set-string",
            "images.gateway.tag=1",
        ),
        "Deployment",
    )
    (container,) = deploy["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SEEDCODER_NAMESPACES"] == "a,b"
    assert env["SEEDCODER_ALL_NAMESPACES"] == "false"
    assert env["SEEDCODER_PROMETHEUS_URL"] == "http://prom.monitoring.svc:9090"
    assert env["SEEDCODER_GATEWAY_IMAGE"] == "registry.local/gw:1"
    assert container["image"] == "ghcr.io/seedcoder/seedcoder@sha256:" + "a" * 64


def _images_of(objects: list[dict[str, Any]]) -> set[str]:
    """Every image reference in rendered objects: containers' images and the operator's image settings."""
    found: set[str] = set()
    for obj in objects:
        pod = obj.get("spec", {}).get("template", {}).get("spec", {})
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            found.add(c["image"])
            found |= {e["value"] for e in c.get("env", []) if e["name"].endswith("_IMAGE") and e.get("value")}
    return found


def test_the_default_images_are_the_products_one_set(render: Render) -> None:
    images = _images_of(render())
    assert images == {
        default_image(k).reference
        for k in ("seedcoder", "triton-cpu", "triton-trtllm", "triton-llamacpp-cuda", "seedcoder-train")
    }


def test_global_image_registry_rewrites_every_image(render: Render) -> None:
    objects = render(
        "--set",
        "global.imageRegistry=registry.internal.example",
        "--set",
        "global.imagePullSecrets={regcred}",
    )
    images = _images_of(objects)
    assert len(images) == 5
    assert all(i.startswith("registry.internal.example/seedcoder/") for i in images), images
    (deploy,) = by_kind(objects, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["SEEDCODER_IMAGE_REGISTRY"] == "registry.internal.example"
    assert env["SEEDCODER_IMAGE_PULL_SECRETS"] == "regcred"


def test_a_digest_pins_each_image(render: Render) -> None:
    digest = "sha256:" + "c" * 64
    objects = render(
        "--set",
        f"image.digest={digest}",
        "--set",
        f"images.tritonCpu.digest={digest}",
        "--set",
        f"images.tritonTrtllm.digest={digest}",
        "--set",
        f"images.tritonLlamacppCuda.digest={digest}",
        "--set",
        f"images.training.digest={digest}",
        "--set",
        "global.imageRegistry=mirror.internal:5000/team",
    )
    images = _images_of(objects)
    assert images == {
        f"mirror.internal:5000/team/seedcoder/{r}@{digest}"
        for r in (
            "seedcoder",
            "seedcoder-triton-cpu",
            "seedcoder-triton-trtllm",
            "seedcoder-triton-llamacpp-cuda",
            "seedcoder-train",
        )
    }


@pytest.mark.parametrize(
    "bad",
    [
        "global.imageRegistry=https://registry.example",
        "images.tritonCpu.digest=sha256:xyz",
        "images.tritonTrtllm.tag=bad tag",
        "images.gateway.image=x",
    ],
)
def test_bad_image_values_are_refused_by_the_schema(helm: Path, bad: str) -> None:
    result = run_helm(helm, "template", "x", str(CHART), "--set", bad, check=False)
    assert result.returncode != 0
    assert "values don't meet the specifications of the schema" in result.stderr or "at '" in result.stderr


def _rules_file() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load((CHART / "files" / "rbac-rules.yaml").read_text())
    return loaded


def _assert_least_privilege(rule_list: list[dict[str, Any]]) -> None:
    for rule in rule_list:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule.get(field, []), rule
        assert "secrets" not in rule["resources"], "the operator never reads Secrets"
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"])
        assert not {"pods/exec", "pods/attach", "roles", "clusterroles"} & set(rule["resources"])


def test_cluster_wide_rbac(render: Render) -> None:
    objects = render()
    (role,) = by_kind(objects, "ClusterRole")
    (binding,) = by_kind(objects, "ClusterRoleBinding")
    assert not by_kind(objects, "Role")
    assert not by_kind(objects, "RoleBinding")
    assert role["rules"][: len(_rules_file())] == _rules_file()
    _assert_least_privilege(role["rules"])
    (sa,) = by_kind(objects, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "seedcoder-system"}
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_namespaced_rbac(render: Render) -> None:
    objects = render("--set", "operator.watchNamespaces={team-a,team-b}")
    assert not by_kind(objects, "ClusterRole")
    assert not by_kind(objects, "ClusterRoleBinding")
    roles = by_kind(objects, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert all(r["rules"] == _rules_file() for r in roles)
    bindings = by_kind(objects, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    assert all(b["subjects"][0]["namespace"] == "seedcoder-system" for b in bindings)


def test_no_public_service_and_default_deny(render: Render) -> None:
    objects = render("-f", str(CHART / "ci" / "monitoring-values.yaml"))
    for svc in by_kind(objects, "Service"):
        assert svc["spec"]["type"] == "ClusterIP"
    (policy,) = by_kind(objects, "NetworkPolicy")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "operator"
    (ingress,) = spec["ingress"]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    ports = sorted(p["port"] for rule in spec["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 6443, 9090]
    pinned = render("-f", str(CHART / "ci" / "hardened-values.yaml"))
    (policy,) = by_kind(pinned, "NetworkPolicy")
    api_rule = next(r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == 443)
    assert api_rule["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]


def test_without_prometheus_the_operator_may_reach_the_gateways_metrics_port(render: Render) -> None:
    """The autoscaler then scrapes the gateway pods itself; the rule selects the labels the operator
    puts on gateway pods, in the watched namespaces (every namespace when none is listed)."""
    from seedcoder.operator.objects import gateway_objects, names

    gateway_pod = names.instance_labels("any", names.COMPONENT_GATEWAY)

    def gateway_rule(*args: str) -> dict[str, Any]:
        (policy,) = by_kind(render(*args), "NetworkPolicy")
        (rule,) = [r for r in policy["spec"]["egress"] if r["ports"][0]["port"] == gateway_objects.PORT]
        return rule

    rule = gateway_rule()
    (peer,) = rule["to"]
    assert peer["namespaceSelector"] == {}
    assert all(gateway_pod[k] == v for k, v in peer["podSelector"]["matchLabels"].items())
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]
    (peer,) = gateway_rule("--set", "operator.watchNamespaces={ml,dev-tools}")["to"]
    assert peer["namespaceSelector"] == {
        "matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["ml", "dev-tools"]}
        ]
    }
    # the operator's pod carries the labels the gateways' policies admit it by
    from seedcoder.operator.objects.netpol import OPERATOR_POD_LABELS

    (dep,) = by_kind(render(), "Deployment")
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(pod_labels.get(k) == v for k, v in OPERATOR_POD_LABELS.items())


def test_monitoring_objects(render: Render) -> None:
    objects = render("-f", str(CHART / "ci" / "monitoring-values.yaml"))
    (rule,) = by_kind(objects, "PrometheusRule")
    assert rule["spec"] == rules.operator_rules()
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (monitor,) = by_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    configmaps = {c["metadata"]["name"]: c for c in by_kind(objects, "ConfigMap")}
    boards = configmaps["seedcoder-operator-dashboards"]
    assert boards["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert boards["metadata"]["namespace"] == "monitoring"
    assert {k: json.loads(v) for k, v in boards["data"].items()} == dashboards.all_dashboards()
    rule_file = configmaps["seedcoder-operator-rules"]["data"]["seedcoder-operator.rules.yaml"]
    assert yaml.safe_load(rule_file) == rules.operator_rules()
    assert not by_kind(render(), "ConfigMap"), "monitoring objects are off by default"


def test_monitoring_selector_labels_reach_the_operator_and_the_charts_objects(render: Render) -> None:
    """kube-prometheus-stack selects by ``release``: the default fits it, and a value changes every object."""
    (deploy,) = by_kind(render(), "Deployment")
    env = {e["name"]: e.get("value") for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SEEDCODER_MONITORING_LABELS"] == "release=kube-prometheus-stack"
    objects = render(
        "-f", str(CHART / "ci" / "monitoring-values.yaml"),
        "--set", "monitoring.selectorLabels.release=prom",
        "--set", "monitoring.selectorLabels.team=ml",
        "--set", "monitoring.prometheusRule.labels.release=prom",
        "--set", "metrics.serviceMonitor.labels.release=prom",
    )  # fmt: skip
    (deploy,) = by_kind(objects, "Deployment")
    env = {e["name"]: e.get("value") for e in deploy["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["SEEDCODER_MONITORING_LABELS"] == "release=prom,team=ml"
    for kind in ("PrometheusRule", "ServiceMonitor"):
        (obj,) = by_kind(objects, kind)
        assert obj["metadata"]["labels"]["release"] == "prom"
        assert obj["metadata"]["labels"]["team"] == "ml"


def test_notes_say_what_to_do_next(helm: Path) -> None:
    out = run_helm(helm, "install", "x", str(CHART), "--dry-run=client", "-n", "ops").stdout
    notes = out.split("NOTES:", 1)[1]
    assert "rollout status deployment/x-seedcoder-operator" in notes
    assert "manifests/examples/" in notes
    assert "never upgrades" in notes


def test_chart_readme_explains_crd_upgrades() -> None:
    readme = (CHART / "README.md").read_text()
    assert "kubectl apply --server-side --force-conflicts -f charts/seedcoder-operator/crds/" in readme
