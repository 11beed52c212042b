#!/usr/bin/env bash
# scripts/build.sh: configures and builds qengine (Release) into ${QE_BUILD_DIR:-build}.
# Extra arguments go to cmake's configure step, e.g. -DQE_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${QE_BUILD_DIR:-build}"
# CMake finds nvcc on PATH; the toolkit's usual home is not always on it.
if ! command -v nvcc >/dev/null 2>&1 && [[ -x /usr/local/cuda/bin/nvcc ]]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
fi
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
