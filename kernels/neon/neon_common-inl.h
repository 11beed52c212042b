// neon_common-inl.h: what the three AArch64 tables (neon, neon-dotprod, neon-i8mm) share: the
// integer dot primitives, activation quantizers, tile stores and the row/column loop drivers.
//
// Included only by kernels/neon/*_kernels.cpp, each compiled with its own -march. Everything here
// has internal linkage (anonymous namespace), so each table gets its own copy built with its own
// flags and the linker can never merge a dotprod-flavoured body into the plain NEON table.
//
// The common packed layout (details per type in neon_quant-inl.h): tiles of kTile = 4 weight rows,
// each 128-bit register of weights holding one "k-group" for the 4 rows:
//     byte 4*i + j = row i, element 4*g + j        (i, j < 4; g = the group)
// so that one int32 lane owns one row, which is what sdot's lane form wants:
//     vdotq_laneq_s32(acc, w, x, L): acc[i] += sum_j w[4i + j] * x[4L + j].
// A 32-element "piece" of a block is 8 such registers (groups 0..7), the canonical unpacked form
// every type decodes to before the shared dot and dequantization code runs.
#pragma once

#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cpu/cpu_kernels.h"

#define QE_NEON_INLINE inline __attribute__((always_inline))

// Always-on shape check at the kernel entry points: a violation is a caller bug.
#define QE_NEON_CHECK(cond)                                                                        \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      std::fprintf(stderr, "qengine: neon kernel check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)

