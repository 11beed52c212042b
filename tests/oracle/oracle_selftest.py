#!/usr/bin/env python3
"""Self-test of oracle.py, independent of the engine.

  oracle_selftest.py [--testdata DIR]   (default $QE_TESTDATA)

1. stories260K: greedy decoding from BOS for 200 tokens reproduces models/stories260K.greedy200.txt
   byte for byte (the expected text was produced by llama.cpp, so this pins the llama semantics).
2. The batched forward equals a naive position-by-position forward with a KV cache and complex-number
   RoPE (a second, differently written implementation) on tiny llama, qwen2 (biases, NeoX RoPE, partial
   rotary) and llama3 (rope_freqs) models written here with gguf.GGUFWriter, one of them Q4_0.
3. RoPE-style consistency: un-permuting the Q/K rows of stories260K and switching it to NeoX RoPE gives
   the same logits (the conversion permutation is exactly what separates the two styles).
Exit status: 0 pass, 1 fail, 77 skip (numpy/gguf missing; the stories part alone is skipped when the
test data is absent).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile

try:
    import numpy as np
    import gguf
    import gguf.quants
except ImportError as e:
    print(f"SKIP: {e} (pip install numpy gguf)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402


def naive_forward(m: oracle.Model, tokens: list[int]) -> np.ndarray:
    """One position at a time with a growing KV cache; RoPE as a complex rotation."""
    hp = m.hp
    D, n_rot, group = hp.head_dim, hp.n_rot, hp.n_head // hp.n_head_kv
    half = n_rot // 2
    freqs = np.array([hp.rope_base ** (-2.0 * i / n_rot) for i in range(half)])
    if m.rope_freqs is not None:
        freqs = freqs / m.rope_freqs

    def rope(vec: np.ndarray, pos: int) -> np.ndarray:  # vec: (D,)
        rot = np.exp(1j * pos * freqs)
        out = vec.copy()
        if hp.rope_style == oracle.ROPE_NORMAL:
            z = (vec[0:n_rot:2] + 1j * vec[1:n_rot:2]) * rot
            out[0:n_rot:2], out[1:n_rot:2] = z.real, z.imag
        else:
            z = (vec[:half] + 1j * vec[half:n_rot]) * rot
            out[:half], out[half:n_rot] = z.real, z.imag
        return out

    def norm(x, w):
        return x / np.sqrt(np.dot(x, x) / len(x) + hp.eps) * w

    def lin(w, x, b=None):
        y = w.astype(np.float64) @ x
        return y if b is None else y + b

    cache = [([], []) for _ in m.layers]  # per layer: keys, values, each a list of (n_head_kv, D)
    logits = []
    for pos, tok in enumerate(tokens):
        x = m.tok_embd[tok].astype(np.float64)
        for L, (K, V) in zip(m.layers, cache):
            h = norm(x, L.attn_norm)
            q = lin(L.wq, h, L.bq).reshape(hp.n_head, D)
            k = lin(L.wk, h, L.bk).reshape(hp.n_head_kv, D)
            K.append(np.stack([rope(k[j], pos) for j in range(hp.n_head_kv)]))
            V.append(lin(L.wv, h, L.bv).reshape(hp.n_head_kv, D))
            heads = []
            for hd in range(hp.n_head):
                qh = rope(q[hd], pos)
                s = np.array([np.dot(qh, K[t][hd // group]) for t in range(pos + 1)]) / np.sqrt(D)
                p = np.exp(s - s.max())
                p /= p.sum()
                heads.append(sum(p[t] * V[t][hd // group] for t in range(pos + 1)))
            x = x + lin(L.wo, np.concatenate(heads))
            h = norm(x, L.ffn_norm)
            g = lin(L.w_gate, h)
            x = x + lin(L.w_down, g / (1 + np.exp(-g)) * lin(L.w_up, h))
        logits.append(lin(m.output, norm(x, m.output_norm)))
    return np.array(logits)


@dataclasses.dataclass
class Tiny:
    arch: str = "llama"
    n_vocab: int = 96
    n_embd: int = 64
    n_ff: int = 96
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_rot: int | None = None
    rope_base: float = 10000.0
    rope_freqs: bool = False
    tied: bool = False
    wtype: str = "F32"


def write_tiny(path: str, c: Tiny, seed: int) -> None:
    rng = np.random.default_rng(seed)
    D = c.n_embd // c.n_head
    w = gguf.GGUFWriter(path, c.arch)
    w.add_block_count(c.n_layer)
    w.add_context_length(256)
    w.add_embedding_length(c.n_embd)
    w.add_feed_forward_length(c.n_ff)
    w.add_head_count(c.n_head)
    w.add_head_count_kv(c.n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(c.rope_base)
    if c.n_rot is not None:
        w.add_rope_dimension_count(c.n_rot)
    qtype = gguf.GGMLQuantizationType[c.wtype]

    def mat(name, rows, cols, scale=None):
        a = (rng.standard_normal((rows, cols)) * (scale or cols ** -0.5)).astype(np.float32)
        w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)

    def vec(name, n, base=1.0, spread=0.1):
        w.add_tensor(name, (base + spread * rng.standard_normal(n)).astype(np.float32))

    mat("token_embd.weight", c.n_vocab, c.n_embd, 1.0)
    vec("output_norm.weight", c.n_embd)
    if not c.tied:
        mat("output.weight", c.n_vocab, c.n_embd)
    if c.rope_freqs:
        n_rot = c.n_rot or D
        w.add_tensor("rope_freqs.weight", np.linspace(1.0, 8.0, n_rot // 2).astype(np.float32))
    for i in range(c.n_layer):
        p = f"blk.{i}."
        vec(p + "attn_norm.weight", c.n_embd)
        mat(p + "attn_q.weight", c.n_head * D, c.n_embd)
        mat(p + "attn_k.weight", c.n_head_kv * D, c.n_embd)
        mat(p + "attn_v.weight", c.n_head_kv * D, c.n_embd)
        if c.arch == "qwen2":
            vec(p + "attn_q.bias", c.n_head * D, 0.0, 0.5)
            vec(p + "attn_k.bias", c.n_head_kv * D, 0.0, 0.5)
            vec(p + "attn_v.bias", c.n_head_kv * D, 0.0, 0.5)
        mat(p + "attn_output.weight", c.n_embd, c.n_head * D)
        vec(p + "ffn_norm.weight", c.n_embd)
        mat(p + "ffn_gate.weight", c.n_ff, c.n_embd)
        mat(p + "ffn_up.weight", c.n_ff, c.n_embd)
        mat(p + "ffn_down.weight", c.n_embd, c.n_ff)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def check_close(name: str, a: np.ndarray, b: np.ndarray, tol: float = 1e-5) -> bool:
    rel = float(np.abs(a - b).max() / np.abs(b).max())
    ok = rel <= tol
    print(f"{'PASS' if ok else 'FAIL'}: {name}: rel diff {rel:.2e} (tol {tol:.0e})")
    return ok


def test_stories_greedy(testdata: str) -> bool | None:
    model_path = os.path.join(testdata, "models", "stories260K.gguf")
    expect_path = os.path.join(testdata, "models", "stories260K.greedy200.txt")
    if not (os.path.isfile(model_path) and os.path.isfile(expect_path)):
        print(f"SKIP: stories260K greedy: {model_path} or {expect_path} missing")
        return None
    m = oracle.load_model(model_path)
    got = oracle.decode(m, oracle.greedy(m, [m.bos_id], 200))
    expect = open(expect_path, "rb").read()
    if got == expect:
        print("PASS: stories260K greedy 200 tokens match byte for byte")
        return True
    n = next((i for i, (x, y) in enumerate(zip(got, expect)) if x != y), min(len(got), len(expect)))
    print(f"FAIL: stories260K greedy diverges at byte {n}: got {got[max(0, n - 20):n + 20]!r} "
          f"expected {expect[max(0, n - 20):n + 20]!r}")
    return False


def test_neox_equivalence(testdata: str) -> bool | None:
    model_path = os.path.join(testdata, "models", "stories260K.gguf")
    if not os.path.isfile(model_path):
        return None
    m = oracle.load_model(model_path)
    tokens = [1] + [int(t) for t in np.random.default_rng(3).integers(3, m.hp.n_vocab, 40)]
    ref = oracle.forward(m, tokens)
    hp, D, n_rot = m.hp, m.hp.head_dim, m.hp.n_rot
    # within each head, rows (2i, 2i+1) -> (i, i + n_rot/2); rows past n_rot keep their place
    perm = np.concatenate([np.arange(0, n_rot, 2), np.arange(1, n_rot, 2), np.arange(n_rot, D)])

    def unpermute(w: np.ndarray, n_heads: int) -> np.ndarray:
        return w.reshape(n_heads, D, -1)[:, perm, :].reshape(w.shape)

    for L in m.layers:
        L.wq, L.wk = unpermute(L.wq, hp.n_head), unpermute(L.wk, hp.n_head_kv)
    hp.rope_style = oracle.ROPE_NEOX
    return check_close("stories260K NeoX with un-permuted Q/K equals normal RoPE", oracle.forward(m, tokens), ref)


def test_tiny_models() -> bool:
    cases = [
        ("llama F32 tied", Tiny(tied=True)),
        ("llama Q4_0 partial rotary", Tiny(wtype="Q4_0", n_rot=8)),
        ("llama3 rope_freqs", Tiny(rope_freqs=True, rope_base=500000.0, n_head_kv=1)),
        ("qwen2 F32 biases", Tiny(arch="qwen2", n_head=4, n_head_kv=4)),
        ("qwen2 F16 partial rotary GQA", Tiny(arch="qwen2", wtype="F16", n_rot=8, tied=True)),
    ]
    ok = True
    with tempfile.TemporaryDirectory(prefix="qe_oracle_selftest_") as tmp:
        for i, (name, c) in enumerate(cases):
            path = os.path.join(tmp, f"tiny{i}.gguf")
            write_tiny(path, c, seed=i)
            m = oracle.load_model(path)
            tokens = [int(t) for t in np.random.default_rng(i).integers(0, c.n_vocab, 24)]
            ok &= check_close(f"batched == naive ({name})", oracle.forward(m, tokens), naive_forward(m, tokens))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--testdata", default=os.environ.get("QE_TESTDATA", ""))
    a = ap.parse_args()
    results = [test_stories_greedy(a.testdata), test_neox_equivalence(a.testdata), test_tiny_models()]
    return 1 if any(r is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
