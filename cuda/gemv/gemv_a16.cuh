// gemv_a16.cuh: decode GEMV, weight-only quantized (Q4_0, Q8_0, Q4_K, Q6_K; the tiled layouts of
// tiled_layout.h) times fp16 activations, fp32 output, batch 1-8. Q4_K's sub-block min enters
// as min * sum(x) per 8-element group (the sum shared by the rows of a block or warp).
//
// What bounds it: weight bytes. At batch 1 a Q4_0 row of K elements is 0.5625 K bytes read once
// from device memory; an H200 streams about 4.3 TB/s, i.e. ~37 weight elements per SM clock,
// which leaves ~3.5 instructions per element. The fp32 path (nibble -> float, sub, fma) costs
// about that, so the codes are turned into fp16x2 pairs by writing them under the exponent of
// 1024 (the 0x6400 magic: one lop3 per Q4_0 pair, one prmt per Q8_0 pair) and one fp16x2 fma
// removes the bias and scales them into [-1, 1) ((q - 8) / 8, q / 128: exact in fp16). Four
// fp16x2 fmas form an 8-element partial dot (bounded by 8 |x|, so fp16 cannot overflow below
// |x| = 8000), which is widened to fp32 and scaled by the block scale. About 2.1 instructions
// per Q4_0 element.
//
// Work split: one warp owns R rows; per row and chunk, lane l reads 16 contiguous bytes (a
// coalesced 512-byte warp read); U chunks are loaded per round and round n + 1 is requested
// before round n is computed, so each warp keeps U * R * 512 to 2 * U * R * 512 bytes in flight. A group's activations
// (8 halves, one 16-byte load, contiguous across the warp) serve the R rows. The warp's sums meet in a butterfly of
// shuffles; lane 0 writes y. Launched with programmatic dependent launch (gemv_device.cu), the weight loads of the
// first round overlap the end of the previous kernel. Every float operation is explicit (fmaf, no contraction), so the
// simulator build computes the same bits as the device.
#pragma once

#include <cstdint>

#include "common/ptx.cuh"
#include "common/simt_api.cuh"
#include "gemv/rowtile_reduce.cuh"
#include "gemv/tiled_layout.h"

