// The scalar specification of A8 (int8-activation) arithmetic: what every ISA must compute,
// operation for operation, so that its results are bit-identical to these.
//
// Activations, 32-element formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): one ActBlock32 per 32
// elements, quantized per 16-element half h: lo, hi = min x, max x; c = 0.5·lo + 0.5·hi;
// amax = max|x − c|; d = amax / 127; id = d ? 1 / d : 0; q = round_half_even((x − c)·id)
// clamped to [−127, 127]; qsum = Σ q; then s = fma(qsum_0, d_0, 16·c_0) + fma(qsum_1, d_1, 16·c_1).
// K-quants (Q2_K .. Q6_K): one qe_block_q8_K per 256, amax = max|x|, d = amax / 127, q as above
// without centre.
//
// Weights row · activation row: acc = 0.0f, then block by block in order. 32-element formats,
// with v the weight's integer values (Q8_0: q; Q4_0, Q5_0: u − 8, u − 16; Q4_1, Q5_1: u) and per
// half P_h = Σ v·q, U_h = Σ v (exact int32):
//   t = P_0·d_0;  t = fma(P_1, d_1, t);  t = fma(U_0, c_0, t);  t = fma(U_1, c_1, t)
//   acc = fma(t, dw, acc)                   (dw: the weight block's fp16 scale)
//   Q4_1, Q5_1 also:  acc = fma(mw, s, acc)
// K-quants:
//   Q4_K, Q5_K  isum = Σ_j sc_j·(Σ_j q·x), msum = Σ_j m_j·(bsum_2j + bsum_2j+1)
//                                                            acc = fma(isum, d·dx, acc)
//                                                            acc = fma(−msum, dmin·dx, acc)
//   Q6_K        isum = Σ_j sc_j·(Σ_j q·x − 32·bsum_j)        acc = fma(isum, d·dx, acc)
//   Q2_K        isum = Σ_j (sc_j & 15)·(Σ_j q·x), msum = Σ_j (sc_j >> 4)·bsum_j
//                                                            acc = fma(isum, d·dx, acc)
//                                                            acc = fma(−msum, dmin·dx, acc)
//   Q3_K        isum = Σ_j sc_j·(Σ_j q·x)  (q in [−4, 3])    acc = fma(isum, d·dx, acc)
// where integer sums are exact int32, (float) conversions round to nearest even, fp16 scales
// are converted exactly, and fma is a single-rounding fused multiply-add.
#pragma once

#include <cstdint>

#include "cpu/cpu_kernels.h"

namespace qe::cpu::spec {

void quantize_act32(const float* x, ActBlock32* dst, int64_t K);
void quantize_act256(const float* x, qe_block_q8_K* dst, int64_t K);

// One GGUF-layout weight row of K elements of type t against its quantized activation row.
float dot_a8(qe_type t, const void* wrow, const void* xq, int64_t K);

// The unsigned (Q4_*, Q5_*, K-quants) or signed (Q8_0, Q3_K) integer values of one block,
// in element order: what a kernel's unpacking must reproduce. n = block elements.
void unpack_block(qe_type t, const void* block, int16_t* q);

}  // namespace qe::cpu::spec
