"""The README's first-day sections: they exist, show what the code prints, and every command runs.

``make up`` prints the IDE snippets from ``seedcoder_dev.demo.ide``; the README must show
the very same text (for its example address and key). Every shell command in the
sections this file owns is listed in ``COMMANDS``, and the cluster test runs each one,
as written, against the local control plane (the example namespace ``ml`` and the
release namespace replaced by the test's namespace).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from seedcoder_dev.demo import ide
from seedcoder_dev.devcluster import Cluster

from tests.install.conftest import run_helm

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
CHART_README = (ROOT / "charts" / "seedcoder-operator" / "README.md").read_text()
SECTIONS = (
    "Architecture",
    "Connect your IDE",
    "The first day on a real cluster",
    "Upgrade and uninstall",
    "Troubleshooting",
)
BASE, KEY, MODEL = (
    "http://10.0.12.34:8000/v1",
    "sk-team-a-0123456789abcdef",
    "ByteDance-Seed/Seed-Coder-8B-Base",
)
INSTALL = "helm install seedcoder-operator charts/seedcoder-operator -n seedcoder-system --create-namespace"
COMMANDS = [
    "kubectl get nodes -L nvidia.com/gpu.product -L nvidia.com/gpu.count",
    "kubectl get storageclass",
    "kubectl create secret generic seedcoder-api-keys -n ml --from-literal=team-a=sk-team-a-0123456789abcdef",
    "kubectl apply -n ml -f manifests/examples/h100-a100.yaml",
    "kubectl get scd -n ml",
    "kubectl get scd completions-mixed -n ml -o jsonpath='{.status.endpoint}'",
    "kubectl get svc -n ml -l app.kubernetes.io/component=gateway -o wide",
    "kubectl get pods -n ml -l app.kubernetes.io/instance=completions-mixed",
    "kubectl get events -n ml --field-selector reason=FailedScheduling",
    "kubectl describe scd completions-mixed -n ml",
    "kubectl get scd completions-mixed -n ml -o jsonpath='{.status.engines}'",
    "kubectl apply --server-side --force-conflicts -f charts/seedcoder-operator/crds/",
    "helm upgrade seedcoder-operator charts/seedcoder-operator -n seedcoder-system",
    "helm uninstall seedcoder-operator -n seedcoder-system",
]


def section(title: str, text: str = README) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no section '## {title}'"
    return match.group(1)


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def test_first_day_sections_exist() -> None:
    for title in SECTIONS:
        assert section(title).strip()
    arch = section("Architecture")
    assert blocks(arch, "mermaid"), "the architecture picture"
    (image,) = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", arch)
    assert (ROOT / image).is_file()
    first = section("The first day on a real cluster")
    for need in ("device plugin", "GPU Feature Discovery", "ReadWriteMany", "models claim",
                 "API key Secret", "NetworkPolicy", "release: kube-prometheus-stack"):  # fmt: skip
        assert need in first, need
    trouble = section("Troubleshooting")
    for need in ("Pending", "400", "build fails"):
        assert need in trouble, need
    assert "### The first day: what the cluster needs" in CHART_README
    assert "monitoring.selectorLabels" in CHART_README


def test_ide_snippets_are_what_make_up_prints() -> None:
    text = section("Connect your IDE")
    assert blocks(text, "yaml") == [ide.continue_config(BASE, KEY, MODEL)]
    assert blocks(text, "toml") == [ide.tabby_config(BASE, KEY, MODEL)]
    assert blocks(text, "json") == [ide.llama_vscode_settings(BASE, KEY)]
    printed = ide.client_snippets(BASE, KEY, MODEL)
    for block in blocks(text, "yaml") + blocks(text, "toml") + blocks(text, "json"):
        assert block in printed


def test_every_command_of_these_sections_is_exercised() -> None:
    shown = [
        line.strip()
        for title in SECTIONS
        for block in blocks(section(title), "sh")
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert sorted(shown) == sorted(COMMANDS)
    assert INSTALL in README  # the install command the upgrade and uninstall follow


def _local(command: str, namespace: str, release: str) -> list[str]:
    text = command.replace("-n seedcoder-system", f"-n {namespace}").replace("-n ml", f"-n {namespace}")
    text = text.replace("seedcoder-operator charts/", f"{release} charts/").replace(
        "uninstall seedcoder-operator", f"uninstall {release}"
    )
    return shlex.split(text)


@pytest.mark.cluster
@pytest.mark.slow
def test_readme_commands_run_against_a_real_api_server(cluster: Cluster, namespace: str, helm: Path) -> None:
    release = f"readme-{namespace[-8:]}"
    install = _local(INSTALL.replace(" --create-namespace", ""), namespace, release)
    run_helm(helm, *install[1:], kubeconfig=cluster.kubeconfig)
    outputs = {}
    try:
        for command in COMMANDS:
            argv = _local(command, namespace, release)
            if argv[0] == "helm":
                result = run_helm(helm, *argv[1:], kubeconfig=cluster.kubeconfig)
            else:
                result = cluster.kubectl(*argv[1:], check=False)
            assert result.returncode == 0, f"{command}:\n{result.stderr}"
            outputs[command] = result.stdout
    finally:
        run_helm(helm, "uninstall", release, "-n", namespace, check=False, kubeconfig=cluster.kubeconfig)
    assert "H100" in outputs[COMMANDS[0]]  # the simulated GPU nodes' GFD label
    keys = cluster.kubectl("get", "secret", "seedcoder-api-keys", "-n", namespace, "-o", "jsonpath={.data}")
    assert "team-a" in keys.stdout
    assert "completions-mixed" in outputs["kubectl get scd -n ml"]
