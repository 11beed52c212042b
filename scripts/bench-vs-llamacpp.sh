#!/usr/bin/env bash
# scripts/bench-vs-llamacpp.sh: qengine bench and llama.cpp's llama-bench on the same GGUF files,
# interleaved in one session, for docs/performance.md.
#
#   scripts/bench-vs-llamacpp.sh [-p 512] [-n 64] [-r 5] [-t 2] [--act q8] MODEL.gguf [MODEL.gguf ...]
#
# llama-bench is built once, outside this repository, from the llama.cpp source that ships in the
# llama-cpp-python source distribution on PyPI (pip download; nothing else is fetched), into
# ${QE_LLAMACPP_DIR:-$HOME/.cache/qengine/llamacpp}; it is a separate program and none of its
# code enters qengine. Pin with QE_LLAMACPP_VERSION (default 0.3.36). Needs a built tree
# (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

p=512 n=64 r=5 t=2 act=q8
models=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -p) p="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -r) r="$2"; shift 2 ;;
    -t) t="$2"; shift 2 ;;
    --act) act="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench-vs-llamacpp: unknown flag '$1' (see --help)" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
[[ ${#models[@]} -gt 0 ]] || { echo "bench-vs-llamacpp: give at least one GGUF file (see --help)" >&2; exit 2; }
qengine="${QE_BUILD_DIR:-build}/apps/qengine"
[[ -x "$qengine" ]] || { echo "bench-vs-llamacpp: $qengine not found: run scripts/build.sh first" >&2; exit 1; }

dir="${QE_LLAMACPP_DIR:-$HOME/.cache/qengine/llamacpp}"
version="${QE_LLAMACPP_VERSION:-0.3.36}"
bench="$dir/build/bin/llama-bench"
if [[ ! -x "$bench" ]]; then
  mkdir -p "$dir"
  echo "bench-vs-llamacpp: building llama-bench from llama-cpp-python $version (sdist) in $dir" >&2
  python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$dir" >&2
  tar -xzf "$dir/llama_cpp_python-$version.tar.gz" -C "$dir"
  cmake -S "$dir/llama_cpp_python-$version/vendor/llama.cpp" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >&2
  cmake --build "$dir/build" --target llama-bench -j "$(nproc)" >&2
fi

for m in "${models[@]}"; do
  echo "## $(basename "$m")"
  echo
  echo "qengine (--act $act):"
  echo
  "$qengine" bench -m "$m" -p "$p" -n "$n" -r "$r" -t "$t" --act "$act" 2>/dev/null
  echo
  echo "llama.cpp llama-bench ($version):"
  echo
  "$bench" -m "$m" -p "$p" -n "$n" -r "$r" -t "$t" 2>/dev/null | grep '^|'
  echo
done
