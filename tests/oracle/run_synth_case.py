#!/usr/bin/env python3
"""One synthetic-model oracle case: `qengine synth` writes a GGUF, then check_logits.py judges it.

  run_synth_case.py --qengine EXE --dump EXE --preset tiny-llama --type Q4_K --workdir DIR
                    [--seed 1] [--random-tokens 64] [--token-seed 0] [--rel-tol 1e-3] [--argmax-min-margin 0]

Exit status as check_logits.py: 0 pass, 1 fail (synth failing is a failure), 77 skip.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_logits  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qengine", required=True, help="the qengine command (has the synth subcommand)")
    ap.add_argument("--dump", required=True, help="engine logits dumper (qe_dump_logits)")
    ap.add_argument("--preset", required=True, help="synth architecture preset, e.g. tiny-llama")
    ap.add_argument("--type", required=True, help="weight type, e.g. Q4_K")
    ap.add_argument("--workdir", required=True, help="directory for the generated GGUF")
    ap.add_argument("--seed", type=int, default=1, help="synth weight seed")
    ap.add_argument("--random-tokens", type=int, default=64)
    ap.add_argument("--token-seed", type=int, default=0)
    ap.add_argument("--rel-tol", type=float, default=1e-3)
    ap.add_argument("--argmax-min-margin", type=float, default=0.0)
    a = ap.parse_args(argv)

    # Skip before spending time on synth when the oracle cannot run at all.
    try:
        check_logits.import_deps()
    except ImportError as e:
        print(f"SKIP: {e}", flush=True)
        return check_logits.EXIT_SKIP

    os.makedirs(a.workdir, exist_ok=True)
    gguf_path = os.path.join(a.workdir, f"synth_{a.preset}_{a.type}_s{a.seed}.gguf")
    cmd = [a.qengine, "synth", "--preset", a.preset, "--type", a.type, "--seed", str(a.seed), "-o", gguf_path]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        print(f"FAIL: synth exited with {proc.returncode}: {' '.join(cmd)}\n{tail}", flush=True)
        return check_logits.EXIT_FAIL
    rc = check_logits.main([
        "--dump", a.dump, "--model", gguf_path,
        "--random-tokens", str(a.random_tokens), "--seed", str(a.token_seed),
        "--rel-tol", str(a.rel_tol), "--argmax-min-margin", str(a.argmax_min_margin),
    ])
    # Synthetic files are cheap to regenerate: keep one only when it is needed to debug a failure.
    if rc == check_logits.EXIT_PASS:
        os.remove(gguf_path)
    else:
        print(f"  model kept at {gguf_path}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
