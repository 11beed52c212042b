// The scalar specification of A8 (int8-activation) arithmetic: what every ISA must compute,
// operation for operation, so that its results are bit-identical to these.
//
// Activations: one ActBlock32 per 32 elements (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) or one
// qe_block_q8_K per 256 (Q2_K .. Q6_K). Quantization: amax = max|x|, d = amax / 127,
// id = d ? 1 / d : 0, q = round_half_even(x * id) clamped to [-127, 127].
//
// Weights row · activation row: acc = 0.0f, then block by block in order:
//   Q8_0        isum = Σ q·x                                acc = fma(isum, dw·dx, acc)
//   Q4_0, Q5_0  isum = Σ q·x − o·sum  (o = 8, 16; q unsigned) acc = fma(isum, dw·dx, acc)
//   Q4_1, Q5_1  isum = Σ q·x                                acc = fma(isum, dw·dx, acc)
//                                                            acc = fma(mw·dx, sum, acc)
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
