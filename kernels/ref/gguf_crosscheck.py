#!/usr/bin/env python3
"""gguf_crosscheck.py: bit-exactness of qengine's reference codecs against the gguf PyPI package.

usage: gguf_crosscheck.py PATH/TO/qe_dequant_tool

For every format the tool lists:
  * dequantize: random valid blocks (random bytes, fp16/bf16/fp32 scale and value fields replaced by
    random finite numbers, subnormals included) must dequantize to bit-identical float32 in qengine
    and in gguf.quants.dequantize;
  * quantize: where gguf-py implements a quantizer for the format, several data distributions must
    quantize to identical bytes.
Formats gguf-py cannot decode (Q8_1, Q8_K: activation-only formats) are reported and skipped.
Exit status: 0 all compared formats match, 1 any mismatch, 77 numpy/gguf not importable (skip).
"""
import subprocess
import sys

try:
    import numpy as np
    from gguf import quants
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType
except ImportError as e:  # ctest maps 77 to "skipped" (SKIP_RETURN_CODE)
    print(f"SKIP: gguf crosscheck needs numpy and the gguf package ({e}); pip install numpy gguf")
    sys.exit(77)

SEED = 20240611
N_BLOCKS = 257  # odd, so row splitting inside gguf-py is exercised too

# Byte offsets of the scale fields of each block; F16/BF16/F32 are handled element-wise.
HALF_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0], "Q8_1": [0, 2],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}
FLOAT_FIELDS = {"Q8_K": [0]}


