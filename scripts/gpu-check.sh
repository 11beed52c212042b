#!/usr/bin/env bash
# scripts/gpu-check.sh: everything a short GPU window needs, in one command.
#
#   scripts/gpu-check.sh --bundle   here, without a GPU: build the GPU tools for sm_90 and pack
#                                   them with the shared libraries they need into gpu-bundle/
#                                   (ignored by git, at most 60 MB), ready to carry
#   scripts/gpu-check.sh            on the GPU machine: run every check from gpu-bundle/
#   scripts/gpu-check.sh --no-gpu   dry run: the bundle, its size, the simulator tests, and the
#                                   device steps skipped (each says so)
#
# The GPU machine is bare (CUDA 13.0, no network, none of our Debian packages), so the tools
# are built here (-DQE_CUDA_ARCHS=90, libstdc++ and cudart linked statically) and carried.
# Each step runs under a timeout and the script goes on past failures. Full logs and JSON go
# to $OUT when set (the device tool's folder), else ./gpu-check-out/; a short table is printed last.
set -uo pipefail
cd "$(dirname "$0")/.."

mode=run
case "${1:-}" in
  --bundle) mode=bundle ;;
  --no-gpu) mode=dry ;;
  "") ;;
  -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
  *) echo "gpu-check: unknown option '$1' (use --bundle, --no-gpu or nothing)" >&2; exit 2 ;;
esac

bundle=gpu-bundle
build=${QE_GPU_BUILD_DIR:-build-gpu}