namespace qe::cuda {

// The word w of a 16-byte load (w is a compile-time constant after unrolling).
QE_DEV uint32_t word_of(const U32x4& v, int w) { return w == 0 ? v.x : w == 1 ? v.y : w == 2 ? v.z : v.w; }

// Four fp16x2 weights (w0, w1) .. (w6, w7) of one 8-element group.
struct Half8 {
  uint32_t h01, h23, h45, h67;
};

constexpr uint32_t kLop3AndOr = 0xEA;  // (a & b) | c

// A word of 8 nibbles (kNibblePos order) -> four fp16x2 pairs: each pair comes out of one lop3
// under the exponent of 1024 (1024 + q for nibble positions 0/4 and 2/6, 1024 + 16 q for 1/5 and
// 3/7), then one fp16x2 fma (low or high multiplier and bias) scales it.
template <uint32_t kLowMul, uint32_t kLowBias, uint32_t kHighMul, uint32_t kHighBias>
QE_DEV Half8 dequant_nibbles(uint32_t q) {
  constexpr uint32_t kMagic = 0x64006400u;  // 1024
  const uint32_t q8 = q >> 8;
  Half8 r;
  r.h01 = hfma2(lop3<kLop3AndOr>(q, 0x000F000Fu, kMagic), kLowMul, kLowBias);
  r.h23 = hfma2(lop3<kLop3AndOr>(q, 0x00F000F0u, kMagic), kHighMul, kHighBias);
  r.h45 = hfma2(lop3<kLop3AndOr>(q8, 0x000F000Fu, kMagic), kLowMul, kLowBias);
  r.h67 = hfma2(lop3<kLop3AndOr>(q8, 0x00F000F0u, kMagic), kHighMul, kHighBias);
  return r;
}

// Q4_0 group g = word g -> (q - 8) / 8 in fp16, exact: (1024 + q) / 8 - 129 and
// (1024 + 16 q) / 128 - 9 (1/8 = 0x3000, -129 = 0xD808, 1/128 = 0x2000, -9 = 0xC880).
template <class S>
QE_DEV Half8 dequant_group(Q4_0Tiled, const U32x4& v, const S&, int g) {
  return dequant_nibbles<0x30003000u, 0xD808D808u, 0x20002000u, 0xC880C880u>(word_of(v, g));
}

// Q8_0 group g = words 2g, 2g+1: byte pairs under 0x64 -> 1024 + (q + 128) -> q / 128, exact.
template <class S>
QE_DEV Half8 dequant_group(Q8_0Tiled, const U32x4& v, const S&, int g) {
  constexpr uint32_t kMagicBytes = 0x64646464u;
  constexpr uint32_t kScale = 0x20002000u;  // 1/128: (1152 + q) / 128 - 9 = q / 128
  constexpr uint32_t kBias = 0xC880C880u;   // -9
  const uint32_t lo = word_of(v, 2 * g), hi = word_of(v, 2 * g + 1);
  Half8 r;
  r.h01 = hfma2(prmt(lo, kMagicBytes, 0x4140u), kScale, kBias);  // bytes 0, 1 under 0x64
  r.h23 = hfma2(prmt(lo, kMagicBytes, 0x4342u), kScale, kBias);  // bytes 2, 3
  r.h45 = hfma2(prmt(hi, kMagicBytes, 0x4140u), kScale, kBias);
  r.h67 = hfma2(prmt(hi, kMagicBytes, 0x4342u), kScale, kBias);
  return r;
}

// sum_e w[e] * x[e] over one group: four fp16x2 fmas, then the two lanes widened and added.
QE_DEV float dot8(const Half8& w, const U32x4& x) {
  uint32_t p = hmul2(w.h01, x.x);
  p = hfma2(w.h23, x.y, p);
  p = hfma2(w.h45, x.z, p);
  p = hfma2(w.h67, x.w, p);
  return half_lo_to_float(p) + half_hi_to_float(p);
}

// Per format: the lane's scales for one row and chunk (Scales, one or two loads) and, per group,
// the factor of the fp16 partial dot and (formats with a min) the factor of the group's
// activation sum: acc += mul * dot8 + min * sum(x).
struct GroupScale {
  float mul, min;
};

struct ScalesQ4_0 {
  uint32_t s[2];  // fp16 scales of groups (0, 1) and (2, 3)
};
QE_DEV ScalesQ4_0 load_scales(Q4_0Tiled, const uint16_t* chunk, const uint32_t*, int lane) {
  ScalesQ4_0 r;
  load_cached_64(chunk + (lane >> 2) * 4, r.s[0], r.s[1]);
  return r;
}
QE_DEV GroupScale group_scale(Q4_0Tiled, const ScalesQ4_0& s, int g) {
  const float d = (g & 1) ? half_hi_to_float(s.s[g >> 1]) : half_lo_to_float(s.s[g >> 1]);
  return {d * Q4_0Tiled::kScaleMul, 0.0f};  // exact: a power of two
}

struct ScalesQ8_0 {
  uint32_t s;  // fp16 scales of groups (0, 1)
};
QE_DEV ScalesQ8_0 load_scales(Q8_0Tiled, const uint16_t* chunk, const uint32_t*, int lane) {
  return {load_cached_32(chunk + (lane >> 2) * 2)};
}
QE_DEV GroupScale group_scale(Q8_0Tiled, const ScalesQ8_0& s, int g) {
  const float d = g ? half_hi_to_float(s.s) : half_lo_to_float(s.s);
  return {d * Q8_0Tiled::kScaleMul, 0.0f};
}

struct ScalesQ4_K {
  uint32_t scm[2];  // (sc, m) bytes of groups 0-1 and 2-3
  U32x4 dd;         // (d, dmin) fp16 of groups 0..3
};
QE_DEV ScalesQ4_K load_scales(Q4_KTiled, const uint16_t* chunk, const uint32_t*, int lane) {
  ScalesQ4_K r;
  load_cached_64(chunk + (lane >> 2) * 4, r.scm[0], r.scm[1]);
  r.dd = load_cached_128(chunk + 32);
  return r;
}
QE_DEV GroupScale group_scale(Q4_KTiled, const ScalesQ4_K& s, int g) {
  const uint32_t pair = s.scm[g >> 1] >> (16 * (g & 1));
  const uint32_t dd = word_of(s.dd, g);
  const float sc = float(pair & 0xFFu), m = float((pair >> 8) & 0xFFu);
  // d sc: 11 x 6 significant bits, exact in fp32; so is dmin m; times 8 too.
  return {half_lo_to_float(dd) * sc * Q4_KTiled::kScaleMul, -(half_hi_to_float(dd) * m)};
}

// Q4_K group g -> q / 8 in fp16, exact (no offset: the min is applied apart): (1024 + q) / 8
// - 128 and (1024 + 16 q) / 128 - 8 (-128 = 0xD800, -8 = 0xC800).
template <class S>
QE_DEV Half8 dequant_group(Q4_KTiled, const U32x4& v, const S&, int g) {
  return dequant_nibbles<0x30003000u, 0xD800D800u, 0x20002000u, 0xC800C800u>(word_of(v, g));
}

struct ScalesQ6_K {
  uint32_t hi[2];  // the high 2 bits of groups (0, 1) and (2, 3): bytes [A0, A1, B0, B1] ...
  uint32_t sc;     // int8 sc of groups 0..3
  uint32_t d[2];   // fp16 d of groups (0, 1) and (2, 3)
};
QE_DEV ScalesQ6_K load_scales(Q6_KTiled, const uint16_t* chunk, const uint32_t* codes_chunk, int lane) {
  ScalesQ6_K r;
  load_stream_64(codes_chunk + 128 + lane * 2, r.hi[0], r.hi[1]);
  r.sc = load_cached_32(chunk + (lane >> 1) * 2);
  load_cached_64(chunk + 32, r.d[0], r.d[1]);
  return r;
}
QE_DEV GroupScale group_scale(Q6_KTiled, const ScalesQ6_K& s, int g) {
  const float sc = float(int8_t(uint8_t(s.sc >> (8 * g))));
  const float d = (g & 1) ? half_hi_to_float(s.d[g >> 1]) : half_lo_to_float(s.d[g >> 1]);
  return {d * sc * 32.0f, 0.0f};  // d sc: 11 x 8 significant bits, exact in fp32
}

// Q6_K group g: the low nibbles as Q4's, the high 2 bits put above them (mantissa bits 4-5 of
// the (e0,e1) and (e4,e5) pairs, 8-9 of the x16 pairs), then (v - 32) / 32, exact in fp16.
QE_DEV Half8 dequant_group(Q6_KTiled, const U32x4& v, const ScalesQ6_K& s, int g) {
  constexpr uint32_t kMagic = 0x64006400u;     // 1024
  constexpr uint32_t kLowMul = 0x28002800u;    // 1/32:  (1024 + v) / 32 - 33 = (v - 32) / 32
  constexpr uint32_t kLowBias = 0xD020D020u;   // -33
  constexpr uint32_t kHighMul = 0x18001800u;   // 1/512: (1024 + 16 v) / 512 - 3 = (v - 32) / 32
  constexpr uint32_t kHighBias = 0xC200C200u;  // -3
  const uint32_t q = word_of(v, g), q8 = q >> 8;
  const uint32_t hw = s.hi[g >> 1] >> (8 * (g & 1));  // A in byte 0, B in byte 2
  Half8 r;
  r.h01 = hfma2(lop3<kLop3AndOr>(hw, 0x00300030u, lop3<kLop3AndOr>(q, 0x000F000Fu, kMagic)), kLowMul, kLowBias);
  r.h23 = hfma2(lop3<kLop3AndOr>(hw << 8, 0x03000300u, lop3<kLop3AndOr>(q, 0x00F000F0u, kMagic)), kHighMul, kHighBias);
  r.h45 = hfma2(lop3<kLop3AndOr>(hw >> 2, 0x00300030u, lop3<kLop3AndOr>(q8, 0x000F000Fu, kMagic)), kLowMul, kLowBias);
  r.h67 = hfma2(lop3<kLop3AndOr>(hw << 6, 0x03000300u, lop3<kLop3AndOr>(q8, 0x00F000F0u, kMagic)), kHighMul, kHighBias);
  return r;
}

// sum of a group's 8 activations in fp32 (exact conversions, a fixed order).
QE_DEV float sum8(const U32x4& x) {
  float s = half_lo_to_float(x.x) + half_hi_to_float(x.x);
  s += half_lo_to_float(x.y) + half_hi_to_float(x.y);
  s += half_lo_to_float(x.z) + half_hi_to_float(x.z);
  s += half_lo_to_float(x.w) + half_hi_to_float(x.w);
  return s;
}

template <class F>
constexpr bool kHasMin = false;
template <>
inline constexpr bool kHasMin<Q4_KTiled> = true;

template <class F>
using ScalesOf = decltype(load_scales(F{}, nullptr, nullptr, 0));

// One round of weight loads: chunks c0 .. c0 + U - 1 of the R rows (chunks past the end repeat
// the last one, which the compute loop skips), 16 bytes of codes and the lane's scales each.
template <class F, int U, int R>
QE_DEV void gemv_load_round(const uint32_t* codes, const uint16_t* scales, const int (&row)[R], int chunks, int c0,
                            int lane, U32x4 (&wq)[U][R], ScalesOf<F> (&sc)[U][R]) {
  using L = Tiled<F>;
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int c = c0 + u < chunks ? c0 + u : chunks - 1;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const size_t rc = size_t(row[r]) * size_t(chunks) + size_t(c);
      wq[u][r] = load_stream_128(codes + rc * L::kChunkWords + lane * 4);
      sc[u][r] = load_scales(F{}, scales + rc * L::kChunkScales, codes + rc * L::kChunkWords, lane);
    }
  }
}

