"""Images for the real node, loaded from archives: the node never pulls from a registry.

Why: no traffic may leave the machine, so every image a pod on the real node
runs is imported into the node's containerd (namespace ``k8s.io``, where the
kubelet's CRI looks) from an OCI or docker archive: the node's own images
(pause, CoreDNS, the test HTTP server) from ``make nodebins``, and the
product's images, which their build lists in ``$SEEDCODER_CACHE/images/index.json``
as ``{"<image ref>": "<absolute path to the archive>"}``. Pods then use
``imagePullPolicy: Never`` or ``IfNotPresent``.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .tools import cache_dir

log = logging.getLogger("seedcoder_dev.devcluster")

CRI_NAMESPACE = "k8s.io"


class ImageLoadError(RuntimeError):
    """An archive could not be imported, or did not contain the image it was listed for."""


def product_images_index(cache: Path | None = None) -> Path:
    """Where the product's image build lists its archives."""
    return (cache or cache_dir()) / "images" / "index.json"


def product_images(cache: Path | None = None) -> dict[str, Path]:
    """The product's image archives by reference (empty when the index does not exist).

    An entry whose archive is missing (its build is being redone) is left out with a
    warning: the cluster still starts, and a pod needing that image fails visibly.
    """
    index = product_images_index(cache)
    if not index.is_file():
        return {}
    data = json.loads(index.read_text())
    if not isinstance(data, dict):
        raise ImageLoadError(f"{index} must hold a JSON object of image reference -> archive path")
    archives = {str(ref): Path(str(path)) for ref, path in data.items()}
    for ref, path in archives.items():
        if not path.is_file():
            log.warning("Skipped image %s: its archive %s (listed in %s) does not exist", ref, path, index)
    return {ref: path for ref, path in archives.items() if path.is_file()}


def _repository(ref: str) -> str:
    """``localhost/x:tag`` -> ``localhost/x`` (a port in the registry host is kept)."""
    name = ref.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > slash else name


def load_images(ctr: Sequence[str], archives: Mapping[str, Path]) -> list[str]:
    """Import every archive into the node's containerd and check its reference is there.

    ``ctr`` is the command prefix that reaches the node's containerd, e.g.
    ``["nsenter", "--mount=/proc/<pid>/ns/mnt", "--", "<nodebins>/ctr", "--address", "<socket>"]``
    (``RealNode.ctr()`` builds it). ``archives`` maps each image reference to an OCI or
    docker archive (``podman save``, ``docker save``, ``buildah push oci-archive:``).
    An OCI archive whose ``org.opencontainers.image.ref.name`` is only a tag is named
    after the reference's repository. Returns the references imported.
    """
    loaded: list[str] = []
    for ref, archive in archives.items():
        if not archive.is_file():
            raise ImageLoadError(f"archive for {ref} not found: {archive}")
        argv = [*ctr, "-n", CRI_NAMESPACE, "images", "import", "--base-name", _repository(ref), str(archive)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=600)
        if result.returncode != 0:
            raise ImageLoadError(
                f"importing {archive} failed: {result.stderr.strip() or result.stdout.strip()}"
            )
        loaded.append(ref)
    present = set(list_images(ctr))
    missing = [ref for ref in loaded if ref not in present and f"docker.io/{ref}" not in present]
    if missing:
        raise ImageLoadError(f"imported archives did not provide {missing}; the node has {sorted(present)}")
    if loaded:
        log.info("Imported %d image(s) into the real node: %s", len(loaded), ", ".join(loaded))
    return loaded


def list_images(ctr: Sequence[str]) -> list[str]:
    """References known to the node's containerd (CRI namespace)."""
    result = subprocess.run(
        [*ctr, "-n", CRI_NAMESPACE, "images", "list", "-q"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.split()
