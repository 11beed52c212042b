#!/usr/bin/env bash
# scripts/run.sh: one command from a fresh clone to an answer: installs what is missing, builds,
# fetches the default model (SmolLM2-135M-Instruct Q4_1) and asks it a question.
#
#   ./scripts/run.sh                          # answers "What is the capital of France?"
#   ./scripts/run.sh -p "Tell me a joke"      # extra arguments go to `qengine complete --chat`
#   ./scripts/run.sh chat                     # interactive chat (further arguments go to it)
set -euo pipefail
cd "$(dirname "$0")/.."

# QE_NO_SETUP=1 skips installing and building (the test suite uses it on a built tree).
if [[ "${QE_NO_SETUP:-0}" != 1 ]]; then
  ./scripts/install-deps.sh
  ./scripts/build.sh
fi
model="$(./scripts/fetch-model.sh)"
qengine="${QE_BUILD_DIR:-build}/apps/qengine"

if [[ "${1:-}" == "chat" ]]; then
  shift
  exec "$qengine" chat -m "$model" "$@"
fi
if (($# == 0)); then
  set -- -p "What is the capital of France?" --temp 0 -n 128
fi
exec "$qengine" complete -m "$model" --chat "$@"
