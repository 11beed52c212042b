#!/usr/bin/env python3
"""Compares the engine's logits with the NumPy oracle's for one model and one token sequence.

  check_logits.py --dump EXE --model FILE [--tokens "..." | --random-tokens 64 --seed S] [--rel-tol 1e-3]

Runs `EXE -m FILE --tokens "<ids>" -o OUT.f32` (float32 [n_tokens, n_vocab] row-major), computes the
same with oracle.py and requires
  * rel_err = max over positions of max|ours - ref| / max|ref| <= rel-tol  (max|ref| over the whole run),
  * the same argmax at every position (positions whose reference top-2 margin is below
    --argmax-min-margin * max|ref| may be exempted; the default 0 exempts nothing).
Prints a one-line summary. Exit status: 0 pass, 1 fail, 77 skip (model file missing, numpy or gguf
not importable). A bare --model file name that does not exist is looked up in $QE_MODELS, then
$HOME/.cache/qengine, so tests can name the default model without knowing where it was fetched.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

EXIT_PASS, EXIT_FAIL, EXIT_SKIP = 0, 1, 77


def _skip(msg: str) -> int:
    print(f"SKIP: {msg}", flush=True)
    return EXIT_SKIP


def _fail(msg: str) -> int:
    print(f"FAIL: {msg}", flush=True)
    return EXIT_FAIL


def model_search_dirs() -> list[str]:
    dirs = []
    if os.environ.get("QE_MODELS"):
        dirs.append(os.environ["QE_MODELS"])
    dirs.append(os.path.join(os.path.expanduser("~"), ".cache", "qengine"))
    return dirs


def resolve_model(name: str) -> tuple[str | None, list[str]]:
    """Returns (existing path or None, the places that were tried)."""
    path = os.path.expanduser(os.path.expandvars(name))
    if os.path.isfile(path):
        return path, [path]
    tried = [path]
    if os.path.dirname(name) == "":
        for d in model_search_dirs():
            p = os.path.join(d, name)
            tried.append(p)
            if os.path.isfile(p):
                return p, tried
    return None, tried


def import_deps():
    """Returns (numpy, oracle module) or raises ImportError naming what is missing."""
    missing = []
    try:
        import numpy  # noqa: F401
    except ImportError:
        missing.append("numpy")
    try:
        import gguf  # noqa: F401
        import gguf.quants  # noqa: F401
    except ImportError:
        missing.append("gguf")
    if missing:
        raise ImportError(f"Python package(s) not importable by {sys.executable}: {', '.join(missing)} "
                          f"(pip install {' '.join(missing)})")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import numpy as np
    import oracle
    return np, oracle


def compare(np, ours, ref, rel_tol: float, argmax_min_margin: float) -> tuple[bool, str]:
    """ours, ref: (T, n_vocab) float32. Returns (passed, one-line summary)."""
    T = ref.shape[0]
    ref_scale = float(np.abs(ref).max())
    if not np.all(np.isfinite(ours)):
        bad = np.argwhere(~np.isfinite(ours))[0]
        return False, f"non-finite engine logit at position {bad[0]} token {bad[1]}"
    err_pos = np.abs(ours.astype(np.float64) - ref).max(axis=1)          # (T,)
    worst = int(err_pos.argmax())
    rel = float(err_pos[worst]) / max(ref_scale, 1e-30)
    top2 = np.sort(ref, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]                                       # (T,) reference top-2 margin
    m_pos = int(margin.argmin())
    am_ours, am_ref = ours.argmax(axis=1), ref.argmax(axis=1)
    mismatch = np.nonzero(am_ours != am_ref)[0]
    exempt = margin < argmax_min_margin * ref_scale
    hard = [int(t) for t in mismatch if not exempt[t]]
    ok = rel <= rel_tol and not hard
    line = (f"rel_err={rel:.3e} (tol {rel_tol:.1e}) worst_pos={worst} max|ref|={ref_scale:.4g} "
            f"argmax_mismatch={len(mismatch)}/{T}"
            + (f" (exempt near-ties {len(mismatch) - len(hard)})" if len(mismatch) != len(hard) else "")
            + f" ref_min_top2_margin={float(margin[m_pos]):.4g}@{m_pos}")
    if hard:
        t = hard[0]
        line += (f"; first argmax mismatch at pos {t}: ours {int(am_ours[t])} ref {int(am_ref[t])} "
                 f"(ref margin {float(margin[t]):.4g})")
    return ok, line


def run(args) -> int:
    try:
        np, oracle = import_deps()
    except ImportError as e:
        return _skip(str(e))
    model_path, tried = resolve_model(args.model)
    if model_path is None:
        return _skip(f"model file not found: tried {', '.join(tried)} (scripts/fetch-model.sh fetches the default model)")
    if not (os.path.isfile(args.dump) and os.access(args.dump, os.X_OK)):
        return _fail(f"logits dumper '{args.dump}' is not an executable file")

    model = oracle.load_model(model_path)
    n_vocab = model.hp.n_vocab
    if args.tokens is not None:
        tokens = oracle._parse_ids(args.tokens)
        what = "tokens"
    else:
        rng = np.random.default_rng(args.seed)
        tokens = [int(t) for t in rng.integers(0, n_vocab, size=args.random_tokens)]
        what = f"random seed={args.seed}"
    if not tokens:
        return _fail("empty token sequence")
    bad = [t for t in tokens if not 0 <= t < n_vocab]
    if bad:
        return _fail(f"token id {bad[0]} outside the vocabulary [0, {n_vocab})")
    ids = " ".join(str(t) for t in tokens)
    label = f"{os.path.basename(model_path)} T={len(tokens)} {what}"

    with tempfile.TemporaryDirectory(prefix="qe_check_logits_") as tmp:
        out = os.path.join(args.keep or tmp, "ours.f32")
        cmd = [args.dump, "-m", model_path, "--tokens", ids, "-o", out]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            return _fail(f"{label}: dumper ran past {args.timeout}s: {' '.join(cmd)}")
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip()[-2000:]
            return _fail(f"{label}: dumper exited with {proc.returncode}: {' '.join(cmd[:3])} ...\n{tail}")
        expect = len(tokens) * n_vocab * 4
        size = os.path.getsize(out) if os.path.isfile(out) else -1
        if size != expect:
            return _fail(f"{label}: {out} has {size} bytes, expected {expect} "
                         f"(float32 [{len(tokens)}, {n_vocab}])")
        ours = np.fromfile(out, dtype=np.float32).reshape(len(tokens), n_vocab)
        ref = oracle.forward(model, tokens)
        if args.keep:
            ref.tofile(os.path.join(args.keep, "ref.f32"))

    ok, line = compare(np, ours, ref, args.rel_tol, args.argmax_min_margin)
    print(f"{'PASS' if ok else 'FAIL'}: {label} {line}", flush=True)
    if not ok:
        print(f"  tokens: {ids}", flush=True)
    return EXIT_PASS if ok else EXIT_FAIL


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, help="engine logits dumper (qe_dump_logits)")
    ap.add_argument("--model", required=True, help="GGUF path, or a bare file name looked up in $QE_MODELS, ~/.cache/qengine")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--tokens", help='token ids, e.g. "1 2 3"')
    src.add_argument("--random-tokens", type=int, metavar="N", help="N uniform random ids in [0, n_vocab)")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-tokens (numpy default_rng)")
    ap.add_argument("--rel-tol", type=float, default=1e-3, help="bound on max|ours-ref| / max|ref|")
    ap.add_argument("--argmax-min-margin", type=float, default=0.0, metavar="M",
                    help="exempt positions whose reference top-2 margin < M * max|ref| from the argmax check")
    ap.add_argument("--timeout", type=float, default=600, help="seconds the dumper may run")
    ap.add_argument("--keep", metavar="DIR", help="write ours.f32 and ref.f32 into DIR for inspection")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.random_tokens is not None and args.random_tokens <= 0:
        return _fail("--random-tokens must be positive")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
