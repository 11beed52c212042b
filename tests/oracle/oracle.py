#!/usr/bin/env python3
"""Independent NumPy reference forward pass for GGUF llama/qwen2 models (the end-to-end oracle).

Written from the model semantics, not from any engine source: weights are dequantized with
gguf.quants.dequantize (never a dequantizer of our own), activations stay in float64 so the
reference is more accurate than anything it judges, and every position of the sequence is
computed in one batched pass (causal mask, no KV cache).

  oracle.py --model FILE --tokens "1 2 3" --out ref.f32   # float32 logits, [n_tokens, n_vocab] row-major
  oracle.py --model FILE --tokens "1" --greedy 200        # prints the prompt + 200 greedy ids
  oracle.py --model FILE --tokens "1" --greedy 200 --text # prints the decoded continuation instead

Also importable: load_model(path) -> Model, forward(model, tokens) -> logits, greedy(...), decode(...).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

try:
    import gguf
    import gguf.quants
except ImportError as e:  # check_logits.py turns this into a skip
    raise ImportError(f"oracle.py needs the 'gguf' Python package: {e}") from e

# Rotary embedding styles. NORMAL rotates adjacent pairs (2i, 2i+1) (GPT-J style; llama GGUF files
# have their Q/K rows permuted at conversion so this is right for them); NEOX rotates (i, i + n_rot/2).
ROPE_NORMAL = "normal"
ROPE_NEOX = "neox"

# Per-architecture differences, kept as data like models/ does in the engine.
ARCHS = {
    "llama": dict(rope_style=ROPE_NORMAL, qkv_bias=False),
    "qwen2": dict(rope_style=ROPE_NEOX, qkv_bias=True),
}


@dataclasses.dataclass
class HParams:
    arch: str
    n_vocab: int
    n_embd: int
    n_layer: int
    n_ff: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_rot: int          # leading dims of each head that are rotated; the rest pass through
    rope_base: float
    eps: float
    n_ctx: int
    rope_style: str
    qkv_bias: bool


@dataclasses.dataclass
class Layer:
    attn_norm: np.ndarray   # (n_embd,)
    wq: np.ndarray          # (n_head * head_dim, n_embd)
    wk: np.ndarray          # (n_head_kv * head_dim, n_embd)
    wv: np.ndarray          # (n_head_kv * head_dim, n_embd)
    bq: np.ndarray | None   # (n_head * head_dim,)
    bk: np.ndarray | None   # (n_head_kv * head_dim,)
    bv: np.ndarray | None   # (n_head_kv * head_dim,)
    wo: np.ndarray          # (n_embd, n_head * head_dim)
    ffn_norm: np.ndarray    # (n_embd,)
    w_gate: np.ndarray      # (n_ff, n_embd)
    w_up: np.ndarray        # (n_ff, n_embd)
    w_down: np.ndarray      # (n_embd, n_ff)


@dataclasses.dataclass
class Model:
    hp: HParams
    tok_embd: np.ndarray            # (n_vocab, n_embd)
    output_norm: np.ndarray         # (n_embd,)
    output: np.ndarray              # (n_vocab, n_embd); the same array as tok_embd when tied
    rope_freqs: np.ndarray | None   # (n_rot / 2,) divisors of the rotary frequencies (Llama 3.1)
    layers: list[Layer]
    tokens: list[str]               # vocabulary pieces, for decode()
    bos_id: int | None


def _field(reader: gguf.GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        if default is None:
            raise KeyError(f"GGUF metadata key '{key}' is missing")
        return default
    return f.contents()


def _tensor(reader_tensors: dict, name: str, shape: tuple[int, ...] | None, required: bool = True):
    """Dequantizes one tensor to float32 with numpy shape = reversed GGUF dims (ne0 fastest)."""
    t = reader_tensors.get(name)
    if t is None:
        if required:
            raise KeyError(f"GGUF tensor '{name}' is missing")
        return None
    ne = [int(d) for d in t.shape]  # GGUF order: ne0 (contiguous) first
    w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
    w = w.reshape(tuple(reversed(ne)))
    if shape is not None and w.shape != tuple(shape):
        raise ValueError(f"tensor '{name}': expected numpy shape {tuple(shape)}, file has GGUF dims {ne}")
    return w


def load_model(path: str) -> Model:
    reader = gguf.GGUFReader(path, "r")
    arch = _field(reader, "general.architecture")
    if arch not in ARCHS:
        raise ValueError(f"{path}: architecture '{arch}' is not supported by the oracle (have {sorted(ARCHS)})")
    k = lambda name, default=None: _field(reader, f"{arch}.{name}", default)  # noqa: E731
    n_embd = int(k("embedding_length"))
    n_head = int(k("attention.head_count"))
    n_head_kv = int(k("attention.head_count_kv", n_head))
    head_dim = int(k("attention.key_length", n_embd // n_head))
    tensors = {t.name: t for t in reader.tensors}
    tok = tensors["token_embd.weight"]
    hp = HParams(
        arch=arch,
        n_vocab=int(tok.shape[1]),
        n_embd=n_embd,
        n_layer=int(k("block_count")),
        n_ff=int(k("feed_forward_length")),
        n_head=n_head,
        n_head_kv=n_head_kv,
        head_dim=head_dim,
        n_rot=int(k("rope.dimension_count", head_dim)),
        rope_base=float(k("rope.freq_base", 10000.0)),
        eps=float(k("attention.layer_norm_rms_epsilon")),
        n_ctx=int(k("context_length")),
        **ARCHS[arch],
    )
    if n_head % n_head_kv != 0:
        raise ValueError(f"{path}: head_count {n_head} is not a multiple of head_count_kv {n_head_kv}")
    if hp.n_rot % 2 != 0 or hp.n_rot > head_dim:
        raise ValueError(f"{path}: rope.dimension_count {hp.n_rot} must be even and <= head_dim {head_dim}")

    E, F, qd, kvd = n_embd, hp.n_ff, n_head * head_dim, n_head_kv * head_dim
    tok_embd = _tensor(tensors, "token_embd.weight", (hp.n_vocab, E))
    output = _tensor(tensors, "output.weight", (hp.n_vocab, E), required=False)
    layers = []
    for i in range(hp.n_layer):
        p = f"blk.{i}."
        t = lambda name, shape, required=True: _tensor(tensors, p + name, shape, required)  # noqa: E731
        layers.append(Layer(
            attn_norm=t("attn_norm.weight", (E,)),
            wq=t("attn_q.weight", (qd, E)),
            wk=t("attn_k.weight", (kvd, E)),
            wv=t("attn_v.weight", (kvd, E)),
            bq=t("attn_q.bias", (qd,), hp.qkv_bias),
            bk=t("attn_k.bias", (kvd,), hp.qkv_bias),
            bv=t("attn_v.bias", (kvd,), hp.qkv_bias),
            wo=t("attn_output.weight", (E, qd)),
            ffn_norm=t("ffn_norm.weight", (E,)),
            w_gate=t("ffn_gate.weight", (F, E)),
            w_up=t("ffn_up.weight", (F, E)),
            w_down=t("ffn_down.weight", (E, F)),
        ))
    vocab_field = reader.fields.get("tokenizer.ggml.tokens")
    bos = reader.fields.get("tokenizer.ggml.bos_token_id")
    return Model(
        hp=hp,
        tok_embd=tok_embd,
        output_norm=_tensor(tensors, "output_norm.weight", (E,)),
        output=tok_embd if output is None else output,
        rope_freqs=_tensor(tensors, "rope_freqs.weight", (hp.n_rot // 2,), required=False),
        layers=layers,
        tokens=list(vocab_field.contents()) if vocab_field is not None else [],
        bos_id=int(bos.contents()) if bos is not None else None,
    )


def _rmsnorm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """x: (T, E) float64 -> x / sqrt(mean(x^2) + eps) * w."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _matmul(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """x: (T, K) float64, w: (N, K) float32 -> (T, N) float64 = x @ w^T (+ b)."""
    y = x @ w.T.astype(np.float64)
    return y if b is None else y + b


def _rope_cos_sin(hp: HParams, rope_freqs: np.ndarray | None, n_tokens: int):
    """cos, sin: (T, n_rot/2) for angle pos * base^(-2i/n_rot) / rope_freqs[i]."""
    i = np.arange(hp.n_rot // 2, dtype=np.float64)
    inv_freq = hp.rope_base ** (-2.0 * i / hp.n_rot)
    if rope_freqs is not None:
        inv_freq = inv_freq / rope_freqs.astype(np.float64)
    ang = np.arange(n_tokens, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(ang), np.sin(ang)


def _rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, hp: HParams) -> np.ndarray:
    """x: (T, H, head_dim); rotates the first n_rot dims of every head in place-free fashion."""
    n_rot = hp.n_rot
    c, s = cos[:, None, :], sin[:, None, :]   # (T, 1, n_rot/2)
    out = x.copy()
    if hp.rope_style == ROPE_NORMAL:
        a, b = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        out[..., 0:n_rot:2] = a * c - b * s
        out[..., 1:n_rot:2] = a * s + b * c
    else:
        half = n_rot // 2
        a, b = x[..., :half], x[..., half:n_rot]
        out[..., :half] = a * c - b * s
        out[..., half:n_rot] = a * s + b * c
    return out


def forward(model: Model, tokens: list[int]) -> np.ndarray:
    """Returns float32 logits (n_tokens, n_vocab) for every position of `tokens`."""
    hp = model.hp
    T = len(tokens)
    if T == 0:
        raise ValueError("empty token sequence")
    toks = np.asarray(tokens, dtype=np.int64)
    if toks.min() < 0 or toks.max() >= hp.n_vocab:
        raise ValueError(f"token id out of range [0, {hp.n_vocab}): min {toks.min()} max {toks.max()}")
    H, Hkv, D = hp.n_head, hp.n_head_kv, hp.head_dim
    group = H // Hkv
    cos, sin = _rope_cos_sin(hp, model.rope_freqs, T)
    # causal mask: position t attends to 0..t
    mask = np.triu(np.full((T, T), -np.inf), k=1)                    # (T, T)
    scale = 1.0 / np.sqrt(D)

    x = model.tok_embd[toks].astype(np.float64)                      # (T, E)
    for L in model.layers:
        h = _rmsnorm(x, L.attn_norm, hp.eps)
        q = _rope(_matmul(h, L.wq, L.bq).reshape(T, H, D), cos, sin, hp)     # (T, H, D)
        k = _rope(_matmul(h, L.wk, L.bk).reshape(T, Hkv, D), cos, sin, hp)   # (T, Hkv, D)
        v = _matmul(h, L.wv, L.bv).reshape(T, Hkv, D)                        # (T, Hkv, D)
        # GQA: query head h reads kv head h // group
        k = np.repeat(k, group, axis=1)                                      # (T, H, D)
        v = np.repeat(v, group, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) * scale + mask              # (H, T, T)
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        attn = np.einsum("hts,shd->thd", p, v).reshape(T, H * D)             # (T, H*D)
        x = x + _matmul(attn, L.wo)
        h = _rmsnorm(x, L.ffn_norm, hp.eps)
        g = _matmul(h, L.w_gate)
        ff = g / (1.0 + np.exp(-g)) * _matmul(h, L.w_up)                     # silu(gate) * up
        x = x + _matmul(ff, L.w_down)
    x = _rmsnorm(x, model.output_norm, hp.eps)
    return _matmul(x, model.output).astype(np.float32)                      # (T, n_vocab)


def greedy(model: Model, prompt: list[int], n: int) -> list[int]:
    """Greedy-decodes n tokens after prompt by recomputing the whole sequence each step."""
    seq = list(prompt)
    for _ in range(n):
        if len(seq) >= model.hp.n_ctx:
            break
        seq.append(int(np.argmax(forward(model, seq)[-1])))
    return seq[len(prompt):]


def decode(model: Model, ids: list[int], after_bos: bool = True) -> bytes:
    """SentencePiece-style detokenization: '▁' -> ' ', '<0xNN>' -> byte; drops the leading space of
    the first piece when it directly follows BOS. Byte-level BPE pieces are mapped back through the
    GPT-2 byte<->unicode table."""
    if not model.tokens:
        raise ValueError("model has no tokenizer.ggml.tokens")
    out = bytearray()
    for piece in (model.tokens[i] for i in ids):
        if len(piece) == 6 and piece.startswith("<0x") and piece.endswith(">"):
            out += bytes([int(piece[3:5], 16)])
        else:
            out += piece.replace("\u2581", " ").encode("utf-8")
    if after_bos and out.startswith(b" "):
        del out[0]
    return bytes(out)


def _gpt2_unicode_to_byte() -> dict[str, int]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def decode_bpe(model: Model, ids: list[int]) -> bytes:
    """Byte-level BPE (GPT-2 style) detokenization."""
    table = _gpt2_unicode_to_byte()
    out = bytearray()
    for piece in (model.tokens[i] for i in ids):
        if all(ch in table for ch in piece):
            out += bytes(table[ch] for ch in piece)
        else:  # control tokens such as <|im_end|>
            out += piece.encode("utf-8")
    return bytes(out)


def _parse_ids(s: str) -> list[int]:
    return [int(t) for t in s.replace(",", " ").split()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="GGUF file (arch llama or qwen2)")
    ap.add_argument("--tokens", required=True, help='token ids, space or comma separated, e.g. "1 2 3"')
    ap.add_argument("--out", help="write float32 logits [n_tokens, n_vocab] row-major here")
    ap.add_argument("--greedy", type=int, metavar="N", help="greedy-decode N tokens after the prompt, print ids")
    ap.add_argument("--text", action="store_true", help="with --greedy: print the decoded text instead of ids")
    a = ap.parse_args(argv)
    if (a.out is None) == (a.greedy is None):
        ap.error("give exactly one of --out and --greedy")
    model = load_model(a.model)
    ids = _parse_ids(a.tokens)
    if a.out is not None:
        forward(model, ids).tofile(a.out)
        return 0
    gen = greedy(model, ids, a.greedy)
    if not a.text:
        print(" ".join(str(t) for t in gen))
    else:
        is_bpe = _field(gguf.GGUFReader(a.model, "r"), "tokenizer.ggml.model", "llama") == "gpt2"
        text = decode_bpe(model, gen) if is_bpe else decode(model, gen, after_bos=ids[-1:] == [model.bos_id])
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
