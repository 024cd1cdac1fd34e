"""Build the product's container images on a machine with no container registry.

Why this script: the images must exist and be tested here, yet no registry is
reachable, so everything a registry would give comes from package repositories:

1. the base: a Debian bookworm root filesystem with Debian's Python 3.11, made by
   ``mmdebstrap`` from Debian's packages and imported into podman; it stands in
   for the Containerfiles' default ``python:3.11-slim-bookworm`` base through the
   same ``BASE_IMAGE`` argument;
2. a wheelhouse: every wheel the images install, built on this machine (the
   llama-cpp-python wheel comes from the set-up's cache) and installed inside the
   build with ``--no-index``, the path an air-gapped customer takes;
3. ``podman build`` of ``images/*.Containerfile`` without network access, tagged
   with the product's default references (``seedcoder.images``), so manifests
   that name those references run the local images; the TensorRT-LLM image,
   whose NVIDIA base cannot be fetched here, is built against the local base as
   a stand-in and tagged ``localhost/seedcoder-triton-trtllm:<version>-standin``;
   the llama.cpp CUDA image (``--only triton-llamacpp-cuda``, not built by
   default), whose CUDA base and CUDA build of llama.cpp cannot be had here, is
   built the same way with the CPU llama.cpp wheel and ``REQUIRE_CUDA=0``, tagged
   ``localhost/seedcoder-triton-llamacpp-cuda:<version>-standin``; the training
   image (``--only seedcoder-train``, ``make image-train``, not built by default:
   several GB) is built FROM the seedcoder image (built first when missing) with
   the ``finetune`` extra's wheels (torch with its CUDA wheels, transformers,
   peft), collected into a wheelhouse of their own;
4. ``podman save`` of each image into the cache, listed in ``index.json``
   (reference -> archive) for the local node's container runtime to import (all
   but the training image, which no pod on the local node runs).

Every step is cached outside the repository by a hash of its inputs: a warm run
checks hashes and returns in seconds. Usage::

    python tools/build_images.py [--only seedcoder,triton-cpu,triton-trtllm,triton-llamacpp-cuda] [--json]
    python tools/build_images.py --only seedcoder-train   # make image-train
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator" / "src"))

from seedcoder import __version__  # noqa: E402
from seedcoder.images import default_image  # noqa: E402

CACHE = Path(os.environ.get("SEEDCODER_CACHE", Path.home() / ".cache" / "seedcoder")).expanduser()
IMAGES_DIR = CACHE / "images"
PODMAN = ["podman", "--runtime", "/usr/sbin/runc"]
# Containers here may not raise resource limits: ask for less than the defaults.
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]

BASE_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "libpython3.11", "libgomp1", "ca-certificates")
"""Debian's Python 3.11 (as python:3.11-slim-bookworm has), its shared library
(Triton's Python stub links it) and OpenMP's runtime (llama.cpp)."""
DEBIAN_MIRRORS = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)
PYTRITON = "nvidia-pytriton==0.7.0"
LLAMA_CPP_PYTHON = "0.3.36"  # tools/setup-python.sh builds and caches its wheel
LLAMA_CPP_FLAVOUR = "x86-64-v3"  # a portable build (never -march=native), as setup-python.sh makes it
STANDIN_REF = f"localhost/seedcoder-triton-trtllm:{__version__}-standin"
LLAMACPP_CUDA_STANDIN_REF = f"localhost/seedcoder-triton-llamacpp-cuda:{__version__}-standin"

IMAGES = {
    "seedcoder": ("seedcoder.Containerfile", default_image("seedcoder").reference, False),
    "triton-cpu": ("triton-cpu.Containerfile", default_image("triton-cpu").reference, True),
    "triton-trtllm": ("triton-trtllm.Containerfile", STANDIN_REF, False),
    "triton-llamacpp-cuda": ("triton-llamacpp-cuda.Containerfile", LLAMACPP_CUDA_STANDIN_REF, True),
    "seedcoder-train": ("seedcoder-train.Containerfile", default_image("seedcoder-train").reference, False),
}
"""name -> (Containerfile, reference it is tagged with, needs the llama.cpp and Triton wheels)."""
BUILT_ON = {"seedcoder-train": "seedcoder"}
"""Images whose base is another of these images (built first), not the Debian base."""
NOT_FOR_THE_NODE = ("seedcoder-train",)
"""Archived in the cache but not listed in ``index.json``: the local node imports every listed
archive when it starts, and no training Job runs there (a 6 GB import on each start for nothing)."""
TRAINING_EXTRA = "finetune"
"""The optional dependencies only the training image installs (its own wheelhouse)."""
TRAINING_FREE_BYTES = 20 * 1024**3
"""What building the training image needs free: its wheels, its layer and its archive."""
DEFAULT_IMAGES = ("seedcoder", "triton-cpu", "triton-trtllm", "triton-llamacpp-cuda")
"""What ``make images`` builds (the two GPU images as labelled stand-ins)."""
STAND_INS = {
    "triton-trtllm": "base is a local Debian bookworm, not NVIDIA's Triton",
    "triton-llamacpp-cuda": (
        "base is a local Debian bookworm, not NVIDIA's CUDA runtime; llama.cpp is the CPU build"
    ),
}
"""Images built here against a stand-in base: the label ``org.seedcoder.stand-in`` says what differs."""
STAND_IN_BUILD_ARGS = {"triton-llamacpp-cuda": ("REQUIRE_CUDA=0",)}
"""Build arguments only a stand-in gets (the real build keeps the Containerfile's defaults)."""


def build_arguments(name: str, base: str, revision: str, inputs: str) -> list[str]:
    """The ``podman build`` arguments of image ``name`` on ``base`` (without context and tags)."""
    args = [
        "--build-arg",
        f"BASE_IMAGE={base}",
        "--build-arg",
        f"VERSION={__version__}",
        "--build-arg",
        f"REVISION={revision}",
        "--label",
        f"org.seedcoder.inputs={inputs}",
    ]
    for extra in STAND_IN_BUILD_ARGS.get(name, ()):
        args += ["--build-arg", extra]
    if name in STAND_INS:
        args += ["--label", f"org.seedcoder.stand-in={STAND_INS[name]}"]
    return args


def log(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kw)  # type: ignore[call-overload, no-any-return]


def sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:16]


def image_exists(ref: str) -> bool:
    return subprocess.run([*PODMAN, "image", "exists", ref], check=False).returncode == 0


def image_id(ref: str) -> str:
    return run([*PODMAN, "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True).stdout.strip()


def preflight(free_bytes: int = 4 * 1024**3) -> None:
    missing = [t for t in ("podman", "mmdebstrap") if shutil.which(t) is None]
    if not Path("/usr/sbin/runc").exists():
        missing.append("runc")
    if missing:
        raise SystemExit(
            f"error: {', '.join(missing)} missing: install Debian's podman, mmdebstrap and runc "
            "(apt-get install podman mmdebstrap runc), or run `bash tools/install-tools.sh`"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(CACHE).free
    if free < free_bytes:
        raise SystemExit(
            f"error: building these images needs about {free_bytes >> 30} GiB free under {CACHE}; "
            f"{free >> 20} MiB free"
        )


# ----------------------------------------------------------------------------- base
def base_image() -> str:
    """The local bookworm base, made once per package set."""
    ref = f"localhost/seedcoder-base:{BASE_SUITE}-{sha(BASE_SUITE, *BASE_PACKAGES, *DEBIAN_MIRRORS)}"
    if image_exists(ref):
        return ref
    log(f"making the {BASE_SUITE} base with mmdebstrap ({', '.join(BASE_PACKAGES)}; about 3 minutes)")
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        tar = Path(tmp) / "rootfs.tar"
        run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--mode=root",
                "--format=tar",
                "--quiet",
                f"--include={','.join(BASE_PACKAGES)}",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
                BASE_SUITE,
                str(tar),
                *DEBIAN_MIRRORS,
            ]
        )
        run([*PODMAN, "import", "--quiet", str(tar), ref], capture_output=True)
    return ref


# ----------------------------------------------------------------------------- wheels
def _tracked(paths: list[str]) -> list[Path]:
    out = run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", *paths],
        capture_output=True,
    ).stdout.split()
    return sorted(ROOT / p for p in out if (ROOT / p).is_file())


def source_hash() -> str:
    """Hash of everything the project wheel is built from."""
    files = _tracked(["operator/src", "pyproject.toml", "README.md", "LICENSE"])
    return sha(*(f"{f.relative_to(ROOT)}\0".encode() + f.read_bytes() for f in files))


def pip(*args: str) -> None:
    run([sys.executable, "-m", "pip", *args, "--quiet", "--disable-pip-version-check"])


def llama_wheel_dir() -> Path:
    d = CACHE / "wheels" / f"llama-cpp-python-{LLAMA_CPP_PYTHON}-{LLAMA_CPP_FLAVOUR}"
    if not list(d.glob("llama_cpp_python-*.whl")):
        raise SystemExit(
            f"error: the llama-cpp-python {LLAMA_CPP_PYTHON} wheel is not built yet: run `make venv`"
        )
    return d


def dependency_wheels() -> Path:
    """Every third-party wheel the images install, keyed by pyproject.toml and the Python version."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # the training extra has its own wheelhouse: a change of its pins leaves this one alone
    optional = {k: v for k, v in project["optional-dependencies"].items() if k != TRAINING_EXTRA}
    requirements = json.dumps([project["dependencies"], optional], sort_keys=True)
    key = sha(requirements, py, PYTRITON, LLAMA_CPP_PYTHON, LLAMA_CPP_FLAVOUR)
    dest = CACHE / "wheelhouse" / f"py{py}-{key}"
    if dest.is_dir():
        return dest
    log(
        f"collecting the wheelhouse for Python {py} "
        f"(dependencies of seedcoder-operator[llamacpp], {PYTRITON}, pip)"
    )
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        pip("wheel", "--wheel-dir", str(tmp), "--find-links", str(llama_wheel_dir()), f"{ROOT}[llamacpp]")
        for own in tmp.glob("seedcoder_operator-*.whl"):
            own.unlink()
        pip("download", "--no-deps", "--only-binary=:all:", "--dest", str(tmp), PYTRITON, "pip")
        dest.parent.mkdir(parents=True, exist_ok=True)
        for old in dest.parent.glob(f"py{py}-*"):
            shutil.rmtree(old, ignore_errors=True)  # one wheelhouse per Python version is kept
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def training_requirements() -> list[str]:
    """The ``finetune`` extra of pyproject.toml: what the training image adds to the seedcoder image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"][TRAINING_EXTRA])


def training_wheels() -> Path:
    """Every wheel of the ``finetune`` extra with its dependencies (torch's CUDA wheels included)."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    requirements = training_requirements()
    dest = CACHE / "wheelhouse-training" / f"py{py}-{sha(*requirements, py)}"
    if dest.is_dir():
        return dest
    log(f"collecting the training wheelhouse for Python {py} ({', '.join(requirements)}; about 3 GB)")
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        pip("download", "--only-binary=:all:", "--dest", str(tmp), *requirements)
        dest.parent.mkdir(parents=True, exist_ok=True)
        for old in dest.parent.glob(f"py{py}-*"):
            shutil.rmtree(old, ignore_errors=True)  # one training wheelhouse per Python version is kept
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def image_wheels(name: str, deps: Path, own: Path) -> list[Path]:
    """The wheels staged in ``name``'s build context (names unique; the project's own last)."""
    if name == "seedcoder-train":
        # the base has the product's packages: the training wheels, pip to install them, the project's
        wheels = sorted(training_wheels().glob("*.whl"))
        if not any(w.name.startswith("pip-") for w in wheels):
            wheels += sorted(deps.glob("pip-*.whl"))
    else:
        wheels = sorted(deps.glob("*.whl"))
        if not IMAGES[name][2]:
            wheels = [w for w in wheels if not w.name.startswith(("llama_cpp_python-", "nvidia_pytriton-"))]
    return [*wheels, own]


def project_wheel() -> Path:
    src = source_hash()
    dest = CACHE / "project-wheels" / src
    found = list(dest.glob("seedcoder_operator-*.whl"))
    if found:
        return found[0]
    log("building the seedcoder-operator wheel")
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        with tempfile.TemporaryDirectory() as build_src:
            # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
            for f in _tracked(["operator/src", "pyproject.toml", "README.md", "LICENSE"]):
                target = Path(build_src) / f.relative_to(ROOT)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target)
            pip("wheel", "--no-deps", "--wheel-dir", str(tmp), build_src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return next(dest.glob("seedcoder_operator-*.whl"))


# ----------------------------------------------------------------------------- images
def revision() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


def _drop_older(name: str, keep: str) -> None:
    """Untag earlier builds of ``name`` and free their layers: the cache holds one build each."""
    listed = run([*PODMAN, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True).stdout
    old = [r for r in listed.split() if r.startswith(f"localhost/seedcoder-cache/{name}:") and r != keep]
    if old:
        subprocess.run([*PODMAN, "untag", *old], capture_output=True, check=False)
        subprocess.run([*PODMAN, "image", "prune", "--force"], capture_output=True, check=False)


def build(name: str, base: str, deps: Path, own: Path) -> dict[str, object]:
    containerfile, ref, _ = IMAGES[name]
    wheels = image_wheels(name, deps, own)
    text = (ROOT / "images" / containerfile).read_bytes()
    inputs = sha(text, image_id(base), own.parent.name, *(w.name for w in wheels), ref)
    cache_ref = f"localhost/seedcoder-cache/{name}:{inputs}"
    archive = IMAGES_DIR / f"{name}-{inputs}.tar"
    started = time.monotonic()
    built = False
    if not (image_exists(cache_ref) and archive.is_file()):
        log(f"building {ref} ({name}, inputs {inputs})")
        with tempfile.TemporaryDirectory(dir=CACHE) as ctx:
            (Path(ctx) / "wheels").mkdir()
            for w in wheels:
                os.link(w, Path(ctx) / "wheels" / w.name)
            shutil.copy2(ROOT / "images" / containerfile, Path(ctx) / "Containerfile")
            built_by = subprocess.run(
                [
                    *PODMAN,
                    "build",
                    "--quiet",
                    "--network=none",
                    "--pull=never",
                    "--layers",
                    *ULIMITS,
                    *build_arguments(name, base, revision(), inputs),
                    "--tag",
                    ref,
                    "--tag",
                    cache_ref,
                    "--file",
                    str(Path(ctx) / "Containerfile"),
                    ctx,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if built_by.returncode != 0:
                raise SystemExit(
                    f"error: podman build of {name} failed (exit {built_by.returncode}):\n"
                    + (built_by.stderr or built_by.stdout)[-4000:]
                )
        IMAGES_DIR.mkdir(parents=True, exist_ok=True)
        for old in IMAGES_DIR.glob(f"{name}-*.tar"):
            old.unlink()
        partial = archive.with_suffix(".partial")
        run([*PODMAN, "save", "--quiet", "--format", "docker-archive", "--output", str(partial), ref])
        partial.rename(archive)
        built = True
        _drop_older(name, cache_ref)
    elif image_id(ref) != image_id(cache_ref):
        run([*PODMAN, "tag", cache_ref, ref])
    size = int(run([*PODMAN, "image", "inspect", "--format", "{{.Size}}", ref], capture_output=True).stdout)
    return {
        "name": name,
        "reference": ref,
        "archive": str(archive),
        "inputs": inputs,
        "size_bytes": size,
        "built": built,
        "seconds": round(time.monotonic() - started, 1),
        "stand_in": name in STAND_INS,
    }


def node_index(index: dict[str, str], results: list[dict[str, object]]) -> dict[str, str]:
    """``index`` (reference -> archive) with this run's archives, less those the node never runs."""
    out = dict(index)
    out.update({str(r["reference"]): str(r["archive"]) for r in results if r["name"] not in NOT_FOR_THE_NODE})
    for name in NOT_FOR_THE_NODE:
        out.pop(IMAGES[name][1], None)
    return out