make_bundle() {
  local nvcc
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  [[ -x $nvcc ]] || { echo "gpu-check: nvcc not found (install the CUDA toolkit)" >&2; return 1; }
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQE_CUDA=ON -DQE_CUDA_ARCHS=90 \
    -DCMAKE_CUDA_COMPILER="$nvcc" >/dev/null || return 1
  cmake --build "$build" -j "$(nproc)" --target qe_gpu_test qe_gpu_bench || return 1
  rm -rf "$bundle"
  mkdir -p "$bundle/bin" "$bundle/lib"
  cp "$build/cuda/qe_gpu_test" "$build/cuda/qe_gpu_bench" "$bundle/bin/"
  # Shared libraries beyond glibc's own that the tools need (libgomp for the reference kernels).
  for b in "$bundle"/bin/*; do
    ldd "$b" | awk '/=> \// {print $3}' | grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
      while read -r lib; do cp -L "$lib" "$bundle/lib/"; done
  done
  git rev-parse HEAD >"$bundle/COMMIT" 2>/dev/null || true
  local mb
  mb=$(du -sm "$bundle" | cut -f1)
  echo "gpu-check: $bundle/ holds $(ls "$bundle/bin" | tr '\n' ' ')and $(ls "$bundle/lib" | wc -l) libraries, ${mb} MB"
  if ((mb > 60)); then echo "gpu-check: the bundle is over 60 MB" >&2; return 1; fi
}

if [[ $mode == bundle ]]; then
  make_bundle
  exit $?
fi

out=${OUT:-gpu-check-out}
mkdir -p "$out"
declare -a rows=()
row() { rows+=("$(printf '%-34s %-6s %s' "$1" "$2" "$3")"); }

# step NAME SECONDS LOG CMD...: runs CMD under a timeout, logging to $out/LOG; sets $rc.
step() {
  local name=$1 secs=$2 log=$3
  shift 3
  echo "== $name" | tee -a "$out/summary.log"
  local t0=$SECONDS
  timeout --kill-after=10 "$secs" "$@" >"$out/$log" 2>&1
  rc=$?
  echo "   exit $rc after $((SECONDS - t0)) s (log: $log)" | tee -a "$out/summary.log"
  tail -n 5 "$out/$log"
}

if [[ $mode == dry ]]; then
  make_bundle >"$out/bundle.log" 2>&1 && row "bundle (sm_90 tools + libs)" ok "$(tail -n 1 "$out/bundle.log" | sed 's/^gpu-check: //')" ||
    row "bundle (sm_90 tools + libs)" FAIL "see bundle.log"
  cmake --build "$build" -j "$(nproc)" --target cuda_sim_tests >"$out/sim_build.log" 2>&1
  step "simulator kernel tests" 600 sim_tests.log "$build/tests/cuda_sim_tests"
  row "simulator kernel tests" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" "$(grep -E 'tests? (passed|failed)|PASSED|FAILED' "$out/sim_tests.log" | tail -n 1)"
  step "GPU kernel tests (expects a skip)" 60 gpu_test.log "$bundle/bin/qe_gpu_test" --quick
  row "GPU kernel tests" "$([[ $rc == 77 ]] && echo skip || echo FAIL)" "no device here (exit $rc; 77 = skip)"
  for s in "compute-sanitizer memcheck" "compute-sanitizer racecheck" "GEMV benchmark" "ncu"; do row "$s" skip "--no-gpu"; done
else
  [[ -x $bundle/bin/qe_gpu_test ]] || { echo "gpu-check: no $bundle/ (run scripts/gpu-check.sh --bundle first and carry it)" >&2; exit 1; }
  export LD_LIBRARY_PATH="$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "bundle built from $(cat "$bundle/COMMIT" 2>/dev/null || echo unknown)" | tee "$out/summary.log"
  step "nvidia-smi" 30 nvidia-smi.log nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem --format=csv \
    >>"$out/nvidia-smi.log" 2>&1
  card=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1)
  row "device" "$([[ -n $card ]] && echo ok || echo FAIL)" "${card:-nvidia-smi failed}"
  row "CUDA (nvcc on the machine)" info "$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'no nvcc')"

  step "GPU kernel tests" 300 gpu_test.log "$bundle/bin/qe_gpu_test"
  row "GPU kernel tests" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" "$(grep -c '^PASS' "$out/gpu_test.log") passed, $(grep -c '^FAIL' "$out/gpu_test.log") failed (exit $rc)"

  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
      step "compute-sanitizer $tool" 150 "sanitizer_$tool.log" compute-sanitizer --tool "$tool" --error-exitcode 9 \
        "$bundle/bin/qe_gpu_test" --quick
      row "compute-sanitizer $tool" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" \
        "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/sanitizer_$tool.log" | tail -n 1) (exit $rc)"
    done
  else
    row "compute-sanitizer" skip "not on this machine"
  fi

  step "GEMV benchmark" 180 gpu_bench.log "$bundle/bin/qe_gpu_bench" --json "$out/gpu_bench.json"
  row "GEMV benchmark" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" "$(grep -o 'copy probe.*' "$out/gpu_bench.log")"
  if [[ $rc == 0 ]]; then
    # Best variant per model and batch.
    # Best variant per model, type and batch among the engine's setting (4 launches a layer, overlapped).
    best=$(awk '$1 ~ /^llama/ && $3 == "4/layer+" { key = $1 " " $2 " " $5; if (!(key in t) || $6 < t[key]) { t[key] = $6; l[key] = $0 } }
                END { for (k in l) print l[k] }' "$out/gpu_bench.log" | sort -k1,2 -k5n)
    while read -r m ty _ v b us gbs pct tps; do
      [[ -n $m ]] && row "  $m $ty b$b $v" info "$us us/step, $gbs GB/s, $pct of copy, $tps tok/s (GEMVs only)"
    done <<<"$best"
  fi

  # Hardware counters of one layer's GEMVs (qkv, o, gate_up, down) with the engine's variant
  # (Firecracker machines only: gVisor has no counters).
  if command -v ncu >/dev/null; then
    for ty in q4_0 q8_0; do
      step "ncu: one layer's GEMVs, $ty" 120 "ncu_$ty.log" ncu --clock-control none -k regex:gemv_a16 --launch-count 4 \
        --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats \
        --section LaunchStats --section SchedulerStats "$bundle/bin/qe_gpu_bench" --profile "$ty"
      row "ncu: one layer, $ty" "$([[ $rc == 0 ]] && echo ok || echo FAIL)" \
        "DRAM % per kernel: $(grep -E '^ +DRAM Throughput' "$out/ncu_$ty.log" | awk '{printf "%s ", $NF}')(exit $rc)"
    done
  else
    row "ncu" skip "not on this machine"
  fi
fi

for s in "end to end GPU vs CPU (synth)" "stories260K greedy on the GPU" "qengine bench --device cuda"; do
  row "$s" todo "needs the engine's CUDA backend (issue 11)"
done

{
  echo
  printf '%-34s %-6s %s\n' "check" "result" "detail"
  printf '%s\n' "${rows[@]}"
} | tee -a "$out/summary.log"
