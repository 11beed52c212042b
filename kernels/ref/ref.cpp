// ref.cpp: the scalar reference codecs (dequantize, quantize, vec_dot per block) and row/matmul drivers.
//
// One Codec<T> per row of QE_FORMAT_LIST, each with three block-level functions:
//   dequantize(const Block&, float* y)    y: (kBlockElems)
//   quantize(const float* x, Block&)      x: (kBlockElems)
//   dot(const Block& x, const VdtBlock& y) -> double, y in the format's vec_dot type
// The row drivers and the TypeOps table are generated from the list, so a format without a
// codec fails to compile. Layouts are described once, in format/qe_format.h.
//
// Dequantizers evaluate exactly the float operations (and their order) of gguf-py's numpy
// dequantizers, so results are bit-identical; the target is built with -ffp-contract=off so the
// compiler never fuses a multiply and an add into an FMA.
#include "ref/ref.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

namespace qe::ref {
namespace {

// Always-on argument check: a bad type or length is a bug in the caller.
#define QE_REF_CHECK(cond)                                                                       \
  do {                                                                                           \
    if (!(cond)) {                                                                               \
      std::fprintf(stderr, "qengine: internal check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                              \
    }                                                                                            \
  } while (0)

template <qe_type T>
using Block = typename FormatTraits<T>::Block;
template <qe_type T>
using VdtBlock = typename FormatTraits<FormatTraits<T>::kVecDotType>::Block;

constexpr float kHalfMax = 65504.0f;  // largest finite fp16

float h2f(uint16_t h) { return qe_fp16_to_fp32(h); }
uint16_t f2h(float f) { return qe_fp32_to_fp16(f); }

// Round half away from zero (C roundf, gguf-py's np_roundf); NaN maps to 0.
int round_clamp(float v, int lo, int hi) {
  if (!(v == v)) return 0;
  return static_cast<int>(std::clamp(std::round(v), static_cast<float>(lo), static_cast<float>(hi)));
}

// Truncate toward zero after clamping to [lo, hi] (gguf-py's trunc + clip for Q4_0 .. Q5_1).
int trunc_clamp(float v, int lo, int hi) {
  if (!(v == v)) return lo;
  return static_cast<int>(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi)));
}

// (int)v clamped to [lo, hi] for a value that is already integral (floor/ceil); NaN maps to lo.
int int_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  return v >= static_cast<float>(hi) ? hi : static_cast<int>(v);
}

// A scale that would become Inf in fp16 is pulled back to the largest finite half, so every
// block we write is finite (its large values then saturate). Below 65520 fp16 rounding stays
// finite on its own and the value is left alone, keeping gguf-py bit-exactness there.
float saturate_for_fp16(float d) { return std::fabs(d) >= 65520.0f ? std::copysign(kHalfMax, d) : d; }

// The smallest finite fp16 >= v (v >= 0): a super-block scale rounded up, so no integer
// sub-scale ratio exceeds its maximum.
uint16_t half_at_least(float v) {
  uint16_t h = f2h(v);
  if (h >= 0x7C00u) return 0x7BFFu;  // Inf or NaN: saturate
  if (h2f(h) < v) ++h;               // next half up (positive halves order like their bits)
  return h >= 0x7C00u ? 0x7BFFu : h;
}

// 32-bit little-endian high-bit mask of Q5_0/Q5_1 (bytes, since blocks are 2-byte aligned).
uint32_t load_qh(const uint8_t* qh) {
  return static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 | static_cast<uint32_t>(qh[2]) << 16 |
         static_cast<uint32_t>(qh[3]) << 24;
}
void store_qh(uint32_t v, uint8_t* qh) {
  for (int i = 0; i < 4; ++i) qh[i] = static_cast<uint8_t>(v >> (8 * i));
}

// ---------------------------------------------------------------------------------------------
// Legacy 32-element formats. q[i] below is the unsigned code of element i.
// ---------------------------------------------------------------------------------------------

// Nibble code of element i (0..31) of a 16-byte qs: low nibbles hold 0..15, high nibbles 16..31.
int nibble(const uint8_t* qs, int i) { return i < 16 ? (qs[i] & 15) : (qs[i - 16] >> 4); }

void pack_nibbles(const uint8_t* q, uint8_t* qs) {  // q: (32) codes, each < 16 after masking
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 15) | (q[j + 16] & 15) << 4);
}

