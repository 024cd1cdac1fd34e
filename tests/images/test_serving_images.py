"""A completion through the real images: the gateway container in front of the Triton CPU container.

Both run as a restricted pod would: a non-root uid, a read-only root filesystem,
no capabilities; only their mounted folders are writable. They share the host's
loopback (``--network=host``), listening on 127.0.0.1 only. The model is the
demo's Gemma 3 270M GGUF served by llama.cpp inside the real ``tritonserver``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest
from seedcoder_dev.localstack.triton import free_port, gguf_model_path, write_llamacpp_repository

from tests.fixtures.gateway import API_KEY, MODEL_NAME, gateway_config
from tests.images.conftest import Container

pytestmark = [pytest.mark.images, pytest.mark.triton, pytest.mark.slow]

RESTRICTED = ("--read-only", "--cap-drop=ALL", "--security-opt=no-new-privileges", "--network=host")


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            code: int = resp.status
            return code
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait(container: Container, url: str, timeout: float) -> float:
    """Seconds from ``podman run`` until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(url) == 200:
            return time.monotonic() - container.started
        if not container.running():
            raise AssertionError(f"{container.name} exited:\n{container.logs()[-4000:]}")
        time.sleep(0.2)
    raise AssertionError(f"{container.name} not ready within {timeout}s:\n{container.logs()[-4000:]}")


def test_a_completion_through_the_gateway_and_triton_cpu_images(
    images: dict[str, dict[str, Any]], containers: list[Container], tmp_path: Path
) -> None:
    # The repository names the GGUF by absolute path: mount it where a pod would (not
    # under this machine's home folder, which the container's user may not enter).
    model = gguf_model_path()
    mounted = Path("/models") / model.name
    repo = write_llamacpp_repository(tmp_path / "repository", mounted, n_threads=1)
    http, grpc, metrics, gw_port = free_port(), free_port(), free_port(), free_port()
    triton = Container(
        f"sc-test-triton-{http}",
        images["triton-cpu"]["reference"],
        "tritonserver", f"--model-repository={repo}",
        "--http-address=127.0.0.1", f"--http-port={http}",
        "--grpc-address=127.0.0.1", f"--grpc-port={grpc}",
        "--metrics-address=127.0.0.1", f"--metrics-port={metrics}",
        "--strict-readiness=true", "--exit-on-error=true",
        run_opts=(
            *RESTRICTED, "--user", "1000:1000", "--tmpfs", "/tmp:rw,size=64m", "--shm-size", "256m",
            "--volume", f"{repo}:{repo}:ro", "--volume", f"{model}:{mounted}:ro",
        ),
    )  # fmt: skip
    containers.append(triton)
    triton_ready = _wait(triton, f"http://127.0.0.1:{http}/v2/health/ready", timeout=180)

    keys, feedback = tmp_path / "keys", tmp_path / "feedback"
    keys.mkdir()
    feedback.mkdir()
    feedback.chmod(0o777)  # written by the container's uid
    (keys / "team").write_text(API_KEY + "\n")
    config = gateway_config(
        f"127.0.0.1:{grpc}",
        tmp_path,
        api_keys_dir="/etc/seedcoder/api-keys",
        feedback_dir="/var/lib/feedback",
    )
    (tmp_path / "gateway.json").write_text(json.dumps(config))
    gateway = Container(
        f"sc-test-gateway-{gw_port}",
        images["seedcoder"]["reference"],
        "seedcoder", "gateway", "--config", "/etc/seedcoder/gateway.json",
        "--host", "127.0.0.1", "--port", str(gw_port),
        run_opts=(
            *RESTRICTED, "--user", "65532:65532", "--tmpfs", "/tmp:rw,size=16m",
            "--volume", f"{tmp_path / 'gateway.json'}:/etc/seedcoder/gateway.json:ro",
            "--volume", f"{keys}:/etc/seedcoder/api-keys:ro",
            "--volume", f"{feedback}:/var/lib/feedback:rw",
        ),
    )  # fmt: skip
    containers.append(gateway)
    gateway_ready = _wait(gateway, f"http://127.0.0.1:{gw_port}/readyz", timeout=90)

    client = openai.OpenAI(base_url=f"http://127.0.0.1:{gw_port}/v1", api_key=API_KEY, max_retries=0)
    done = client.completions.create(
        model=MODEL_NAME, prompt="def add(a, b):\n    return", max_tokens=8, temperature=0
    )
    assert done.choices[0].text.strip(), done
    assert done.usage is not None
    assert done.usage.completion_tokens > 0
    streamed = "".join(
        chunk.choices[0].text
        for chunk in client.completions.create(
            model=MODEL_NAME, prompt="# a list of three colours\ncolours = [", max_tokens=8, stream=True
        )
        if chunk.choices
    )
    assert streamed.strip()

    # Both ran as non-root users with a read-only root filesystem.
    for c, uid in ((triton, "1000"), (gateway, "65532")):
        assert c.exec("id", "-u").stdout.strip() == uid
        denied = c.exec("touch", "/opt/write-probe")
        assert denied.returncode != 0
        assert "Read-only file system" in denied.stderr, denied
    print(f"start -> ready: triton-cpu {triton_ready:.1f}s, seedcoder gateway {gateway_ready:.1f}s")
