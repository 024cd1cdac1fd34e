"""Run a real Prometheus on a loopback port, scraping given targets, for tests and the demo.

Why: the SLO autoscaler queries Prometheus' HTTP API, and the dashboards and rules
must only use metric names that the gateway and Triton really export. Both are
checked against the real server (Debian's ``prometheus`` package), started here
with a generated scrape configuration, waited on until ready, queried and stopped.
Only loopback addresses are used.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from seedcoder_dev.devcluster.tools import prometheus_path


class PrometheusError(RuntimeError):
    """Prometheus did not start, or answered a query with an error; the message says why."""


@dataclass(frozen=True)
class ScrapeTarget:
    """One ``host:port`` to scrape as ``job``, with extra labels put on every series."""

    job: str
    address: str
    metrics_path: str = "/metrics"
    labels: dict[str, str] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape_config(
    targets: list[ScrapeTarget], scrape_interval: str, rule_files: list[Path]
) -> dict[str, Any]:
    """The ``prometheus.yml`` document for ``targets`` (one scrape job per target)."""
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": t.job,
                "metrics_path": t.metrics_path,
                "scrape_interval": scrape_interval,
                "static_configs": [{"targets": [t.address], "labels": dict(t.labels)}],
            }
            for t in targets
        ],
    }


class PrometheusServer:
    """A Prometheus process; use as a context manager or call :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        workdir: Path,
        targets: list[ScrapeTarget],
        *,
        scrape_interval: str = "1s",
        rule_files: list[Path] | None = None,
        port: int | None = None,
        binary: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.rule_files = list(rule_files or [])
        self.port = port or _free_port()
        self.binary = binary
        self.log_path = workdir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> PrometheusServer:
        """Start the server and wait until ``/-/ready`` answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(self.targets, self.scrape_interval, self.rule_files)))
        argv = [
            str(self.binary or prometheus_path()),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=info",
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.workdir,
                env={**os.environ},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self._proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        self.stop()
        raise PrometheusError(f"prometheus not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    # -- HTTP API ---------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``; returns ``data``, raises :class:`PrometheusError` on an error status."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise PrometheusError(f"{path} {params}: HTTP {exc.code}: {detail}") from exc
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; the result vector (``[{"metric": {...}, "value": [t, "v"]}, ...]``)."""
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def metric_names(self) -> set[str]:
        """Every metric name in the database."""
        return set(self.api("label/__name__/values"))

    def active_targets(self) -> list[dict[str, Any]]:
        targets: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return targets

    def wait_scraped(self, timeout: float = 30.0, scrapes: int = 2) -> None:
        """Wait until every target has been scraped successfully ``scrapes`` times in a row."""
        deadline = time.monotonic() + timeout
        good: dict[str, int] = {}
        last: dict[str, str] = {}
        while time.monotonic() < deadline:
            targets = self.active_targets()
            for t in targets:
                key = t["scrapeUrl"]
                if t["health"] == "up" and t["lastScrape"] != last.get(key):
                    good[key] = good.get(key, 0) + 1
                elif t["health"] != "up":
                    good[key] = 0
                last[key] = t["lastScrape"]
            if len(targets) == len(self.targets) and all(
                good.get(t["scrapeUrl"], 0) >= scrapes for t in targets
            ):
                return
            time.sleep(0.25)
        raise PrometheusError(f"targets not scraped within {timeout:.0f}s: {self.active_targets()}")
