"""The cached training environment and llama.cpp's LoRA converter for the CPU fine-tuning benchmark.

Why a separate environment: torch, transformers and peft are the training
image's packages, not the product's: the ``finetune`` extra of pyproject.toml pins
them, for this benchmark and the seedcoder-train image alike (read from there, never
repeated here). The benchmark installs them once into a
virtual environment outside the repository, under ``$SEEDCODER_CACHE``, named by
a hash of the pinned versions (a change of pin makes a new one; a half-made one
is never used: the ``.complete`` marker is written last).

torch from PyPI: the default Linux wheel declares the CUDA runtime (``nvidia-*``,
``cuda-*`` and ``triton`` packages, several GiB) as dependencies, and PyPI has no
``+cpu`` build. torch is installed first with ``--no-deps``, but installing
transformers and peft (which require torch) then brings torch's declared CUDA
dependencies in anyway: they are accepted (the CPU run never loads them) and
``cuda_packages`` lists them in the benchmark's results. ``import torch`` with
no CUDA device is checked before the environment is marked complete.

The converter: ``convert_lora_to_gguf.py`` with its ``gguf-py`` ships in the
llama-cpp-python source distribution (``vendor/llama.cpp``) of the version the
project pins; it is downloaded with pip once and unpacked into the cache.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

from seedcoder_dev.localstack.triton import cache_dir

ROOT = Path(__file__).resolve().parent.parent
TRAINING_EXTRA = "finetune"


def training_pins() -> tuple[str, tuple[str, ...]]:
    """torch's pin and the other pins of the ``finetune`` extra, in pyproject.toml's order."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = tuple(project["optional-dependencies"][TRAINING_EXTRA])
    torch = [r for r in extra if r.startswith("torch==")]
    if len(torch) != 1:
        raise RuntimeError(f"pyproject.toml's {TRAINING_EXTRA} extra must pin torch exactly once: {extra}")
    return torch[0], tuple(r for r in extra if r != torch[0])


TORCH, TRAINING_PACKAGES = training_pins()
TORCH_CPU_DEPENDENCIES = (
    "filelock==4.3.1",
    "typing_extensions==4.16.0",
    "sympy==1.14.0",
    "networkx==3.6.1",
    "jinja2==3.1.6",
    "fsspec==2026.9.0",
    "setuptools==84.2.1",
)
"""torch's own dependencies, pinned for its ``--no-deps`` install here (the image lets pip resolve them)."""
LLAMA_CPP_PYTHON = "0.3.36"  # the version tools/setup-python.sh builds
"""The source distribution that carries ``convert_lora_to_gguf.py``."""


def pins() -> tuple[str, ...]:
    return (TORCH, *TORCH_CPU_DEPENDENCIES, *TRAINING_PACKAGES, f"python{sys.version_info[:2]}")


def env_dir() -> Path:
    digest = hashlib.sha256("\n".join(pins()).encode()).hexdigest()[:12]
    return cache_dir() / f"finetune-venv-{digest}"


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-2000:]}")


def training_python() -> Path:
    """The training environment's interpreter, made on first use (a few minutes: torch is ~540 MB)."""
    venv = env_dir()
    python = venv / "bin" / "python"
    if (venv / ".complete").is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"[finetune-env] creating {venv} ({TORCH}, CPU only)", file=sys.stderr, flush=True)
    _run([sys.executable, "-m", "venv", str(venv)], "creating the training environment")
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "--no-deps", TORCH], f"installing {TORCH} without the CUDA packages")
    _run([*pip, *TORCH_CPU_DEPENDENCIES, *TRAINING_PACKAGES], "installing transformers and peft")
    check = "import torch, transformers, peft, gguf; assert not torch.cuda.is_available()"
    _run([str(python), "-c", check], "importing torch (CPU) in the training environment")
    (venv / ".complete").write_text("\n".join(pins()) + "\n")
    return python


def cuda_packages(python: Path) -> list[str]:
    """Names of CUDA packages in the environment (expected: none)."""
    proc = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                          text=True, check=True)  # fmt: skip
    return sorted(
        line.split("==")[0]
        for line in proc.stdout.splitlines()
        if line.lower().startswith(("nvidia-", "cuda-", "triton=="))
    )


def lora_converter() -> Path:
    """``convert_lora_to_gguf.py`` from the pinned llama-cpp-python sdist, unpacked once."""
    root = cache_dir() / f"llama-cpp-python-{LLAMA_CPP_PYTHON}-src"
    script = root / "vendor" / "llama.cpp" / "convert_lora_to_gguf.py"
    if script.is_file():
        return script
    download = cache_dir() / f".llama-cpp-python-{LLAMA_CPP_PYTHON}-sdist"
    download.mkdir(parents=True, exist_ok=True)
    archive = download / f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    if not archive.is_file():
        # pip prepares its metadata (scikit-build-core, in isolation); the archive is never built here
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "llama-cpp-python",
              "-d", str(download), f"llama-cpp-python=={LLAMA_CPP_PYTHON}"],
             "downloading the llama-cpp-python source")  # fmt: skip
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(partial, filter="data")
    (top,) = list(partial.iterdir())
    shutil.rmtree(root, ignore_errors=True)
    top.rename(root)
    shutil.rmtree(partial, ignore_errors=True)
    if not script.is_file():
        raise RuntimeError(
            f"llama-cpp-python {LLAMA_CPP_PYTHON} source has no vendor/llama.cpp/convert_lora_to_gguf.py"
        )
    return script


if __name__ == "__main__":
    print(training_python())
    print(lora_converter())