// Signed symmetric block scale as gguf-py does it: the element of largest magnitude (first on
// ties) maps to the most negative code, d = max / qneg.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (amax < std::fabs(x[i])) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  return max;
}

template <qe_type T>
struct Codec;

template <>
struct Codec<QE_TYPE_Q4_0> {
  static void dequantize(const qe_block_q4_0& b, float* y) {
    const float d = h2f(b.d);
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(nibble(b.qs, i) - 8);
  }
  static void quantize(const float* x, qe_block_q4_0& b) {
    const float d = saturate_for_fp16(signed_absmax(x, 32) / -8.0f);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(trunc_clamp(x[i] * id + 8.5f, 0, 15));
    b.d = f2h(d);
    pack_nibbles(q, b.qs);
  }
  static double dot(const qe_block_q4_0& x, const qe_block_q8_0& y) {
    int32_t sumi = 0;
    for (int i = 0; i < 32; ++i) sumi += (nibble(x.qs, i) - 8) * y.qs[i];
    return static_cast<double>(h2f(x.d)) * h2f(y.d) * sumi;
  }
};

template <>
struct Codec<QE_TYPE_Q4_1> {
  static void dequantize(const qe_block_q4_1& b, float* y) {
    const float d = h2f(b.d), m = h2f(b.m);
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(nibble(b.qs, i)) + m;
  }
  static void quantize(const float* x, qe_block_q4_1& b) {
    const float min = *std::min_element(x, x + 32), max = *std::max_element(x, x + 32);
    const float d = saturate_for_fp16((max - min) / 15.0f);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(trunc_clamp((x[i] - min) * id + 0.5f, 0, 15));
    b.d = f2h(d);
    b.m = f2h(saturate_for_fp16(min));
    pack_nibbles(q, b.qs);
  }
  // sum (d q + m) dy qy = d dy sum(q qy) + m dy sum(qy): the min costs one term per block. The
  // exact sum(qy) is used rather than Q8_1's fp16-rounded s.
  static double dot(const qe_block_q4_1& x, const qe_block_q8_1& y) {
    int32_t sumi = 0, sumy = 0;
    for (int i = 0; i < 32; ++i) {
      sumi += nibble(x.qs, i) * y.qs[i];
      sumy += y.qs[i];
    }
    const double dy = h2f(y.d);
    return h2f(x.d) * dy * sumi + h2f(x.m) * dy * sumy;
  }
};

// Q5 code of element i: nibble plus bit i of qh as bit 4.
int q5_code(const uint8_t* qs, uint32_t qh, int i) { return nibble(qs, i) | static_cast<int>((qh >> i) & 1) << 4; }

void pack_q5(const uint8_t* q, uint8_t* qs, uint8_t* qh) {  // q: (32) codes < 32
  pack_nibbles(q, qs);
  uint32_t h = 0;
  for (int i = 0; i < 32; ++i) h |= static_cast<uint32_t>(q[i] >> 4) << i;
  store_qh(h, qh);
}

template <>
struct Codec<QE_TYPE_Q5_0> {
  static void dequantize(const qe_block_q5_0& b, float* y) {
    const float d = h2f(b.d);
    const uint32_t qh = load_qh(b.qh);
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(q5_code(b.qs, qh, i) - 16);
  }
  static void quantize(const float* x, qe_block_q5_0& b) {
    const float d = saturate_for_fp16(signed_absmax(x, 32) / -16.0f);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(trunc_clamp(x[i] * id + 16.5f, 0, 31));
    b.d = f2h(d);
    pack_q5(q, b.qs, b.qh);
  }
  static double dot(const qe_block_q5_0& x, const qe_block_q8_0& y) {
    const uint32_t qh = load_qh(x.qh);
    int32_t sumi = 0;
    for (int i = 0; i < 32; ++i) sumi += (q5_code(x.qs, qh, i) - 16) * y.qs[i];
    return static_cast<double>(h2f(x.d)) * h2f(y.d) * sumi;
  }
};

