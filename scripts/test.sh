#!/usr/bin/env bash
# scripts/test.sh: installs what is missing, builds, and runs every test through ctest: the
# Release build (all tests, CUDA compiled when nvcc exists; GPU tests skip without a device),
# then the CPU tests again under AddressSanitizer + UndefinedBehaviorSanitizer, and the CUDA kernels
# on the SIMT simulator under ThreadSanitizer.
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

# The CUDA kernels run on the SIMT simulator with every thread of a block a real thread: under
# ThreadSanitizer a missing barrier is a reported race. Only that test binary is built.
echo "== TSan build (CUDA kernels on the SIMT simulator)" >&2
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQE_SANITIZE_THREAD=ON -DQE_CUDA=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target cuda_sim_tests
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/tests/cuda_sim_tests --gtest_brief=1
