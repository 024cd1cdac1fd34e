"""``seedcoder gateway``: read the configuration, then serve with uvicorn (uvloop, httptools).

Settings come from the command line, else the environment, else defaults:

* ``--config`` / ``SEEDCODER_GATEWAY_CONFIG`` (default ``/etc/seedcoder/gateway/gateway.json``)
* ``--host`` / ``SEEDCODER_GATEWAY_HOST`` (default ``0.0.0.0`` in a pod; tests pass ``127.0.0.1``)
* ``--port`` / ``SEEDCODER_GATEWAY_PORT`` (default 8000)
* ``SEEDCODER_GATEWAY_API_KEYS_DIR`` and ``SEEDCODER_GATEWAY_FEEDBACK_DIR`` override
  those two paths of the file (local runs); ``open_mode`` can only come from the file.
* ``SEEDCODER_GATEWAY_FEEDBACK_WRITER``: this replica's name in its feedback file
  names (the pod name, from the downward API; default: the host name).
* ``--log-level`` / ``SEEDCODER_GATEWAY_LOG_LEVEL`` (default ``info``)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from seedcoder.api.gateway_config import GatewayConfig

ENV = "SEEDCODER_GATEWAY_"


def load_config(path: str) -> GatewayConfig:
    cfg = GatewayConfig.model_validate_json(Path(path).read_bytes())
    overrides = {}
    if keys := os.environ.get(ENV + "API_KEYS_DIR"):
        overrides["api_keys_dir"] = keys
    if fb := os.environ.get(ENV + "FEEDBACK_DIR"):
        overrides["feedback_dir"] = fb
    if writer := os.environ.get(ENV + "FEEDBACK_WRITER"):
        overrides["feedback_writer"] = writer
    return cfg.model_copy(update=overrides) if overrides else cfg


def parse_args(argv: list[str]) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="seedcoder gateway", description="Run the completion gateway.")
    parser.add_argument("--config", default=env(ENV + "CONFIG", "/etc/seedcoder/gateway/gateway.json"))
    parser.add_argument("--host", default=env(ENV + "HOST", "0.0.0.0"))  # noqa: S104 - a pod listens on all
    parser.add_argument("--port", type=int, default=int(env(ENV + "PORT", "8000")))
    parser.add_argument("--log-level", default=env(ENV + "LOG_LEVEL", "info"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = load_config(args.config)
    except (OSError, ValidationError) as exc:
        print(f"seedcoder gateway: cannot load the configuration {args.config}: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from seedcoder.gateway.app import create_app

    uvicorn.run(
        create_app(cfg),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=args.log_level.lower(),
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
