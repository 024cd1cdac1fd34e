"""Which image, pull policy and pull secrets each object the operator creates gets.

Why one function: three layers can name an image (the project's defaults, the
operator's settings from the chart, and a resource's ``spec.images``), and the
gateway Deployment, the build Jobs and the Triton Deployments must all apply them
in the same order: the resource's reference, else the operator's explicit
reference, else the default moved to the operator's ``image_registry``.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedcoder.api.spec import ImagesSpec
from seedcoder.images import ImageKind, default_image, runtime_image_kind
from seedcoder.operator.objects.podsec import Manifest
from seedcoder.operator.settings import OperatorSettings


@dataclass(frozen=True)
class ImageChoice:
    """The resolved images of one resource."""

    seedcoder: str
    triton_cpu: str
    triton_trtllm: str
    triton_llamacpp_cuda: str = ""
    pull_policy: str = "IfNotPresent"
    pull_secrets: tuple[str, ...] = ()

    def for_runtime(self, runtime: str, arch: str = "cpu") -> str:
        """The image that builds and serves ``runtime``'s engines on ``arch``."""
        kind = runtime_image_kind(runtime, arch)
        if kind == "triton-llamacpp-cuda":
            return self.triton_llamacpp_cuda or default_image(kind).reference
        return self.triton_cpu if kind == "triton-cpu" else self.triton_trtllm

    def pod_fields(self) -> Manifest:
        """``imagePullSecrets`` for a pod spec (empty when there are none)."""
        if not self.pull_secrets:
            return {}
        return {"imagePullSecrets": [{"name": n} for n in self.pull_secrets]}


def _operator_image(settings: OperatorSettings, kind: ImageKind) -> str:
    explicit = {
        "seedcoder": settings.gateway_image,
        "triton-cpu": settings.triton_cpu_image,
        "triton-trtllm": settings.triton_trtllm_image,
        "triton-llamacpp-cuda": settings.triton_llamacpp_cuda_image,
    }[kind]
    return explicit or default_image(kind, registry=settings.image_registry).reference


def choose(settings: OperatorSettings, spec: ImagesSpec | None = None) -> ImageChoice:
    """The images of a resource with ``spec.images`` = ``spec`` under the operator's ``settings``."""
    spec = spec or ImagesSpec()
    secrets = list(settings.image_pull_secrets)
    secrets += [s.name for s in spec.pull_secrets if s.name not in secrets]
    return ImageChoice(
        seedcoder=spec.gateway or _operator_image(settings, "seedcoder"),
        triton_cpu=spec.triton_cpu or _operator_image(settings, "triton-cpu"),
        triton_trtllm=spec.triton_trtllm or _operator_image(settings, "triton-trtllm"),
        triton_llamacpp_cuda=spec.triton_llamacpp_cuda or _operator_image(settings, "triton-llamacpp-cuda"),
        pull_policy=spec.pull_policy or settings.image_pull_policy,
        pull_secrets=tuple(secrets),
    )
