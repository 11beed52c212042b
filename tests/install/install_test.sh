#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds examples/embed.c against it with
# find_package(qengine) and runs it on a synthetic model: proves the installed package works.
#   install_test.sh SOURCE_DIR BUILD_DIR QENGINE_BINARY
set -euo pipefail
src="$1"; build="$2"; qengine="$3"
work="$(mktemp -d "${TMPDIR:-/tmp}/qe-install-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/qengine/qengine.h"
test -f "$work/prefix/lib/pkgconfig/qengine.pc" || test -f "$work/prefix/lib64/pkgconfig/qengine.pc"
cmake -S "$src/examples" -B "$work/example" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/example" >/dev/null
# The example must resolve libengine from the install prefix, not the build tree.
# (ldd's output is captured first: `ldd | grep -q` under pipefail fails when grep exits
# early and ldd dies of SIGPIPE, which made this test flaky.)
libs="$(ldd "$work/example/embed")"
[[ "$libs" == *"$work/prefix/"*libengine* ]] || { echo "embed does not link the installed libengine"; echo "$libs"; exit 1; }

"$qengine" synth --preset tiny-llama --type Q4_0 --seed 3 -o "$work/tiny.gguf" 2>/dev/null
out="$("$work/example/embed" "$work/tiny.gguf" "hello" 16)"
echo "embed output: $out"
[[ -n "$out" ]] || { echo "embed generated no text"; exit 1; }

# pkg-config path works too (dynamic link).
pcdir="$(dirname "$(find "$work/prefix" -name qengine.pc -print -quit)")"
PKG_CONFIG_PATH="$pcdir" cc -o "$work/embed_pc" "$src/examples/embed.c" $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs qengine) \
  -Wl,-rpath,"$work/prefix/lib"
"$work/embed_pc" "$work/tiny.gguf" "hello" 8 >/dev/null
echo "install test passed"
