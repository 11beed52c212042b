#!/usr/bin/env bash
# scripts/test-neon.sh: cross-compiles the kernel library and kernel tests for aarch64 and runs
# them under qemu-aarch64 -cpu max, so the neon, neon-dotprod and neon-i8mm tables are checked
# against the reference and the A8 specification on an x86 host. Needs g++-aarch64-linux-gnu,
# qemu-user and googletest (scripts/install-deps.sh). Build dir: build-neon/ (or QE_NEON_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."

build="${QE_NEON_BUILD_DIR:-build-neon}"
jobs="${QE_JOBS:-$(nproc)}"
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "test-neon: error: $tool not found; run scripts/install-deps.sh" >&2; exit 1; }
done

echo "== aarch64 cross build (kernels_tests) in $build" >&2
cmake -S kernels/neon/cross -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/aarch64-linux-gnu.cmake" >/dev/null
cmake --build "$build" -j "$jobs" --target kernels_tests

bin="$build/kernels_tests"
qemu() { local cpu="$1"; shift; qemu-aarch64 -cpu "$cpu" -L /usr/aarch64-linux-gnu "$bin" "$@"; }

# qemu's "max" cpu has every extension it emulates (dotprod, i8mm): the harness must then run
# every Arm table, which also proves the hwcaps detection in kernels/cpu/dispatch.cpp sees them.
listed="$(qemu max --gtest_list_tests)"
for isa in ${QE_NEON_ISAS:-neon neon_dotprod neon_i8mm}; do
  grep -q "A8MatchesSpecBitForBit/$isa " <<< "$listed" || {
    echo "test-neon: error: the $isa table is not tested under qemu -cpu max (not detected or not built)" >&2
    exit 1
  }
done

echo "== kernels_tests under qemu-aarch64 -cpu max" >&2
qemu max --gtest_brief=1 "$@"
# A core without dotprod/i8mm (Cortex-A53): dispatch must settle on plain NEON and its table run.
echo "== dispatch and the neon table under qemu-aarch64 -cpu cortex-a53" >&2
qemu cortex-a53 --gtest_brief=1 --gtest_filter='Dispatch.*:*IsaKernels*/neon:*IsaKernels*/scalar'
