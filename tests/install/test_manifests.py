"""The plain manifests equal the chart's rendering; the CRD copies are equal; examples are valid.

Run ``tools/render-manifests.sh`` after changing the chart or the CRD.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from seedcoder.api.resource import SeedCoderDeployment
from seedcoder_dev import install_manifests as im

from tests.install.conftest import CHART, ROOT, run_helm

MANIFESTS = ROOT / "manifests"
EXAMPLES = sorted((MANIFESTS / "examples").glob("*.yaml"))


CRDS = ["seedcoderdeployments.yaml", "seedcoderfinetunes.yaml"]


@pytest.mark.parametrize("name", CRDS)
def test_chart_crd_is_the_same_file(name: str) -> None:
    source = MANIFESTS / "crds" / name
    copy = CHART / "crds" / name
    assert copy.read_bytes() == source.read_bytes(), "run tools/render-manifests.sh"
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == CRDS


def test_install_manifest_is_the_chart_with_default_values(helm: Path) -> None:
    rendered = run_helm(helm, *im.helm_template_argv(str(helm), ROOT)[1:]).stdout
    assert (ROOT / im.INSTALL).read_text() == im.install_document(rendered), "run tools/render-manifests.sh"


def test_dashboards_manifest_is_the_charts_configmap(helm: Path) -> None:
    rendered = run_helm(helm, *im.helm_template_argv(str(helm), ROOT, dashboards=True)[1:]).stdout
    assert (ROOT / im.DASHBOARDS).read_text() == im.dashboards_document(rendered), (
        "run tools/render-manifests.sh"
    )


def test_install_manifest_contents() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / im.INSTALL).read_text()) if d]
    kinds = [d["kind"] for d in docs]
    assert kinds[0] == "Namespace"
    assert docs[0]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert set(kinds) == {"Namespace", "NetworkPolicy", "ServiceAccount", "Service", "Deployment"} | {
        "ClusterRole",
        "ClusterRoleBinding",
    }
    for doc in docs[1:]:
        if doc["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            assert doc["metadata"]["namespace"] == im.NAMESPACE


def test_documented_install_command_picks_up_only_install_files() -> None:
    """``kubectl apply -f manifests/crds/ -f manifests/install.yaml`` is not recursive: examples stay out."""
    assert sorted(p.name for p in MANIFESTS.glob("*.yaml")) == ["install.yaml"]
    assert sorted(p.name for p in (MANIFESTS / "crds").iterdir()) == CRDS
    readme = (CHART / "README.md").read_text()
    assert "kubectl apply --server-side -f manifests/crds/ -f manifests/install.yaml" in readme


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_parses_as_the_operator_reads_it(example: Path) -> None:
    doc = yaml.safe_load(example.read_text())
    assert "namespace" not in doc["metadata"], "examples are applied with -n"
    doc["metadata"].update(namespace="ml", uid="00000000-0000-0000-0000-000000000000")
    SeedCoderDeployment.parse(doc)


def test_examples_cover_the_issue() -> None:
    specs = {p.stem: yaml.safe_load(p.read_text())["spec"] for p in EXAMPLES}
    gpus = {name: sorted(pool["gpu"] for pool in spec["pools"]) for name, spec in specs.items()}
    assert gpus == {
        "h100": ["H100"],
        "h100-a100": ["A100", "H100"],
        "a100-int8": ["A100"],
        "cpu-llamacpp": ["CPU"],
        "rtx4090-team": ["RTX4090"],
    }
    assert specs["a100-int8"]["engine"]["precision"] == "int8-sq"
    # a small team on four 24 GB cards: INT4 AWQ, as many replicas as cards
    assert specs["rtx4090-team"]["engine"]["precision"] == "int4-awq"
    assert specs["rtx4090-team"]["pools"][0]["maxReplicas"] == 4
    assert specs["cpu-llamacpp"]["pools"][0]["runtime"] == "llamacpp"