template <>
struct Codec<QE_TYPE_Q5_1> {
  static void dequantize(const qe_block_q5_1& b, float* y) {
    const float d = h2f(b.d), m = h2f(b.m);
    const uint32_t qh = load_qh(b.qh);
    for (int i = 0; i < 32; ++i) y[i] = d * static_cast<float>(q5_code(b.qs, qh, i)) + m;
  }
  static void quantize(const float* x, qe_block_q5_1& b) {
    const float min = *std::min_element(x, x + 32), max = *std::max_element(x, x + 32);
    const float d = saturate_for_fp16((max - min) / 31.0f);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t q[32];
    for (int i = 0; i < 32; ++i) q[i] = static_cast<uint8_t>(trunc_clamp((x[i] - min) * id + 0.5f, 0, 31));
    b.d = f2h(d);
    b.m = f2h(saturate_for_fp16(min));
    pack_q5(q, b.qs, b.qh);
  }
  static double dot(const qe_block_q5_1& x, const qe_block_q8_1& y) {
    const uint32_t qh = load_qh(x.qh);
    int32_t sumi = 0, sumy = 0;
    for (int i = 0; i < 32; ++i) {
      sumi += q5_code(x.qs, qh, i) * y.qs[i];
      sumy += y.qs[i];
    }
    const double dy = h2f(y.d);
    return h2f(x.d) * dy * sumi + h2f(x.m) * dy * sumy;
  }
};

// Symmetric 8-bit codes: d = amax / 127, q = round(x / d) (as x * (1/d), like gguf-py).
// Returns the unrounded d.
float quantize_int8(const float* x, int n, int8_t* q, bool fp16_scale) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  float d = amax / 127.0f;
  if (fp16_scale) d = saturate_for_fp16(d);
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(round_clamp(x[i] * id, -127, 127));
  return d;
}

int32_t dot_int8(const int8_t* a, const int8_t* b, int n) {
  int32_t s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

template <>
struct Codec<QE_TYPE_Q8_0> {
  static void dequantize(const qe_block_q8_0& b, float* y) {
    const float d = h2f(b.d);
    for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(b.qs[i]) * d;
  }
  static void quantize(const float* x, qe_block_q8_0& b) { b.d = f2h(quantize_int8(x, 32, b.qs, true)); }
  static double dot(const qe_block_q8_0& x, const qe_block_q8_0& y) {
    return static_cast<double>(h2f(x.d)) * h2f(y.d) * dot_int8(x.qs, y.qs, 32);
  }
};

template <>
struct Codec<QE_TYPE_Q8_1> {
  static void dequantize(const qe_block_q8_1& b, float* y) {
    const float d = h2f(b.d);
    for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(b.qs[i]) * d;
  }
  static void quantize(const float* x, qe_block_q8_1& b) {
    const float d = quantize_int8(x, 32, b.qs, true);
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) sum += b.qs[i];
    b.d = f2h(d);
    b.s = f2h(saturate_for_fp16(d * static_cast<float>(sum)));
  }
  static double dot(const qe_block_q8_1& x, const qe_block_q8_1& y) {
    return static_cast<double>(h2f(x.d)) * h2f(y.d) * dot_int8(x.qs, y.qs, 32);
  }
};

// ---------------------------------------------------------------------------------------------
// K-quant scale search (ours, not llama.cpp's). Per 256-element super-block:
//  1. each sub-block gets its ideal real scale (and offset) from its range;
//  2. the super-block scale d (and dmin) is the largest of them over the integer sub-scale
//     maximum, rounded UP to fp16 so every ideal ratio stays <= that maximum;
//  3. each sub-block tries the floor and ceil of its ideal ratio (and of its min ratio) and keeps
//     the candidate with the least squared error, codes chosen by nearest level.
// Why it is bounded: every candidate's step s is >= ideal - d, so the levels reach the sub-block's
// extremes to within a few d (and dmin): asymmetric |err| <= s/2 + qmax*d + dmin, symmetric
// |err| <= |s| + |qneg|*d (ref_test.cpp checks these).
// ---------------------------------------------------------------------------------------------

// Asymmetric fit: x ~ (d*sc[j]) * q - (dmin*m[j]), q in [0, qmax], sc and m in [0, smax].
struct AsymFit {
  uint16_t d, dmin;
  uint8_t sc[16], m[16];  // (n_sub)
  uint8_t q[QE_QK_K];     // (256) codes
};

