// CPU kernel tables: one per instruction set, chosen once at start-up (see dispatch.cpp).
//
// Two execution modes per weight type:
//   A16 ("W4A16", "W8A16"): activations stay fp32; weights are dequantized in registers and
//       multiplied with fp32 FMAs. Checked against qe::ref::matmul within a normalized bound.
//   A8  ("W8A8", "W4A8"): activations are quantized per block to int8 (ActBlock32 for the
//       32-element formats, qe_block_q8_K for the K-quants); weights and activations meet in
//       integer dot products accumulated in int32, scaled once per block. Every ISA computes
//       exactly the arithmetic of the scalar specification in a8_spec.h, in the same order,
//       so results are bit-identical to it.
//
// Weights are repacked at load into a per-ISA layout (`pack`), typically `tile` rows
// interleaved so that one SIMD lane owns one row: each lane then accumulates its row's blocks
// sequentially, in the order of the scalar specification.
#pragma once

#include <cstddef>
#include <cstdint>

#include "format/qe_format.h"

namespace qe::cpu {

enum class Isa : int {
  kScalar = 0,
  kAvx2,         // AVX2 + FMA + F16C
  kAvx512,       // AVX-512 F, BW, VL, DQ
  kAvx512Vnni,   // + VNNI (vpdpbusd)
  kAvx512Bf16,   // + BF16 (vdpbf16ps)
  kNeon,         // AArch64 Advanced SIMD
  kNeonDotprod,  // + sdot/udot
  kNeonI8mm,     // + smmla/usmmla
  kCount,
};
const char* isa_name(Isa isa);

// Activation block for the 32-element formats in A8 mode: asymmetric int8 per 16-element half,
// x[i] ≈ c[h] + d[h]·q[i] with c = the half's midrange and d = max|x − c| / 127 (q rounded half
// to even, as cvtps2dq and fcvtns do). Centring on the midrange spends all 255 levels on the
// half's actual range: a one-sided outlier (LLM activations have them in fixed channels) no
// longer wastes half the grid. See a8_spec.h for the exact arithmetic.
struct ActBlock32 {
  float d[2];        // scale of elements 0..15 and 16..31
  float c[2];        // centre of each half
  float s;           // Σ (c + d·q) over the block, for the min terms of the _1 formats
  int16_t qsum[2];   // Σ q per half, for unsigned-offset corrections
  int8_t qs[32];
};
static_assert(sizeof(ActBlock32) == 56, "ActBlock32 layout");

// Which activation layout a weight type uses in A8 mode (nullptr-equivalent: kNone = the type
// has no A8 path and runs A16, e.g. the float types).
enum class ActLayout : int { kNone = 0, kBlock32, kBlock256 };
ActLayout a8_layout(qe_type t);
// Bytes of quantized activations for one row of K elements in `layout`.
size_t act_row_bytes(ActLayout layout, int64_t K);

// Matmul kernels of one weight type on one ISA. Shapes: W is (rows, K) in GGUF order before
// packing; X is (batch, K) fp32 or (batch, act_row_bytes) quantized; Y[b * ldy + r].
struct MatmulKernels {
  int32_t tile = 0;  // rows per packed tile; 0 = this ISA has no kernel for the type
  // Bytes of the packed layout for `rows` rows of K (rows padded up to a multiple of tile).
  size_t (*packed_bytes)(int64_t rows, int64_t K) = nullptr;
  // Repacks GGUF rows (rows, K) into dst (packed_bytes). Padding rows are zero.
  void (*pack)(const void* src, int64_t rows, int64_t K, void* dst) = nullptr;
  // Rows [r0, r1) of Y = X · Wᵀ; r0 is a multiple of tile, r1 a multiple of tile or `rows`.
  void (*gemm_a16)(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x,
                   int64_t batch, float* y, int64_t ldy) = nullptr;
  // Same with quantized activations (layout a8_layout(type)); nullptr when A8 does not apply.
  void (*gemm_a8)(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const void* xq,
                  int64_t batch, float* y, int64_t ldy) = nullptr;
};

struct KernelTable {
  Isa isa = Isa::kScalar;
  MatmulKernels mm[QE_TYPE_COUNT];
  // Quantizes one activation row of K elements (K a multiple of 32 / 256) per a8_spec.h.
  void (*quantize_act32)(const float* x, ActBlock32* dst, int64_t K) = nullptr;
  void (*quantize_act256)(const float* x, qe_block_q8_K* dst, int64_t K) = nullptr;
};

// The tables compiled into this binary, each built with its own flags; nullptr when the ISA is
// not compiled for this architecture.
const KernelTable* scalar_table();
const KernelTable* avx2_table();
const KernelTable* avx512_table();      // kAvx512 and kAvx512Vnni share a source file
const KernelTable* avx512vnni_table();
const KernelTable* neon_table();
const KernelTable* neon_dotprod_table();
const KernelTable* neon_i8mm_table();

}  // namespace qe::cpu