def build_order(names: list[str]) -> list[str]:
    """``names`` with each image built on another of these images after it (added when not asked for)."""
    order: list[str] = []
    for name in names:
        parent = BUILT_ON.get(name)
        if parent is not None and parent not in order:
            order.append(parent)
        if name not in order:
            order.append(name)
    return order


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(DEFAULT_IMAGES), help="comma-separated: " + ", ".join(IMAGES))
    ap.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in IMAGES]
    if unknown:
        raise SystemExit(f"error: unknown image(s) {', '.join(unknown)}; known: {', '.join(IMAGES)}")
    names = build_order(names)
    preflight(TRAINING_FREE_BYTES if "seedcoder-train" in names else 4 * 1024**3)
    started = time.monotonic()
    base = base_image()
    deps = dependency_wheels()
    own = project_wheel()
    results: list[dict[str, object]] = []
    cache_refs: dict[str, str] = {}
    for name in names:
        parent = BUILT_ON.get(name)
        # on the parent's cache reference: its inputs name it, whatever the default tag points at now
        result = build(name, cache_refs[parent] if parent else base, deps, own)
        cache_refs[name] = f"localhost/seedcoder-cache/{name}:{result['inputs']}"
        results.append(result)
    index_path = IMAGES_DIR / "index.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    index = node_index({k: v for k, v in index.items() if Path(v).is_file()}, results)
    tmp = index_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    tmp.replace(index_path)
    total = round(time.monotonic() - started, 1)
    for r in results:
        state = "built" if r["built"] else "cached"
        log(f"{r['reference']}: {int(r['size_bytes']) / 2**20:.0f} MiB, {state} in {r['seconds']}s")
    log(f"done in {total}s; archives listed in {index_path}")
    if args.json:
        print(json.dumps({"seconds": total, "base": base, "images": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
