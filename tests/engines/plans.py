"""The build image the operator would pick for a profile, for tests that make plans by hand."""

from __future__ import annotations

from seedcoder.engines.profiles import GpuProfile
from seedcoder.images import default_image, runtime_image_kind


def build_image_for(profile: GpuProfile) -> str:
    """The default image of the profile's runtime (as ``operator.objects.image_choice`` picks it)."""
    return default_image(runtime_image_kind(profile.runtime, profile.arch)).reference