// One 8-element group g of N rows against B activation columns: acc[n][b] += the rows' group
// terms (the fp16 partial dot times its factor, plus the min term where the format has one).
template <class F, int B, int N>
QE_DEVICE_FN void gemv_group(const U32x4 (&wq)[N], const ScalesOf<F> (&sc)[N], const uint16_t* x, int K, int k, int g,
                             float (&acc)[N][B]) {
  U32x4 xv[B];
  float xs[B];
#pragma unroll
  for (int b = 0; b < B; ++b) {
    xv[b] = load_cached_128(x + size_t(b) * size_t(K) + size_t(k));
    xs[b] = kHasMin<F> ? sum8(xv[b]) : 0.0f;
  }
#pragma unroll
  for (int n = 0; n < N; ++n) {
    const Half8 wh = dequant_group(F{}, wq[n], sc[n], g);
    const GroupScale gs = group_scale(F{}, sc[n], g);
#pragma unroll
    for (int b = 0; b < B; ++b) {
      acc[n][b] = fmaf(gs.mul, dot8(wh, xv[b]), acc[n][b]);
      if constexpr (kHasMin<F>) acc[n][b] = fmaf(gs.min, xs[b], acc[n][b]);
    }
  }
}

constexpr int kGemvThreads = 128;  // 4 warps per block
constexpr int kGemvWarps = kGemvThreads / 32;

