"""The product's container images: one set of defaults, and how an override applies.

Why one module: the chart, the plain manifests, the operator's defaults, the
engine key and the docs must all name the same images, and a VPC-only customer
must be able to point every one of them at an internal registry. This pure module
is the one place the default references live (the chart's drift test and
``make images`` read them from here) and the one rule for applying a registry
override, a per-image reference or a per-resource override.

The images (their Containerfiles are in ``images/``):

- ``seedcoder``: the operator, the gateway and the ``seedcoder`` command;
- ``seedcoder-triton-cpu``: ``tritonserver`` with the Python backend and
  llama.cpp: builds and serves CPU pools;
- ``seedcoder-triton-trtllm``: NVIDIA's Triton TensorRT-LLM image plus this
  package: builds and serves every TensorRT-LLM pool;
- ``seedcoder-triton-llamacpp-cuda``: the CPU image's Triton and llama.cpp on a
  CUDA runtime base, llama.cpp built with CUDA: builds and serves llama.cpp pools
  on GPUs (RTX 4090, L4);
- ``seedcoder-train``: the seedcoder image plus the ``finetune`` extra (torch
  with its CUDA runtime wheels, transformers, peft): runs a ``SeedCoderFineTune``'s
  training Job.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedcoder import __version__

ImageKind = Literal["seedcoder", "triton-cpu", "triton-trtllm", "triton-llamacpp-cuda", "seedcoder-train"]
IMAGE_KINDS: tuple[ImageKind, ...] = ("seedcoder", "triton-cpu", "triton-trtllm")
"""The images every installation uses; the llama.cpp CUDA variant (named by the chart's
``images.tritonLlamacppCuda``, the operator's ``SEEDCODER_TRITON_LLAMACPP_CUDA_IMAGE`` or a
resource's ``spec.images``) serves only llama.cpp pools on GPUs (``make images`` builds a
labelled stand-in of it here); the training image (the chart's ``images.training``, the
operator's ``SEEDCODER_FINETUNE_TRAINING_IMAGE``) runs only fine-tuning Jobs and is several GB,
so neither ``make images`` nor a plain installation needs it (``make image-train`` builds it)."""

DEFAULT_REGISTRY = "ghcr.io"
"""Where the project publishes its images; ``global.imageRegistry`` replaces it."""

REPOSITORIES: dict[ImageKind, str] = {
    "seedcoder": "seedcoder/seedcoder",
    "triton-cpu": "seedcoder/seedcoder-triton-cpu",
    "triton-trtllm": "seedcoder/seedcoder-triton-trtllm",
    "triton-llamacpp-cuda": "seedcoder/seedcoder-triton-llamacpp-cuda",
    "seedcoder-train": "seedcoder/seedcoder-train",
}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
# A registry host has a dot or a port, or is localhost (else the first part is a path).
_HOST = rf"(?:(?:localhost|{_LABEL}(?:\.{_LABEL})+)(?::[0-9]+)?|{_LABEL}:[0-9]+)"
IMAGE_REFERENCE_PATTERN = (
    rf"^(?:{_HOST}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?"
    r"(?:@sha256:[a-f0-9]{64})?$"
)
"""An image reference as the OCI distribution spec writes it: ``[host[:port]/]path[:tag][@sha256:hex]``."""
_REFERENCE = re.compile(IMAGE_REFERENCE_PATTERN)
DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"


class ImageRef(BaseModel):
    """One image as its parts: registry, repository, tag and optional digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    registry: str = Field(description="Registry host (and port), e.g. ghcr.io or registry.internal:5000.")
    repository: str = Field(min_length=1, description="Repository path inside the registry.")
    tag: str = Field(default="", description="Tag; empty with a digest pulls by digest alone.")
    digest: str = Field(default="", pattern=r"^$|^sha256:[a-f0-9]{64}$", description="sha256:<64 hex>.")

    @property
    def reference(self) -> str:
        """``registry/repository[:tag][@digest]``; a digest pins the image whatever the tag says."""
        out = f"{self.registry}/{self.repository}" if self.registry else self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def default_image(kind: ImageKind, *, registry: str | None = None) -> ImageRef:
    """The project's image ``kind`` at this package's version, optionally from another registry."""
    return ImageRef(registry=registry or DEFAULT_REGISTRY, repository=REPOSITORIES[kind], tag=__version__)


def check_reference(ref: str) -> str:
    """``ref`` unchanged if it is a valid image reference; else a ValueError naming it."""
    if not _REFERENCE.match(ref):
        raise ValueError(f"{ref!r} is not an image reference ([registry/]repository[:tag][@sha256:<64 hex>])")
    return ref


def split_reference(ref: str) -> ImageRef:
    """Parse a reference into its parts (a first component with a dot, colon or ``localhost`` is a host)."""
    check_reference(ref)
    rest, _, digest = ref.partition("@")
    registry = ""
    first, slash, after = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, after
    repository, tag = rest, ""
    if ":" in rest.rsplit("/", 1)[-1]:
        repository, _, tag = rest.rpartition(":")
    return ImageRef(registry=registry, repository=repository, tag=tag, digest=digest)


def with_registry(ref: str, registry: str) -> str:
    """``ref`` moved to ``registry`` (same repository, tag and digest): how a mirror is named."""
    return split_reference(ref).model_copy(update={"registry": registry}).reference


def identity(ref: str) -> str:
    """What makes an image the same image: its digest when the reference has one, else the reference.

    Part of the engine key, so a new build image builds a new engine, while the
    same digest pulled from a mirror reuses the engine built from the original.
    """
    check_reference(ref)
    _, _, digest = ref.partition("@")
    return digest or ref


def runtime_image_kind(runtime: str, arch: str = "cpu") -> ImageKind:
    """The image that builds and serves a runtime's engines on ``arch`` (llama.cpp: CPU or CUDA)."""
    if runtime == "tensorrt-llm":
        return "triton-trtllm"
    if runtime == "llamacpp":
        return "triton-cpu" if arch == "cpu" else "triton-llamacpp-cuda"
    raise ValueError(f"no image for runtime {runtime!r}")