void fit_asym(const float* x, int n_sub, int qmax, int smax, AsymFit* f) {
  const int len = QE_QK_K / n_sub;
  float scale[16], offset[16];
  float max_scale = 0.0f, max_offset = 0.0f;
  for (int j = 0; j < n_sub; ++j) {
    const float* xs = x + j * len;
    // The min is clamped to <= 0: the stored min term is subtracted with unsigned m and dmin >= 0.
    const float lo = std::min(0.0f, *std::min_element(xs, xs + len));
    const float hi = *std::max_element(xs, xs + len);
    scale[j] = (hi - lo) / static_cast<float>(qmax);
    offset[j] = -lo;
    max_scale = std::max(max_scale, scale[j]);
    max_offset = std::max(max_offset, offset[j]);
  }
  f->d = half_at_least(max_scale / static_cast<float>(smax));
  f->dmin = half_at_least(max_offset / static_cast<float>(smax));
  const float d = h2f(f->d), dmin = h2f(f->dmin);
  for (int j = 0; j < n_sub; ++j) {
    const float* xs = x + j * len;
    const float rs = d > 0.0f ? scale[j] / d : 0.0f;
    const float rm = dmin > 0.0f ? offset[j] / dmin : 0.0f;
    const int sc_cand[2] = {int_clamp(std::floor(rs), 0, smax), int_clamp(std::ceil(rs), 0, smax)};
    const int m_cand[2] = {int_clamp(std::floor(rm), 0, smax), int_clamp(std::ceil(rm), 0, smax)};
    double best = std::numeric_limits<double>::infinity();
    bool first = true;  // NaN input gives NaN errors: still take a candidate
    for (int sc : sc_cand) {
      for (int m : m_cand) {
        // The same float products the dequantizer forms.
        const float s = d * static_cast<float>(sc), o = dmin * static_cast<float>(m);
        uint8_t q[32];
        double err = 0.0;
        for (int i = 0; i < len; ++i) {
          q[i] = static_cast<uint8_t>(s > 0.0f ? round_clamp((xs[i] + o) / s, 0, qmax) : 0);
          const double e = static_cast<double>(xs[i]) - (s * static_cast<float>(q[i]) - o);
          err += e * e;
        }
        if (first || err < best) {
          first = false;
          best = err;
          f->sc[j] = static_cast<uint8_t>(sc);
          f->m[j] = static_cast<uint8_t>(m);
          std::copy(q, q + len, f->q + j * len);
        }
      }
    }
  }
}

// Symmetric fit: x ~ (d*sc[j]) * q, q in [qneg, -qneg - 1], sc in [-smax, smax].
struct SymFit {
  uint16_t d;
  int8_t sc[16];        // (n_sub)
  int8_t q[QE_QK_K];    // (256) signed codes
};

void fit_sym(const float* x, int n_sub, int qneg, int smax, SymFit* f) {
  const int len = QE_QK_K / n_sub;
  const int qpos = -qneg - 1;
  float scale[16], max_scale = 0.0f;
  for (int j = 0; j < n_sub; ++j) {
    // The largest-magnitude element maps to qneg exactly, using the extra negative level.
    scale[j] = signed_absmax(x + j * len, len) / static_cast<float>(qneg);
    max_scale = std::max(max_scale, std::fabs(scale[j]));
  }
  f->d = half_at_least(max_scale / static_cast<float>(smax));
  const float d = h2f(f->d);
  for (int j = 0; j < n_sub; ++j) {
    const float* xs = x + j * len;
    const float r = d > 0.0f ? scale[j] / d : 0.0f;
    const int cand[2] = {int_clamp(std::floor(r), -smax, smax), int_clamp(std::ceil(r), -smax, smax)};
    double best = std::numeric_limits<double>::infinity();
    bool first = true;
    for (int sc : cand) {
      const float s = d * static_cast<float>(sc);
      int8_t q[16];
      double err = 0.0;
      for (int i = 0; i < len; ++i) {
        q[i] = static_cast<int8_t>(s != 0.0f ? round_clamp(xs[i] / s, qneg, qpos) : 0);
        const double e = static_cast<double>(xs[i]) - s * static_cast<float>(q[i]);
        err += e * e;
      }
      if (first || err < best) {
        first = false;
        best = err;
        f->sc[j] = static_cast<int8_t>(sc);
        std::copy(q, q + len, f->q + j * len);
      }
    }
  }
}