namespace qe::cpu {
namespace {

constexpr int kTile = 4;  // weight rows per packed tile: one per int32/fp32 lane of a q register
// Activation bytes of one column chunk of a GEMM: the chunk is re-read once per weight tile, so
// it should stay in L2 (half of a typical 512 KiB - 2 MiB per-core L2).
constexpr size_t kChunkBytes = 192 * 1024;

QE_NEON_INLINE float32x4_t load_f16x4(const uint8_t* p) {
  // Four raw fp16 -> fp32 (FCVTL is exact for every half, subnormals and Inf included).
  return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
}

QE_NEON_INLINE uint8x16_t ld(const uint8_t* p) { return vld1q_u8(p); }
QE_NEON_INLINE int8x16_t s8(uint8x16_t v) { return vreinterpretq_s8_u8(v); }

// Variable per-lane shift: left by n, right by -n (vshlq with a negative count shifts right,
// logically for unsigned lanes). Lets a loop over bit planes use a run-time shift.
QE_NEON_INLINE uint8x16_t shift_u8(uint8x16_t v, int n) { return vshlq_u8(v, vdupq_n_s8(static_cast<int8_t>(n))); }

// ---------------------------------------------------------------------------------------------
// Integer dot primitives. Both policies compute, for 4 groups w[0..3] (layout above) and one
// activation register x (16 consecutive int8 = groups 0..3 of x):
//     dot16(acc, w, x)[i] = acc[i] + sum_{g<4} sum_{j<4} w[g][4i + j] * x[4g + j]
// i.e. the exact int32 dot of row i's 16 weights with x. dot32 does 8 groups against x0, x1.
// Integer sums are exact, so the two policies agree bit for bit whatever their internal order.
// ---------------------------------------------------------------------------------------------

// Armv8.0 Advanced SIMD: no dot instruction. Products go through smull/smlal into int16 (two
// products per lane: |w| <= 128 and |x| <= 127 give at most 2 * 16256 = 32512, no overflow),
// then sadalp folds pairs into int32. sadalp leaves rows 0,1 as [r0, r0, r1, r1] in `lo` and
// rows 2,3 in `hi`; one addp at the end gives [r0, r1, r2, r3].
struct MullDot {
  static constexpr bool kPairs = false;  // no two-column primitive (see I8mmDot)
  // x group L broadcast to 8 bytes (4 bytes twice), the partner of a row pair's 8 weight bytes.
  template <int L>
  static QE_NEON_INLINE int8x8_t bcast(int8x16_t x) {
    return vreinterpret_s8_s32(vdup_laneq_s32(vreinterpretq_s32_s8(x), L));
  }
  template <int L>
  static QE_NEON_INLINE void pair(int32x4_t& lo, int32x4_t& hi, int8x16_t wa, int8x16_t wb, int8x16_t x) {
    const int8x8_t xa = bcast<L>(x), xb = bcast<L + 1>(x);
    int16x8_t pl = vmull_s8(vget_low_s8(wa), xa);  // rows 0,1 of group L
    pl = vmlal_s8(pl, vget_low_s8(wb), xb);        // + group L+1
    int16x8_t ph = vmull_s8(vget_high_s8(wa), xa); // rows 2,3
    ph = vmlal_s8(ph, vget_high_s8(wb), xb);
    lo = vpadalq_s16(lo, pl);
    hi = vpadalq_s16(hi, ph);
  }
  static QE_NEON_INLINE int32x4_t dot16(int32x4_t acc, const int8x16_t* w, int8x16_t x) {
    int32x4_t lo = vdupq_n_s32(0), hi = lo;
    pair<0>(lo, hi, w[0], w[1], x);
    pair<2>(lo, hi, w[2], w[3], x);
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
  }
  static QE_NEON_INLINE int32x4_t dot32(const int8x16_t* w, int8x16_t x0, int8x16_t x1) {
    int32x4_t lo = vdupq_n_s32(0), hi = lo;
    pair<0>(lo, hi, w[0], w[1], x0);
    pair<2>(lo, hi, w[2], w[3], x0);
    pair<0>(lo, hi, w[4], w[5], x1);
    pair<2>(lo, hi, w[6], w[7], x1);
    return vpaddq_s32(lo, hi);
  }
};

#if defined(__ARM_FEATURE_DOTPROD)
// Armv8.2 dotprod: one sdot per group and lane. dot32 splits the 8 groups over two independent
// accumulators so the sdot latency chain is 4 deep, not 8.
struct SdotDot {
  static constexpr bool kPairs = false;
  static QE_NEON_INLINE int32x4_t dot16(int32x4_t acc, const int8x16_t* w, int8x16_t x) {
    acc = vdotq_laneq_s32(acc, w[0], x, 0);
    acc = vdotq_laneq_s32(acc, w[1], x, 1);
    acc = vdotq_laneq_s32(acc, w[2], x, 2);
    return vdotq_laneq_s32(acc, w[3], x, 3);
  }
  static QE_NEON_INLINE int32x4_t dot32(const int8x16_t* w, int8x16_t x0, int8x16_t x1) {
    const int32x4_t a = dot16(vdupq_n_s32(0), w, x0);
    const int32x4_t b = dot16(vdupq_n_s32(0), w + 4, x1);
    return vaddq_s32(a, b);
  }
};
#endif

#if defined(__ARM_FEATURE_MATMUL_INT8)
// Armv8.6 i8mm: smmla multiplies a 2x8 by an 8x2 int8 matrix into a 2x2 int32 one,
//     c[i][j] += sum_{k<8} a[i][k] * b[j][k]      (a, b: 16-byte registers, rows of 8 bytes)
// i.e. 32 multiply-adds per instruction against sdot's 16, when two activation columns share
// the weights. The group layout converts for free in registers: zip1/zip2 on 32-bit lanes of the
// groups 2m and 2m+1 give a = [row 0: 8 k | row 1: 8 k] and [row 2 | row 3] (prepared once per
// piece, `zip`), and zip1/zip2 on 64-bit lanes of two columns' activations give b = [column u:
// 8 k | column v: 8 k]. The 2x2 results [r0u, r0v, r1u, r1v] and [r2u, r2v, r3u, r3v] unzip into
// the usual one-row-per-lane vectors of each column. With a single column (GEMV) there is nothing
// to pair and the sdot primitives of SdotDot serve.
struct I8mmDot : SdotDot {
  static constexpr bool kPairs = true;
  // w[8] (groups 0..7) -> a[8]: a[2m] = rows 0,1 and a[2m+1] = rows 2,3 of groups 2m, 2m+1.
  static QE_NEON_INLINE void zip(const int8x16_t* w, int8x16_t* a) {
    for (int m = 0; m < 4; ++m) {
      const int32x4_t p = vreinterpretq_s32_s8(w[2 * m]), q = vreinterpretq_s32_s8(w[2 * m + 1]);
      a[2 * m] = vreinterpretq_s8_s32(vzip1q_s32(p, q));
      a[2 * m + 1] = vreinterpretq_s8_s32(vzip2q_s32(p, q));
    }
  }
  // Accumulates 16 elements (a: 4 prepared registers, i.e. groups 4h..4h+3 starting at a + 4h)
  // of columns u, v (16 activations each) into c01, c23.
  static QE_NEON_INLINE void mm16(const int8x16_t* a, int8x16_t xu, int8x16_t xv, int32x4_t& c01, int32x4_t& c23) {
    const int64x2_t u = vreinterpretq_s64_s8(xu), v = vreinterpretq_s64_s8(xv);
    const int8x16_t b0 = vreinterpretq_s8_s64(vzip1q_s64(u, v)), b1 = vreinterpretq_s8_s64(vzip2q_s64(u, v));
    c01 = vmmlaq_s32(c01, a[0], b0);
    c23 = vmmlaq_s32(c23, a[1], b0);
    c01 = vmmlaq_s32(c01, a[2], b1);
    c23 = vmmlaq_s32(c23, a[3], b1);
  }
  static QE_NEON_INLINE void split(int32x4_t c01, int32x4_t c23, int32x4_t& ru, int32x4_t& rv) {
    ru = vuzp1q_s32(c01, c23);
    rv = vuzp2q_s32(c01, c23);
  }
  // Two columns of dot16 (groups 4h..4h+3 of the piece: pass a + 4h and that half's x).
  static QE_NEON_INLINE void dot16x2(const int8x16_t* a, int8x16_t xu, int8x16_t xv, int32x4_t& ru, int32x4_t& rv) {
    int32x4_t c01 = vdupq_n_s32(0), c23 = c01;
    mm16(a, xu, xv, c01, c23);
    split(c01, c23, ru, rv);
  }
  // Two columns of dot32: x0/x1 are the piece's two activation registers of each column.
  static QE_NEON_INLINE void dot32x2(const int8x16_t* a, int8x16_t x0u, int8x16_t x1u, int8x16_t x0v, int8x16_t x1v,
                                     int32x4_t& ru, int32x4_t& rv) {
    int32x4_t c01 = vdupq_n_s32(0), c23 = c01;
    mm16(a, x0u, x0v, c01, c23);
    mm16(a + 4, x1u, x1v, c01, c23);
    split(c01, c23, ru, rv);
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// Activation quantizers, bit-exact with spec::quantize_act32/256 (a8_spec.cpp): amax by fmax
// (exact), d = amax / 127, id = 1 / d, q = fcvtns(x * id) (round half to even, as nearbyint in
// the default rounding mode) clamped to [-127, 127] (clamping after the conversion is the same
// as clamping the rounded float first: both are monotonic and +-127 are exact).
// ---------------------------------------------------------------------------------------------

// n = 8 * m floats of x -> n int8 in q; returns the block's d.
template <int kVecs>
QE_NEON_INLINE float quantize_vecs(const float* x, int8_t* q) {
  float32x4_t v[kVecs];
  float32x4_t mx = vdupq_n_f32(0.0f);
  for (int i = 0; i < kVecs; ++i) {
    v[i] = vld1q_f32(x + 4 * i);
    mx = vmaxq_f32(mx, vabsq_f32(v[i]));
  }
  const float amax = vmaxvq_f32(mx);
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const int32x4_t lim = vdupq_n_s32(127);
  for (int i = 0; i < kVecs; i += 4) {
    int16x8_t h[2];
    for (int k = 0; k < 2; ++k) {
      int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(v[i + 2 * k], id));
      int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(v[i + 2 * k + 1], id));
      a = vmaxq_s32(vminq_s32(a, lim), vnegq_s32(lim));
      b = vmaxq_s32(vminq_s32(b, lim), vnegq_s32(lim));
      h[k] = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
    }
    vst1q_s8(q + 4 * i, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
  }
  return d;
}

// spec::quantize_act32: per 16-element half, c = 0.5·min + 0.5·max (fminv/fmaxv are exact),
// d = max|x − c| / 127, q = fcvtns((x − c)·id) clamped; s from the spec's two fmas.
[[maybe_unused]] void quantize_act32(const float* x, ActBlock32* dst, int64_t K) {
  const int32x4_t lim = vdupq_n_s32(127);
  for (int64_t b = 0; b < K / 32; ++b) {
    ActBlock32& o = dst[b];
    float s[2];
    for (int h = 0; h < 2; ++h) {
      float32x4_t v[4];
      for (int i = 0; i < 4; ++i) v[i] = vld1q_f32(x + 32 * b + 16 * h + 4 * i);
      const float lo = vminvq_f32(vminq_f32(vminq_f32(v[0], v[1]), vminq_f32(v[2], v[3])));
      const float hi = vmaxvq_f32(vmaxq_f32(vmaxq_f32(v[0], v[1]), vmaxq_f32(v[2], v[3])));
      const float c = 0.5f * lo + 0.5f * hi;
      float32x4_t mx = vdupq_n_f32(0.0f);
      for (int i = 0; i < 4; ++i) {
        v[i] = vsubq_f32(v[i], vdupq_n_f32(c));
        mx = vmaxq_f32(mx, vabsq_f32(v[i]));
      }
      const float d = vmaxvq_f32(mx) / 127.0f;
      const float id = d != 0.0f ? 1.0f / d : 0.0f;
      int32x4_t q[4];
      for (int i = 0; i < 4; ++i) q[i] = vmaxq_s32(vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(v[i], id)), lim), vnegq_s32(lim));
      const int16x8_t q01 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1])), q23 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
      vst1q_s8(o.qs + 16 * h, vcombine_s8(vmovn_s16(q01), vmovn_s16(q23)));
      const int32_t qsum = vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
      o.d[h] = d;
      o.c[h] = c;
      o.qsum[h] = static_cast<int16_t>(qsum);
      s[h] = std::fma(static_cast<float>(qsum), d, 16.0f * c);
    }
    o.s = s[0] + s[1];
  }
}