// y[b * rows + r] = sum_k W[r, k] * x[b * K + k]
//   codes, scales: F tiled (rows, chunks); x: (B, K) fp16 bits, 16-byte aligned rows
//   (K % 8 == 0); y: (B, rows) fp32. B: batch columns (1-8); R: rows per warp; U: chunks per
//   load round. Grid: ceil(rows / (kGemvWarps * R)) blocks of kGemvThreads. (128, 4): ptxas may
//   use up to 128 registers, which keeps every instantiation free of spills.
template <class F, int B, int R, int U>
__global__ void __launch_bounds__(kGemvThreads, 4)
    gemv_a16(const uint32_t* __restrict__ codes, const uint16_t* __restrict__ scales, int rows, int K, int chunks,
             const uint16_t* __restrict__ x, float* __restrict__ y) {
  using L = Tiled<F>;
  constexpr int G = F::kGroups;
  const int lane = int(threadIdx.x) & 31;
  const int row0 = (int(blockIdx.x) * kGemvWarps + int(threadIdx.x) / 32) * R;
  if (row0 >= rows) return;  // warp-uniform

  // Rows past the end repeat the last row: loads stay in bounds, results are not written.
  int row[R];
  float acc[R][B];
  rows_begin<R, B>(row0, rows, row, acc);

  allow_dependent_launch();  // the next kernel may start streaming its own weights
  // Software pipeline: round n + 1's weights are requested before round n is computed, so a
  // warp always has a round in flight (without it each round paid the full memory latency).
  U32x4 wq[U][R];
  ScalesOf<F> sc[U][R];
  gemv_load_round<F, U, R>(codes, scales, row, chunks, 0, lane, wq, sc);
  // Weights are constant; x is the previous kernel's output. Under programmatic dependent
  // launch the first round of weight loads is in flight before we wait for that kernel.
  grid_dependency_wait();
  for (int c0 = 0; c0 < chunks; c0 += U) {
    U32x4 nq[U][R] = {};  // zeroed only to keep GCC's maybe-uninitialized quiet: read only when `more`
    ScalesOf<F> ns[U][R] = {};
    const bool more = c0 + U < chunks;
    if (more) gemv_load_round<F, U, R>(codes, scales, row, chunks, c0 + U, lane, nq, ns);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (c0 + u >= chunks) break;
#pragma unroll
      for (int g = 0; g < G; ++g) {
        const int k = (c0 + u) * L::kChunk + g * 256 + lane * 8;
        if (k >= K) continue;  // the padded tail of the last chunk
        gemv_group<F, B, R>(wq[u], sc[u], x, K, k, g, acc);
      }
    }
    if (more) {
#pragma unroll
      for (int u = 0; u < U; ++u)
#pragma unroll
        for (int r = 0; r < R; ++r) {
          wq[u][r] = nq[u][r];
          sc[u][r] = ns[u][r];
        }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int b = 0; b < B; ++b) {
      const float v = warp_sum(acc[r][b]);
      if (lane == 0 && row0 + r < rows) y[size_t(b) * size_t(rows) + size_t(row0 + r)] = v;
    }
}