// Sums of the 16-element groups of a Q8_K block; the K-quant dots need them per sub-block.
void q8_K_group_sums(const qe_block_q8_K& y, int32_t* sums) {  // sums: (16)
  for (int g = 0; g < 16; ++g) {
    sums[g] = 0;
    for (int i = 0; i < 16; ++i) sums[g] += y.qs[16 * g + i];
  }
}

// Q2_K / Q3_K share the 2-bit plane layout: element e = 128*h + 32*s + l is bits 2s..2s+1 of
// qs[32*h + l].
int q2_plane(const uint8_t* qs, int e) { return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3; }

template <>
struct Codec<QE_TYPE_Q2_K> {
  static void dequantize(const qe_block_q2_K& b, float* y) {
    const float d = h2f(b.d), dmin = h2f(b.dmin);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(b.scales[j] & 15);
      const float ml = dmin * static_cast<float>(b.scales[j] >> 4);
      for (int i = 0; i < 16; ++i) y[16 * j + i] = dl * static_cast<float>(q2_plane(b.qs, 16 * j + i)) - ml;
    }
  }
  static void quantize(const float* x, qe_block_q2_K& b) {
    AsymFit f;
    fit_asym(x, 16, 3, 15, &f);
    b.d = f.d;
    b.dmin = f.dmin;
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>(f.sc[j] | f.m[j] << 4);
    std::fill(b.qs, b.qs + 64, uint8_t{0});
    for (int e = 0; e < QE_QK_K; ++e) b.qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>(f.q[e] << (2 * ((e % 128) / 32)));
  }
  static double dot(const qe_block_q2_K& x, const qe_block_q8_K& y) {
    int32_t ysum[16];
    q8_K_group_sums(y, ysum);
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += q2_plane(x.qs, 16 * j + i) * y.qs[16 * j + i];
      isum += (x.scales[j] & 15) * s;
      msum += (x.scales[j] >> 4) * ysum[j];
    }
    return static_cast<double>(y.d) * (static_cast<double>(h2f(x.d)) * isum - static_cast<double>(h2f(x.dmin)) * msum);
  }
};

// Q3_K signed code of element e in [-4, 3]: the 2-bit plane, minus 4 when hmask's bit is clear.
int q3_code(const qe_block_q3_K& b, int e) {
  const int hbit = (b.hmask[e % 32] >> (e / 32)) & 1;
  return q2_plane(b.qs, e) - (hbit ? 0 : 4);
}

template <>
struct Codec<QE_TYPE_Q3_K> {
  static void dequantize(const qe_block_q3_K& b, float* y) {
    const float d = h2f(b.d);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(qe_q3_K_scale(b.scales, j));
      for (int i = 0; i < 16; ++i) y[16 * j + i] = dl * static_cast<float>(q3_code(b, 16 * j + i));
    }
  }
  static void quantize(const float* x, qe_block_q3_K& b) {
    SymFit f;
    fit_sym(x, 16, -4, 31, &f);  // 6-bit stored sc + 32 allows -32..31; use the symmetric -31..31
    b.d = f.d;
    std::fill(b.scales, b.scales + 12, uint8_t{0});
    for (int j = 0; j < 16; ++j) {
      const int u = f.sc[j] + 32;
      b.scales[j % 8] |= static_cast<uint8_t>((u & 15) << (4 * (j / 8)));
      b.scales[8 + (j & 3)] |= static_cast<uint8_t>((u >> 4) << (2 * (j >> 2)));
    }
    std::fill(b.qs, b.qs + 64, uint8_t{0});
    std::fill(b.hmask, b.hmask + 32, uint8_t{0});
    for (int e = 0; e < QE_QK_K; ++e) {
      const int u = f.q[e] + 4;  // 0..7: low 2 bits to the plane, bit 2 to hmask
      b.qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((u & 3) << (2 * ((e % 128) / 32)));
      b.hmask[e % 32] |= static_cast<uint8_t>((u >> 2) << (e / 32));
    }
  }
  static double dot(const qe_block_q3_K& x, const qe_block_q8_K& y) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += q3_code(x, 16 * j + i) * y.qs[16 * j + i];
      isum += qe_q3_K_scale(x.scales, j) * s;
    }
    return static_cast<double>(y.d) * h2f(x.d) * isum;
  }
};