[[maybe_unused]] void quantize_act256(const float* x, qe_block_q8_K* dst, int64_t K) {
  for (int64_t b = 0; b < K / 256; ++b) {
    qe_block_q8_K& o = dst[b];
    o.d = quantize_vecs<64>(x + 256 * b, o.qs);
    for (int g = 0; g < 16; ++g) o.bsums[g] = vaddlvq_s8(vld1q_s8(o.qs + 16 * g));
  }
}

// ---------------------------------------------------------------------------------------------
// Drivers. A type kernel computes one tile (4 rows) against NC activation columns:
//     Kern::template run<NC>(tile, K, x_col0, x_col_stride, out[NC])   out[c] = rows 0..3
// The drivers walk rows [r0, r1) tile by tile and the batch in chunks of columns that fit in L2:
//     for chunk: for tile: for 4 columns (then the remaining ones singly): run, store.
// Each weight tile is thus loaded (and unpacked) once per block for 4 columns at a time, and
// re-streamed once per chunk, never once per column.
// ---------------------------------------------------------------------------------------------

// Stores a tile's 4 results at y[row0 ..], only the rows below r1 (the last tile may be ragged).
QE_NEON_INLINE void store_tile(float* y, int64_t row0, int64_t r1, float32x4_t v) {
  if (row0 + kTile <= r1) {
    vst1q_f32(y + row0, v);
    return;
  }
  float tmp[kTile];
  vst1q_f32(tmp, v);
  for (int64_t r = row0; r < r1; ++r) y[r] = tmp[r - row0];
}