// The row-tiled variant: the same arithmetic with the roles turned around, so that
// activations are read once per block instead of once per row. A block's 4 warps share a tile
// of T rows; warp w takes chunks w, w + 4, ... of every row of the tile. Per chunk a lane loads
// its activations once (G groups x B columns of 16 bytes) and runs them against the T rows'
// 16-byte code loads, all T issued together and the next chunk's requested before this one is
// computed. Activation traffic through L1 drops from 2 bytes per weight per row (per R rows in
// gemv_a16) to 2 / T, which is what held the Q4_0 kernel to ~50% of the copy bandwidth on an
// H200 (ncu: L1TEX scoreboard stalls, 40-50% SM throughput at 35% DRAM throughput). Partial
// sums meet in a shuffle butterfly per warp, then across the 4 warps in shared memory in a
// fixed order (deterministic, the simulator's bits).
//   Grid: ceil(rows / T) blocks of kGemvThreads; B <= 2.
template <class F, int B, int T>
__global__ void __launch_bounds__(kGemvThreads, 4)
    gemv_a16_rowtile(const uint32_t* __restrict__ codes, const uint16_t* __restrict__ scales, int rows, int K,
                     int chunks, const uint16_t* __restrict__ x, float* __restrict__ y) {
  using L = Tiled<F>;
  constexpr int G = F::kGroups;
  QE_SHARED(float, partial, kGemvWarps* T* B);  // (warp, row, column)
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) / 32;
  const int row0 = int(blockIdx.x) * T;

  int row[T];
  float acc[T][B];
  rows_begin<T, B>(row0, rows, row, acc);

  allow_dependent_launch();
  U32x4 wq[1][T];
  ScalesOf<F> sc[1][T];
  if (warp < chunks) gemv_load_round<F, 1, T>(codes, scales, row, chunks, warp, lane, wq, sc);
  grid_dependency_wait();  // x is the previous kernel's output
  for (int c = warp; c < chunks; c += kGemvWarps) {
    U32x4 nq[1][T] = {};  // zeroed only to keep GCC's maybe-uninitialized quiet
    ScalesOf<F> ns[1][T] = {};
    const bool more = c + kGemvWarps < chunks;
    if (more) gemv_load_round<F, 1, T>(codes, scales, row, chunks, c + kGemvWarps, lane, nq, ns);
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const int k = c * L::kChunk + g * 256 + lane * 8;
      if (k >= K) continue;  // the padded tail of the last chunk
      gemv_group<F, B, T>(wq[0], sc[0], x, K, k, g, acc);
    }
    if (more) {
#pragma unroll
      for (int t = 0; t < T; ++t) {
        wq[0][t] = nq[0][t];
        sc[0][t] = ns[0][t];
      }
    }
  }

  rowtile_store<kGemvWarps, T, B>(acc, partial, row0, rows, y);
}

}  // namespace qe::cuda