// Q4_K/Q5_K: low nibble of element e (sub-block j = e/32, l = e%32) from qs[32*(j/2) + l].
int q4_K_nibble(const uint8_t* qs, int e) { return (qs[32 * (e / 64) + e % 32] >> (4 * ((e / 32) & 1))) & 15; }

void pack_q4_K(const AsymFit& f, uint8_t* scales, uint8_t* qs) {
  for (int j = 0; j < 4; ++j) {
    scales[j] = static_cast<uint8_t>(f.sc[j] | (f.sc[j + 4] >> 4) << 6);
    scales[j + 4] = static_cast<uint8_t>(f.m[j] | (f.m[j + 4] >> 4) << 6);
    scales[j + 8] = static_cast<uint8_t>((f.sc[j + 4] & 15) | (f.m[j + 4] & 15) << 4);
  }
  std::fill(qs, qs + 128, uint8_t{0});
  for (int e = 0; e < QE_QK_K; ++e) qs[32 * (e / 64) + e % 32] |= static_cast<uint8_t>((f.q[e] & 15) << (4 * ((e / 32) & 1)));
}

// Shared by Q4_K and Q5_K: code(e) gives element e's unsigned code.
template <typename B, typename CodeFn>
void dequantize_q45_K(const B& b, CodeFn code, float* y) {
  const float d = h2f(b.d), dmin = h2f(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    qe_q4_K_scale_min(b.scales, j, &sc, &m);
    const float dl = d * static_cast<float>(sc), ml = dmin * static_cast<float>(m);
    for (int i = 0; i < 32; ++i) y[32 * j + i] = dl * static_cast<float>(code(32 * j + i)) - ml;
  }
}

template <typename B, typename CodeFn>
double dot_q45_K(const B& x, CodeFn code, const qe_block_q8_K& y) {
  int32_t ysum[16];
  q8_K_group_sums(y, ysum);
  int32_t isum = 0, msum = 0;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    qe_q4_K_scale_min(x.scales, j, &sc, &m);
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += code(32 * j + i) * y.qs[32 * j + i];
    isum += sc * s;
    msum += m * (ysum[2 * j] + ysum[2 * j + 1]);
  }
  return static_cast<double>(y.d) * (static_cast<double>(h2f(x.d)) * isum - static_cast<double>(h2f(x.dmin)) * msum);
}

template <>
struct Codec<QE_TYPE_Q4_K> {
  static void dequantize(const qe_block_q4_K& b, float* y) {
    dequantize_q45_K(b, [&](int e) { return q4_K_nibble(b.qs, e); }, y);
  }
  static void quantize(const float* x, qe_block_q4_K& b) {
    AsymFit f;
    fit_asym(x, 8, 15, 63, &f);
    b.d = f.d;
    b.dmin = f.dmin;
    pack_q4_K(f, b.scales, b.qs);
  }
  static double dot(const qe_block_q4_K& x, const qe_block_q8_K& y) {
    return dot_q45_K(x, [&](int e) { return q4_K_nibble(x.qs, e); }, y);
  }
};

int q5_K_code(const qe_block_q5_K& b, int e) { return q4_K_nibble(b.qs, e) | ((b.qh[e % 32] >> (e / 32)) & 1) << 4; }

template <>
struct Codec<QE_TYPE_Q5_K> {
  static void dequantize(const qe_block_q5_K& b, float* y) {
    dequantize_q45_K(b, [&](int e) { return q5_K_code(b, e); }, y);
  }
  static void quantize(const float* x, qe_block_q5_K& b) {
    AsymFit f;
    fit_asym(x, 8, 31, 63, &f);
    b.d = f.d;
    b.dmin = f.dmin;
    pack_q4_K(f, b.scales, b.qs);
    std::fill(b.qh, b.qh + 32, uint8_t{0});
    for (int e = 0; e < QE_QK_K; ++e) b.qh[e % 32] |= static_cast<uint8_t>((f.q[e] >> 4) << (e / 32));
  }
  static double dot(const qe_block_q5_K& x, const qe_block_q8_K& y) {
    return dot_q45_K(x, [&](int e) { return q5_K_code(x, e); }, y);
  }
};

