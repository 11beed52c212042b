#!/usr/bin/env bash
# scripts/accuracy-table.sh: perplexity and KL-divergence of every --act x --kv combination against
# the f32-activation, f16-KV, float-attention run, as the markdown table in docs/accuracy.md.
#
#   scripts/accuracy-table.sh [-m MODEL] [-f TEXT] [-c CTX] [--chunks N] [-t THREADS]
#
# Defaults: the default model (scripts/fetch-model.sh), WikiText-2 test from $QE_TESTDATA, -c 2048,
# 20 windows, all cores. The baseline logits (about 100 KB per scored token) go to a temporary
# directory that is removed at the end. Needs a built tree (scripts/build.sh) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

model="${QE_MODELS:-$HOME/.cache/qengine}/SmolLM2-135M-Instruct.Q4_1.gguf"
text="${QE_TESTDATA:-../shared/testdata}/text/wikitext-2-test.raw"
ctx=2048 chunks=20 threads=0
qengine="${QE_BUILD_DIR:-build}/apps/qengine"
while [[ $# -gt 0 ]]; do
  case "$1" in
    -m) model="$2"; shift 2 ;;
    -f) text="$2"; shift 2 ;;
    -c) ctx="$2"; shift 2 ;;
    --chunks) chunks="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "accuracy-table: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ -x "$qengine" ]] || { echo "accuracy-table: $qengine not found: run scripts/build.sh first" >&2; exit 1; }
[[ -f "$model" ]] || { echo "accuracy-table: model $model not found (scripts/fetch-model.sh)" >&2; exit 1; }
[[ -f "$text" ]] || { echo "accuracy-table: text $text not found" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/qe-accuracy.XXXXXX")"
trap 'rm -rf "$work"' EXIT
common=(perplexity -m "$model" -f "$text" -c "$ctx" --chunks "$chunks" -t "$threads" --output json)

echo "accuracy-table: baseline (--act f32 --kv f16 --attn float)" >&2
"$qengine" "${common[@]}" --act f32 --kv f16 --attn float --save-logits "$work/base.bin" > "$work/base.json"

echo "| --act | --kv | attention | perplexity | Δppl | mean KLD | KLD p99 | top-1 agree |"
echo "|---|---|---|---:|---:|---:|---:|---:|"
for act in f32 q8; do
  for kv in f16 q8 q4; do
    attn=int; [[ "$kv" == f16 ]] && attn=float
    echo "accuracy-table: --act $act --kv $kv" >&2
    "$qengine" "${common[@]}" --act "$act" --kv "$kv" --kl-divergence "$work/base.bin" > "$work/$act-$kv.json"
    python3 - "$work/$act-$kv.json" "$act" "$kv" "$attn" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"| {sys.argv[2]} | {sys.argv[3]} | {sys.argv[4]} | {d['ppl']:.4f} ± {d['ppl_err']:.4f} | {d['delta_ppl']:+.4f} | "
      f"{d['kld_mean']:.5f} | {d['kld_p99']:.5f} | {100 * d['top1_agree']:.2f}% |")
EOF
  done
done
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(f\"\nbaseline perplexity {d['ppl']:.4f} over {d['n_tokens']} tokens ({d['n_chunks']} windows of {d['n_ctx']})\")" "$work/base.json"
