// gemv_a8.cuh: W8A8 / W4A8 decode — activations quantized on the device exactly as the CPU's
// A8 specification (kernels/cpu/a8_spec.h) does, and a GEMV whose integer block sums are the
// specification's, made with dp4a.
//
// Activations (A8, per row of K, K % 32 == 0): per 16-element half h, lo/hi = min/max x,
// c = 0.5 lo + 0.5 hi, amax = max |x - c|, d = amax / 127, id = d ? 1 / d : 0,
// q = rint((x - c) id) clamped to +-127, qsum = sum q: the same operations in the same order as
// the specification, so q, d, c and qsum are its bits (IEEE division, no contraction).
// Layout ("act8"): q (B, K) int8; d, c (B, K / 32) float2 (the block's two halves); qsum
// (B, K / 32) two int16.
//
// Weights ("a8 tiled"): one GGUF block per lane. A row is cut into chunks of 32 blocks; in a
// chunk, lane l owns block chunk*32 + l: its codes in GGUF order (Q4_0: 16 bytes, qs[j] = element
// j low, j + 16 high; Q8_0: 32 bytes as two 16-byte parts, part p of every lane together so each
// load instruction reads 512 contiguous bytes) and its fp16 scale. Padding blocks are zero.
//
// Per block and row, exactly as the specification: P_h = sum v q and U_h = sum v over each half
// (v = u - 8 for Q4_0, q for Q8_0; exact int32 from dp4a), t = P_0 d_0; t = fma(P_1, d_1, t);
// t = fma(U_0, c_0, t); t = fma(U_1, c_1, t); acc = fma(t, dw, acc). Only the order in which the
// blocks' acc terms are added differs from the specification's left-to-right sum (lanes, then
// warps), so a one-block row equals it bit for bit.
//
// What bounds it: weight bytes, as gemv_a16; dp4a does 4 products per instruction, so a Q4_0
// block costs ~40 instructions (1.3 per weight) against ~2.1 per weight in fp16x2. Row-tiled as
// gemv_a16_rowtile: a block's 4 warps share T rows, the activations of a chunk are read once.
#pragma once

#include <cstdint>

#include "common/ptx.cuh"
#include "common/simt_api.cuh"
#include "gemv/a8_layout.h"
#include "gemv/rowtile_reduce.cuh"

namespace qe::cuda {

struct A8Q4_0 {
  static constexpr int kWordsPerBlock = 4;  // 16 bytes of codes per lane and chunk
};
struct A8Q8_0 {
  static constexpr int kWordsPerBlock = 8;  // 32 bytes, as two 512-byte parts per chunk
};

// ---- activation quantization -------------------------------------------------------------------

// One thread per 16-element half. x (B, K) fp32 -> q (B, K) int8, d/c (B, K/16), qsum (B, K/16).
// Grid: ceil(B * K / 16 / kThreads) blocks of kThreads. (A template, like every kernel here, so
// that the simulator's and nvcc's objects can be linked into one test program.)
template <int kThreads>
__global__ void __launch_bounds__(kThreads)
    quantize_act8(const float* __restrict__ x, int K, int batch, int8_t* __restrict__ q, float* __restrict__ d,
                  float* __restrict__ c, int16_t* __restrict__ qsum) {
  const int i = int(blockIdx.x) * kThreads + int(threadIdx.x);  // half index over (batch, K / 16)
  grid_dependency_wait();
  allow_dependent_launch();
  if (i >= batch * (K / 16)) return;
  const float* xs = x + size_t(i) * 16;
  float v[16];
#pragma unroll
  for (int j = 0; j < 16; ++j) v[j] = xs[j];
  // std::min / std::max / std::clamp's comparisons, as the specification (not fminf, which may
  // pick the other zero of a +0 / -0 pair).
  float lo = v[0], hi = v[0];
#pragma unroll
  for (int j = 1; j < 16; ++j) {
    lo = v[j] < lo ? v[j] : lo;
    hi = hi < v[j] ? v[j] : hi;
  }
  const float centre = 0.5f * lo + 0.5f * hi;
  float amax = 0.0f;
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const float a = fabsf(v[j] - centre);
    amax = amax < a ? a : amax;
  }
  const float scale = amax / 127.0f;
  const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
  int sum = 0;
  uint32_t packed[4] = {0, 0, 0, 0};
#pragma unroll
  for (int j = 0; j < 16; ++j) {
    const float n = rintf((v[j] - centre) * inv);  // half to even
    const float r = n < -127.0f ? -127.0f : (127.0f < n ? 127.0f : n);
    const int qi = int(r);
    sum += qi;
    packed[j / 4] |= (uint32_t(qi) & 0xFFu) << (8 * (j % 4));
  }
  uint32_t* qw = reinterpret_cast<uint32_t*>(q + size_t(i) * 16);
#pragma unroll
  for (int w = 0; w < 4; ++w) qw[w] = packed[w];
  d[i] = scale;
  c[i] = centre;
  qsum[i] = int16_t(sum);
}

// ---- GEMV ------------------------------------------------------------------------------------

// The lane's codes for one block (Q4_0: one 16-byte load; Q8_0: two, from the chunk's parts).
template <class F>
struct A8Codes {
  U32x4 part[F::kWordsPerBlock / 4];
};

template <class F>
QE_DEV A8Codes<F> a8_load_codes(const uint32_t* chunk_base, int lane) {
  A8Codes<F> r;
#pragma unroll
  for (int p = 0; p < F::kWordsPerBlock / 4; ++p) r.part[p] = load_stream_128(chunk_base + p * 128 + lane * 4);
  return r;
}