template <class Kern, class X>
void drive(const uint8_t* packed, size_t tile_bytes, int64_t K, int64_t r0, int64_t r1, const X* x, size_t x_col_elems,
           int64_t batch, float* y, int64_t ldy) {
  const size_t col_bytes = std::max<size_t>(1, x_col_elems * sizeof(X));
  const int64_t chunk = std::max<int64_t>(4, static_cast<int64_t>(kChunkBytes / col_bytes) & ~int64_t{3});
  for (int64_t c0 = 0; c0 < batch; c0 += chunk) {
    const int64_t c1 = std::min(batch, c0 + chunk);
    for (int64_t row0 = r0; row0 < r1; row0 += kTile) {
      const uint8_t* tp = packed + static_cast<size_t>(row0 / kTile) * tile_bytes;
      int64_t c = c0;
      float32x4_t out[4];
      for (; c + 4 <= c1; c += 4) {
        Kern::template run<4>(tp, K, x + static_cast<size_t>(c) * x_col_elems, x_col_elems, out);
        for (int i = 0; i < 4; ++i) store_tile(y + (c + i) * ldy, row0, r1, out[i]);
      }
      for (; c < c1; ++c) {
        Kern::template run<1>(tp, K, x + static_cast<size_t>(c) * x_col_elems, x_col_elems, out);
        store_tile(y + c * ldy, row0, r1, out[0]);
      }
    }
  }
}

QE_NEON_INLINE void check_range(int64_t rows, int64_t K, int64_t blk, int64_t r0, int64_t r1) {
  QE_NEON_CHECK(K > 0 && K % blk == 0);
  QE_NEON_CHECK(r0 >= 0 && r0 % kTile == 0 && r0 <= r1 && r1 <= rows);
}

}  // namespace
}  // namespace qe::cpu