// Q6_K signed code of element e = 128*h + 64*k + t in [-32, 31] (layout in qe_format.h).
int q6_code(const qe_block_q6_K& b, int e) {
  const int h = e / 128, k = (e % 128) / 64, t = e % 64;
  const int lo = (b.ql[64 * h + t] >> (4 * k)) & 15;
  const int hi = (b.qh[32 * h + t % 32] >> (2 * (2 * k + t / 32))) & 3;
  return (lo | hi << 4) - 32;
}

template <>
struct Codec<QE_TYPE_Q6_K> {
  static void dequantize(const qe_block_q6_K& b, float* y) {
    const float d = h2f(b.d);
    for (int j = 0; j < 16; ++j) {
      const float dl = d * static_cast<float>(b.scales[j]);
      for (int i = 0; i < 16; ++i) y[16 * j + i] = dl * static_cast<float>(q6_code(b, 16 * j + i));
    }
  }
  static void quantize(const float* x, qe_block_q6_K& b) {
    SymFit f;
    fit_sym(x, 16, -32, 127, &f);
    b.d = f.d;
    std::copy(f.sc, f.sc + 16, b.scales);
    std::fill(b.ql, b.ql + 128, uint8_t{0});
    std::fill(b.qh, b.qh + 64, uint8_t{0});
    for (int e = 0; e < QE_QK_K; ++e) {
      const int u = f.q[e] + 32;  // 0..63
      const int h = e / 128, k = (e % 128) / 64, t = e % 64;
      b.ql[64 * h + t] |= static_cast<uint8_t>((u & 15) << (4 * k));
      b.qh[32 * h + t % 32] |= static_cast<uint8_t>((u >> 4) << (2 * (2 * k + t / 32)));
    }
  }
  static double dot(const qe_block_q6_K& x, const qe_block_q8_K& y) {
    int32_t isum = 0;
    for (int j = 0; j < 16; ++j) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += q6_code(x, 16 * j + i) * y.qs[16 * j + i];
      isum += x.scales[j] * s;
    }
    return static_cast<double>(y.d) * h2f(x.d) * isum;
  }
};

template <>
struct Codec<QE_TYPE_Q8_K> {
  static void dequantize(const qe_block_q8_K& b, float* y) {
    for (int i = 0; i < QE_QK_K; ++i) y[i] = b.d * static_cast<float>(b.qs[i]);
  }
  static void quantize(const float* x, qe_block_q8_K& b) {
    b.d = quantize_int8(x, QE_QK_K, b.qs, false);
    int32_t sums[16];
    q8_K_group_sums(b, sums);
    for (int g = 0; g < 16; ++g) b.bsums[g] = static_cast<int16_t>(sums[g]);
  }
  static double dot(const qe_block_q8_K& x, const qe_block_q8_K& y) {
    return static_cast<double>(x.d) * y.d * dot_int8(x.qs, y.qs, QE_QK_K);
  }
};

// ---------------------------------------------------------------------------------------------
// Plain floats: one-element "blocks"; dots take F32 activations (no rounding of activations).
// ---------------------------------------------------------------------------------------------
template <>
struct Codec<QE_TYPE_F32> {
  static void dequantize(const float& b, float* y) { *y = b; }
  static void quantize(const float* x, float& b) { b = *x; }
  static double dot(const float& x, const float& y) { return static_cast<double>(x) * y; }
};

template <>
struct Codec<QE_TYPE_F16> {
  static void dequantize(const uint16_t& b, float* y) { *y = qe_fp16_to_fp32(b); }
  static void quantize(const float* x, uint16_t& b) { b = qe_fp32_to_fp16(*x); }
  static double dot(const uint16_t& x, const float& y) { return static_cast<double>(qe_fp16_to_fp32(x)) * y; }
};

template <>
struct Codec<QE_TYPE_BF16> {
  static void dequantize(const uint16_t& b, float* y) { *y = qe_bf16_to_fp32(b); }
  static void quantize(const float* x, uint16_t& b) { b = qe_fp32_to_bf16(*x); }
  static double dot(const uint16_t& x, const float& y) { return static_cast<double>(qe_bf16_to_fp32(x)) * y; }
};