// The lane's block of activations: 32 int8 (8 words), the halves' d and c, qsum.
struct A8Act {
  uint32_t q[8];
  float d0, d1, c0, c1;
  int qsum0, qsum1;
};

// P_h and U_h of one block (exact int32).
struct A8Sums {
  int p0, p1, u0, u1;
};

QE_DEV A8Sums a8_block_sums(A8Q4_0, const A8Codes<A8Q4_0>& w, const A8Act& x) {
  // Byte j of word i of the codes holds elements 4i + j (low nibble) and 16 + 4i + j (high).
  const uint32_t words[4] = {w.part[0].x, w.part[0].y, w.part[0].z, w.part[0].w};
  int pu0 = 0, pu1 = 0;
  uint32_t lo_sum = 0, hi_sum = 0;  // per-byte sums of the codes: at most 4 x 15 per byte
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const uint32_t lo = words[i] & 0x0F0F0F0Fu, hi = (words[i] >> 4) & 0x0F0F0F0Fu;
    pu0 = dp4a(lo, x.q[i], pu0);
    pu1 = dp4a(hi, x.q[4 + i], pu1);
    lo_sum += lo;
    hi_sum += hi;
  }
  // v = u - 8: P_h = sum u q - 8 qsum_h, U_h = sum u - 128.
  const int su0 = dp4a(lo_sum, 0x01010101u, 0), su1 = dp4a(hi_sum, 0x01010101u, 0);
  return {pu0 - 8 * x.qsum0, pu1 - 8 * x.qsum1, su0 - 128, su1 - 128};
}

QE_DEV A8Sums a8_block_sums(A8Q8_0, const A8Codes<A8Q8_0>& w, const A8Act& x) {
  // Part 0 holds elements 0-15 (half 0), part 1 elements 16-31.
  const uint32_t h0[4] = {w.part[0].x, w.part[0].y, w.part[0].z, w.part[0].w};
  const uint32_t h1[4] = {w.part[1].x, w.part[1].y, w.part[1].z, w.part[1].w};
  A8Sums s{0, 0, 0, 0};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    s.p0 = dp4a(h0[i], x.q[i], s.p0);
    s.p1 = dp4a(h1[i], x.q[4 + i], s.p1);
    s.u0 = dp4a(h0[i], 0x01010101u, s.u0);
    s.u1 = dp4a(h1[i], 0x01010101u, s.u1);
  }
  return s;
}

// y[b * rows + r] = sum over blocks of the specification's block term.
//   codes, scales: a8 tiled (rows, chunks); q (B, K) int8, d/c (B, K/16) float, qsum (B, K/16);
//   y: (B, rows) fp32. Grid: ceil(rows / T) blocks of 128; B <= 2.
template <class F, int B, int T>
__global__ void __launch_bounds__(128, 4)
    gemv_a8_rowtile(const uint32_t* __restrict__ codes, const uint16_t* __restrict__ scales, int rows, int K,
                    int chunks, const int8_t* __restrict__ q, const float* __restrict__ d, const float* __restrict__ c,
                    const int16_t* __restrict__ qsum, float* __restrict__ y) {
  constexpr int kWarps = 4;
  constexpr int kChunkWords = F::kWordsPerBlock * 32;
  QE_SHARED(float, partial, kWarps* T* B);  // (warp, row, column)
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) / 32;
  const int row0 = int(blockIdx.x) * T;
  const int blocks_per_row = K / 32;

  int row[T];
  float acc[T][B];
  rows_begin<T, B>(row0, rows, row, acc);

  allow_dependent_launch();
  grid_dependency_wait();  // q, d, c, qsum come from the previous kernel
  for (int ch = warp; ch < chunks; ch += kWarps) {
    const int blk = ch * kA8ChunkBlocks + lane;  // this lane's block of the row
    A8Codes<F> w[T];
    uint16_t dw[T];
#pragma unroll
    for (int t = 0; t < T; ++t) {
      const size_t rc = size_t(row[t]) * size_t(chunks) + size_t(ch);
      w[t] = a8_load_codes<F>(codes + rc * kChunkWords, lane);
      dw[t] = scales[rc * kA8ChunkBlocks + size_t(lane)];
    }
    if (blk >= blocks_per_row) continue;  // padding block
#pragma unroll
    for (int b = 0; b < B; ++b) {
      A8Act x;
      const size_t e = size_t(b) * size_t(K) + size_t(blk) * 32;
      const U32x4 q0 = load_cached_128(q + e), q1 = load_cached_128(q + e + 16);
      x.q[0] = q0.x, x.q[1] = q0.y, x.q[2] = q0.z, x.q[3] = q0.w;
      x.q[4] = q1.x, x.q[5] = q1.y, x.q[6] = q1.z, x.q[7] = q1.w;
      const size_t hh = e / 16;
      x.d0 = d[hh], x.d1 = d[hh + 1], x.c0 = c[hh], x.c1 = c[hh + 1];
      x.qsum0 = qsum[hh], x.qsum1 = qsum[hh + 1];
#pragma unroll
      for (int t = 0; t < T; ++t) {
        const A8Sums s = a8_block_sums(F{}, w[t], x);
        float bt = float(s.p0) * x.d0;
        bt = fmaf(float(s.p1), x.d1, bt);
        bt = fmaf(float(s.u0), x.c0, bt);
        bt = fmaf(float(s.u1), x.c1, bt);
        acc[t][b] = fmaf(bt, half_to_float(dw[t]), acc[t][b]);
      }
    }
  }

  rowtile_store<kWarps, T, B>(acc, partial, row0, rows, y);
}

}  // namespace qe::cuda
