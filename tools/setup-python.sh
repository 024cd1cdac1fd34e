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
# A portable build (x86-64-v3: AVX2, FMA, F16C), never -march=native: a native build
# enables every instruction the build machine advertises (AVX-512, AMX), and the
# wheel then dies with "Illegal instruction" on machines (or VMs) that lack or trap
# them, and it goes into the images that customers run on their own CPUs.
LLAMA_CPP_FLAVOUR="x86-64-v3"
LLAMA_CPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
CACHE_ROOT="${SEEDCODER_CACHE:-$HOME/.cache/seedcoder}"
WHEELS="$CACHE_ROOT/wheels/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION-$LLAMA_CPP_FLAVOUR"

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
  rm -rf "$WHEELS.tmp"; mkdir -p "$WHEELS.tmp"
  CMAKE_ARGS="$LLAMA_CPP_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$VENV/bin/python" -m pip wheel -q --no-deps --no-cache-dir -w "$WHEELS.tmp" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  rm -rf "$WHEELS"; mv "$WHEELS.tmp" "$WHEELS"
fi
# --force-reinstall when another build of the same version is installed (e.g. a native one).
if ! "$VENV/bin/python" -m pip show -q llama-cpp-python 2>/dev/null || [ ! -f "$VENV/.llama-$LLAMA_CPP_FLAVOUR" ]; then
  "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps --no-index --find-links "$WHEELS" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  "$VENV/bin/python" -m pip install -q --find-links "$WHEELS" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION"
  touch "$VENV/.llama-$LLAMA_CPP_FLAVOUR"
fi
"$VENV/bin/python" -m pip install -q -e . --group test --group lint --group bench
# The development tools (local control plane, demo, local servers for tests): their own
# distribution, so the product wheel the images install never carries them.
"$VENV/bin/python" -m pip install -q --no-deps -e ./devtools
# Semgrep for the gateway's background scan pass, in its own environment: its pinned
# dependencies (click, wrapt, opentelemetry, ...) would downgrade the project's.
# The tests find it as $VENV-semgrep/bin/semgrep (SEEDCODER_SEMGREP overrides).
SEMGREP_VERSION="1.185.0"
installed=$("$VENV-semgrep/bin/python" -c 'import importlib.metadata as m; print(m.version("semgrep"))' 2>/dev/null || true)
if [ ! -x "$VENV-semgrep/bin/semgrep" ] || [ "$installed" != "$SEMGREP_VERSION" ]; then
  "$PY" -m venv "$VENV-semgrep"
  "$VENV-semgrep/bin/python" -m pip install -q "semgrep==$SEMGREP_VERSION"
fi
echo "[setup] Python environment ready in $VENV" >&2
