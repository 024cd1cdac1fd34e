#!/usr/bin/env bash
# Creates the project's virtual environment with every Python dependency.
#
# Why a script: llama-cpp-python compiles llama.cpp from source (about four
# minutes on two cores), so its wheel is built once and kept in a cache outside
# the repository, keyed by version; later set-ups install it in seconds.
set -euo pipefail
PY="${1:-python3}"
VENV="${2:-.venv}"
LLAMA_CPP_PYTHON_VERSION="0.3.36"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
WHEELS="$CACHE_ROOT/wheels/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"

"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "error: Python 3.11 or newer is required (found $("$PY" --version))" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -U "pip>=25.1"

mkdir -p "$CACHE_ROOT"
free_kib=$(df -Pk "$CACHE_ROOT" | awk 'NR==2 {print $4}')
if [ "${free_kib:-0}" -lt $((3 * 1024 * 1024)) ]; then
  echo "error: setting up needs about 3 GiB free under $CACHE_ROOT (Python packages, llama.cpp, the demo model); only $((free_kib / 1024)) MiB are free. Free some space and run again." >&2
  exit 1
fi
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "[setup] building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION once (compiles llama.cpp: about 4 minutes on 2 cores)" >&2
  mkdir -p "$WHEELS.tmp"
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$VENV/bin/python" -m pip wheel -q --no-deps -w "$WHEELS.tmp" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  rm -rf "$WHEELS"; mv "$WHEELS.tmp" "$WHEELS"
fi
"$VENV/bin/python" -m pip install -q --find-links "$WHEELS" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
"$VENV/bin/python" -m pip install -q -e . --group test --group lint --group bench
echo "[setup] Python environment ready in $VENV" >&2