// ---------------------------------------------------------------------------------------------
// Row drivers and the ops table, generated from the format list.
// ---------------------------------------------------------------------------------------------
template <qe_type T>
void row_to_float(const void* src, float* dst, int64_t n) {
  constexpr int kBlk = FormatTraits<T>::kBlockElems;
  const auto* b = static_cast<const Block<T>*>(src);
  for (int64_t i = 0; i < n / kBlk; ++i) Codec<T>::dequantize(b[i], dst + i * kBlk);
}

template <qe_type T>
void row_from_float(const float* src, void* dst, int64_t n) {
  constexpr int kBlk = FormatTraits<T>::kBlockElems;
  auto* b = static_cast<Block<T>*>(dst);
  for (int64_t i = 0; i < n / kBlk; ++i) Codec<T>::quantize(src + i * kBlk, b[i]);
}

template <qe_type T>
float row_vec_dot(int64_t n, const void* x, const void* y) {
  static_assert(FormatTraits<FormatTraits<T>::kVecDotType>::kBlockElems == FormatTraits<T>::kBlockElems,
                "a vec_dot type must share the block size of its weight type");
  constexpr int kBlk = FormatTraits<T>::kBlockElems;
  const auto* xb = static_cast<const Block<T>*>(x);
  const auto* yb = static_cast<const VdtBlock<T>*>(y);
  double sum = 0.0;
  for (int64_t i = 0; i < n / kBlk; ++i) sum += Codec<T>::dot(xb[i], yb[i]);
  return static_cast<float>(sum);
}

#define QE_REF_OPS_ROW_(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt)                \
  TypeOps{QE_TYPE_##NAME, &row_to_float<QE_TYPE_##NAME>, &row_from_float<QE_TYPE_##NAME>, &row_vec_dot<QE_TYPE_##NAME>, \
          QE_TYPE_##vdt},
constexpr TypeOps kOps[] = {QE_FORMAT_LIST(QE_REF_OPS_ROW_)};
#undef QE_REF_OPS_ROW_

// The ops of `t`, checking that n is a whole number of its blocks.
const TypeOps& checked_ops(qe_type t, int64_t n) {
  const TypeOps* ops = type_ops(t);
  QE_REF_CHECK(ops != nullptr);
  QE_REF_CHECK(n >= 0 && n % qe_type_get(t)->block_elems == 0);
  return *ops;
}

// Dot of two float vectors (n), accumulated in double in four independent lanes: products of
// floats are exact in double, so the only error is the final rounding to float.
float dot_f32(const float* a, const float* b, int64_t n) {
  double acc[4] = {0.0, 0.0, 0.0, 0.0};
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    for (int j = 0; j < 4; ++j) acc[j] += static_cast<double>(a[k + j]) * b[k + j];
  }
  for (; k < n; ++k) acc[0] += static_cast<double>(a[k]) * b[k];
  return static_cast<float>((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

}  // namespace

const TypeOps* type_ops(qe_type t) {
  for (const TypeOps& ops : kOps) {
    if (ops.type == t) return &ops;
  }
  return nullptr;
}

void dequantize_row(qe_type t, const void* src, float* dst, int64_t n) { checked_ops(t, n).to_float(src, dst, n); }

void quantize_row(qe_type t, const float* src, void* dst, int64_t n) { checked_ops(t, n).from_float(src, dst, n); }

float vec_dot(qe_type t, int64_t n, const void* x, const void* y) { return checked_ops(t, n).vec_dot(n, x, y); }

void matmul(qe_type t, const void* W, int64_t rows, int64_t K, const float* X, int64_t batch, float* Y) {
  const TypeOps& ops = checked_ops(t, K);
  QE_REF_CHECK(K > 0 && rows >= 0 && batch >= 0);
  const size_t row_bytes = qe_row_bytes(t, K);
  const auto* w = static_cast<const uint8_t*>(W);
#pragma omp parallel
  {
    std::vector<float> wrow(static_cast<size_t>(K));  // (K) this thread's dequantized row
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      ops.to_float(w + static_cast<size_t>(r) * row_bytes, wrow.data(), K);
      for (int64_t b = 0; b < batch; ++b) Y[b * rows + r] = dot_f32(wrow.data(), X + b * K, K);
    }
  }
}

}  // namespace qe::ref
