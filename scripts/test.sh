#!/usr/bin/env bash
# scripts/test.sh: installs what is missing, builds, and runs every test through ctest: the
# Release build (all tests, CUDA compiled when nvcc exists; GPU tests skip without a device),
# then the CPU tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
# The default model feeds the oracle and end-to-end tests; they skip, naming it, if it is absent.
./scripts/fetch-model.sh >/dev/null || echo "test: warning: could not fetch the default model; its tests will skip" >&2

jobs="$(nproc)"
echo "== Release build" >&2
QE_BUILD_DIR=build ./scripts/build.sh
(cd build && ctest --output-on-failure -j "$jobs")
./scripts/test-neon.sh  # the kernel tests again, cross-compiled for aarch64, under qemu

echo "== ASan+UBSan build (CPU tests)" >&2
QE_BUILD_DIR=build-asan ./scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQE_SANITIZE=ON -DQE_CUDA=OFF
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j "$jobs" -L unit)