def tool_run(tool, args, data):
    p = subprocess.run([tool, *args], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError(f"{tool} {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout


def finite_halves(rng, n):
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    bad = (h & 0x7C00) == 0x7C00  # Inf/NaN: replace by the same bits with a zero exponent MSB
    h[bad] &= 0xBFFF
    return h


def random_blocks(rng, name, n_blocks, block_bytes):
    if name == "F32":
        f = rng.integers(0, 1 << 32, size=n_blocks, dtype=np.uint64).astype(np.uint32)
        f[(f & 0x7F800000) == 0x7F800000] &= 0xBFFFFFFF
        return f.view(np.uint8)
    if name == "F16":
        return finite_halves(rng, n_blocks).view(np.uint8)
    if name == "BF16":
        b = rng.integers(0, 1 << 16, size=n_blocks, dtype=np.uint32).astype(np.uint16)
        b[(b & 0x7F80) == 0x7F80] &= 0xBFFF
        return b.view(np.uint8)
    raw = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint16).astype(np.uint8)
    for off in HALF_FIELDS.get(name, []):
        raw[:, off:off + 2] = finite_halves(rng, n_blocks).view(np.uint8).reshape(n_blocks, 2)
    for off in FLOAT_FIELDS.get(name, []):
        raw[:, off:off + 4] = rng.standard_normal(n_blocks).astype(np.float32).view(np.uint8).reshape(n_blocks, 4)
    return raw.reshape(-1)


def test_data(rng, block_elems, n_blocks):
    """Rows of float32 in several distributions, each a whole number of blocks."""
    n = block_elems * n_blocks
    rows = {
        "normal": rng.standard_normal(n),
        "uniform": rng.uniform(-3, 7, n),
        "heavy-tail": rng.standard_t(2, n),
        "positive": rng.exponential(1.0, n),
        "tiny": rng.standard_normal(n) * 1e-5,
        "large": rng.standard_normal(n) * 1e3,
    }
    special = rng.standard_normal((n_blocks, block_elems))
    special[0::4] = 0.0                                   # all-zero blocks
    special[1::4] = rng.standard_normal((special[1::4].shape[0], 1))  # constant blocks
    outlier = rng.integers(0, block_elems, n_blocks)
    special[np.arange(n_blocks), outlier] *= 50.0        # one outlier per block
    rows["zero-constant-outlier"] = special.reshape(-1)
    return {k: v.astype(np.float32) for k, v in rows.items()}


def first_mismatch(a, b, width):
    idx = int(np.flatnonzero(a != b)[0])
    return idx, idx // width


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    formats = [line.split() for line in tool_run(tool, ["list"], b"").decode().splitlines()]
    rng = np.random.default_rng(SEED)
    failures, compared, skipped = [], [], []

    for name, type_id, block_elems, block_bytes in formats:
        type_id, block_elems, block_bytes = int(type_id), int(block_elems), int(block_bytes)
        qtype = GGMLQuantizationType(type_id)
        if qtype.name != name:
            failures.append(f"{name}: id {type_id} is {qtype.name} in gguf-py")
            continue
        if GGML_QUANT_SIZES[qtype] != (block_elems, block_bytes):
            print(f"note: {name}: gguf-py sizes {GGML_QUANT_SIZES[qtype]} differ from ours "
                  f"({block_elems}, {block_bytes}); ggml's C layout is authoritative")

        # --- dequantize ---
        n_blocks = N_BLOCKS * (64 if block_elems == 1 else 1)
        blocks = random_blocks(rng, name, n_blocks, block_bytes)
        try:
            ref = np.asarray(quants.dequantize(blocks, qtype), dtype=np.float32).reshape(-1)
        except NotImplementedError:
            skipped.append(f"{name} dequantize (gguf-py has no decoder)")
            ref = None
        if ref is not None:
            ours = np.frombuffer(tool_run(tool, ["dequantize", name], blocks.tobytes()), dtype=np.float32)
            if np.isnan(ref).any():
                failures.append(f"{name} dequantize: test data produced NaN in gguf-py (generator bug)")
            elif ours.shape != ref.shape:
                failures.append(f"{name} dequantize: {ours.size} values, gguf-py gave {ref.size}")
            elif not np.array_equal(ours.view(np.uint32), ref.view(np.uint32)):
                i, blk = first_mismatch(ours.view(np.uint32), ref.view(np.uint32), block_elems)
                failures.append(f"{name} dequantize: {int((ours.view(np.uint32) != ref.view(np.uint32)).sum())} "
                                f"values differ; first at element {i} (block {blk}): ours {ours[i]!r} "
                                f"gguf {ref[i]!r}; block bytes {blocks.reshape(-1, block_bytes)[blk].tobytes().hex() if block_elems > 1 else ''}")
            else:
                compared.append(f"{name} dequantize")

        # --- quantize ---
        data = test_data(rng, block_elems, 64 if block_elems > 1 else 2048)
        for dist, x in data.items():
            try:
                ref_q = np.asarray(quants.quantize(x, qtype))
            except NotImplementedError:
                skipped.append(f"{name} quantize (gguf-py has no quantizer)")
                break
            ref_bytes = ref_q.view(np.uint8).reshape(-1)
            ours = np.frombuffer(tool_run(tool, ["quantize", name], x.tobytes()), dtype=np.uint8)
            if ours.shape != ref_bytes.shape:
                failures.append(f"{name} quantize/{dist}: {ours.size} bytes, gguf-py gave {ref_bytes.size}")
            elif not np.array_equal(ours, ref_bytes):
                bad = np.flatnonzero(ours != ref_bytes)
                blk = int(bad[0]) // block_bytes
                failures.append(f"{name} quantize/{dist}: {bad.size} bytes differ; first in block {blk}: "
                                f"ours {ours[blk * block_bytes:(blk + 1) * block_bytes].tobytes().hex()} "
                                f"gguf {ref_bytes[blk * block_bytes:(blk + 1) * block_bytes].tobytes().hex()}")
            else:
                compared.append(f"{name} quantize/{dist}")

    print(f"gguf crosscheck: {len(compared)} comparisons bit-exact")
    for s in skipped:
        print(f"  skipped: {s}")
    if "Q8_0 quantize/normal" not in compared:
        failures.append("Q8_0 quantize was not compared (it must be)")
    for f in failures:
        print(f"MISMATCH: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
