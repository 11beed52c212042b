// avx2 kernel table (AVX2 + FMA + F16C): 8-row tiled GEMV/GEMM drivers for every weight type in both modes and the AVX2 activation quantizers.
//
// Layouts and the per-type block arithmetic live in avx2_formats-inl.h. This file owns:
//   - quantize_act32 / quantize_act256: bit-exact with spec::quantize_act32/256;
//   - gemm_a8: one 8-row tile against NC <= 4 activation columns at a time, every tile-block
//     decoded once and used for all NC columns (NC = 1 is the GEMV);
//   - gemm_a16: the GEMV (batch 1) sums u·x per sub-block in registers and scales once per
//     sub-block; the GEMM dequantizes one tile to an fp32 scratch ([K][8], L2-resident) and
//     runs an 8-row x 8-column FMA micro-kernel over it;
//   - the float types (F32, F16, BF16), stored as [K][8] tiles of the original element type.
// Columns are processed in chunks whose activations fit in L2, so a tile's weights are read
// from memory once per chunk and then from L1/L2.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "avx2/avx2_formats-inl.h"
#include "cpu/cpu_kernels.h"

namespace qe::cpu {
namespace avx2 {
namespace {

// ---------------------------------------------------------------------------------------------
// Activation quantization (a8_spec.h): amax = max|x|, d = amax / 127, id = d ? 1/d : 0,
// q = round_half_even(x·id) clamped to ±127. The products x·id are the spec's fp32 products;
// vcvtps2dq rounds half to even under the default MXCSR, like nearbyint; clamping before or
// after rounding gives the same integer because ±127 are integers.
// ---------------------------------------------------------------------------------------------
inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline int32_t hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// max|x| over n floats (n a multiple of 32).
inline float amax_of(const float* x, int n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  for (int i = 0; i < n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
  return hmax(m);
}

// 32 floats -> 32 int8 at q (element order); returns Σq as int32 lanes.
inline __m256i round32(const float* x, __m256 id, int8_t* q) {
  const __m256 lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  __m256i v[4];
  for (int i = 0; i < 4; ++i) {
    const __m256 f = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * i), id);
    v[i] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(f, lo), hi));
  }
  // vpackssdw / vpacksswb work per 128-bit lane: the bytes come out as dwords of elements
  // [0-3, 8-11, 16-19, 24-27, 4-7, 12-15, 20-23, 28-31]; vpermd restores element order.
  const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  return _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3]));
}

inline __m256 inv_scale(float amax, float* d_out) {
  const float d = amax / 127.0f;
  *d_out = d;
  return _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

// spec::quantize_act32: per 16-element half, c = 0.5·min + 0.5·max, d = max|x − c| / 127,
// q = round((x − c)·id). min, max and max|x − c| are exact in any order.
void quantize_act32(const float* x, ActBlock32* dst, int64_t K) {
  const __m256 sign = _mm256_set1_ps(-0.0f), lo = _mm256_set1_ps(-127.0f), hi = _mm256_set1_ps(127.0f);
  for (int64_t b = 0; b < K / 32; ++b) {
    ActBlock32& o = dst[b];
    __m256i v[4];
    float s[2];
    for (int h = 0; h < 2; ++h) {
      const __m256 x0 = _mm256_loadu_ps(x + 32 * b + 16 * h), x1 = _mm256_loadu_ps(x + 32 * b + 16 * h + 8);
      const float c = 0.5f * hmin(_mm256_min_ps(x0, x1)) + 0.5f * hmax(_mm256_max_ps(x0, x1));
      const __m256 vc = _mm256_set1_ps(c);
      const __m256 t0 = _mm256_sub_ps(x0, vc), t1 = _mm256_sub_ps(x1, vc);
      const __m256 id = inv_scale(hmax(_mm256_max_ps(_mm256_andnot_ps(sign, t0), _mm256_andnot_ps(sign, t1))), &o.d[h]);
      v[2 * h] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(t0, id), lo), hi));
      v[2 * h + 1] = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(t1, id), lo), hi));
      o.c[h] = c;
      const int32_t qsum = hsum_i32(_mm256_add_epi32(v[2 * h], v[2 * h + 1]));
      o.qsum[h] = static_cast<int16_t>(qsum);
      s[h] = std::fma(static_cast<float>(qsum), o.d[h], 16.0f * c);
    }
    // Byte order as in round32: vpackssdw / vpacksswb per 128-bit lane, vpermd restores it.
    const __m256i w = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(o.qs), _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    o.s = s[0] + s[1];
  }
}

void quantize_act256(const float* x, qe_block_q8_K* dst, int64_t K) {
  for (int64_t b = 0; b < K / 256; ++b) {
    const float* xb = x + 256 * b;
    qe_block_q8_K& o = dst[b];
    const __m256 id = inv_scale(amax_of(xb, 256), &o.d);
    for (int c = 0; c < 8; ++c) round32(xb + 32 * c, id, o.qs + 32 * c);
    // bsums: vpmaddubsw with ones gives pair sums, vpmaddwd with ones sums of 4; then one
    // horizontal add per 16-element group.
    for (int c = 0; c < 8; ++c) {
      const __m256i q = load256(o.qs + 32 * c);
      const __m256i s4 = _mm256_madd_epi16(_mm256_maddubs_epi16(bytes(1), q), ones16());  // dwords 0-3: group 2c, 4-7: 2c+1
      __m128i a = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm_shuffle_epi32(_mm256_castsi256_si128(s4), 0x4E));
      __m128i b2 = _mm_add_epi32(_mm256_extracti128_si256(s4, 1), _mm_shuffle_epi32(_mm256_extracti128_si256(s4, 1), 0x4E));
      a = _mm_add_epi32(a, _mm_shuffle_epi32(a, 0xB1));
      b2 = _mm_add_epi32(b2, _mm_shuffle_epi32(b2, 0xB1));
      o.bsums[2 * c] = static_cast<int16_t>(_mm_cvtsi128_si32(a));
      o.bsums[2 * c + 1] = static_cast<int16_t>(_mm_cvtsi128_si32(b2));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Shared driver pieces.
// ---------------------------------------------------------------------------------------------

// Stores the 8 row lanes of v to y[0 .. nrows).
inline void store_rows(float* y, __m256 v, int nrows) {
  if (nrows == kTile) {
    _mm256_storeu_ps(y, v);
  } else {
    alignas(32) float t[kTile];
    _mm256_store_ps(t, v);
    std::memcpy(y, t, sizeof(float) * static_cast<size_t>(nrows));
  }
}

// Columns per chunk: as many as keep `bytes_per_col` of activations per chunk within ~512 KiB
// (half of this CPU class's L2), a multiple of `step`, at least `step`.
inline int64_t chunk_cols(size_t bytes_per_col, int64_t step) {
  const int64_t n = static_cast<int64_t>((512u << 10) / std::max<size_t>(bytes_per_col, 1));
  return std::max<int64_t>(step, std::min<int64_t>(128, n / step * step));
}

// Runs f(integral_constant<n>) for a runtime n in [1, kMax].
template <int kMax, class Fn>
inline void with_nc(int n, Fn&& f) {
  static_for<kMax>([&](auto i) {
    if (n == decltype(i)::value + 1) f(std::integral_constant<int, decltype(i)::value + 1>{});
  });
}

// ---------------------------------------------------------------------------------------------
// Quantized formats.
// ---------------------------------------------------------------------------------------------
template <class F>
size_t tile_bytes(int64_t K) {
  return static_cast<size_t>(K / F::kBlock) * (F::kQBytes + F::kMBytes);
}

template <class F>
size_t packed_bytes(int64_t rows, int64_t K) {
  return static_cast<size_t>((rows + kTile - 1) / kTile) * tile_bytes<F>(K);
}

// Calls f(b, q, m) for the tile-blocks of one tile in order (q, m: the block's quant and meta
// parts), walking the groups of the layout (avx2_formats-inl.h); pf, when given, is kept
// prefetching ahead of each group.
template <class F, class Pf, class Fn>
inline void for_blocks(const uint8_t* tile, int64_t nb, Pf* pf, Fn&& f) {
  for (int64_t b0 = 0; b0 < nb; b0 += F::kGroup) {
    const int n = static_cast<int>(std::min<int64_t>(F::kGroup, nb - b0));
    const uint8_t* q = tile + b0 * (F::kQBytes + F::kMBytes);
    const uint8_t* m = q + n * F::kQBytes;
    if (pf != nullptr) pf->upto(m + n * F::kMBytes);
    for (int i = 0; i < n; ++i) f(b0 + i, q + i * F::kQBytes, m + i * F::kMBytes);
  }
}

// Software prefetch along one thread's weight stream [start, end): keeps every line up to
// kPrefetchBytes past the group being read requested. With the hardware prefetchers alone one
// core streams a GEMV at ~34 GB/s here; 16 KiB ahead it reaches ~47 GB/s (bench_avx2, Q4_0
// 2048x5632; 4 KiB: ~36, 64 KiB: ~43). The cursor only moves forward, so passes that re-read
// cached tiles (GEMM column groups) issue nothing, and it stops at `end` so a thread never pulls
// in another thread's rows.
constexpr int64_t kPrefetchBytes = 16384;
struct Prefetcher {
  const char* next;  // first line not yet requested
  const char* end;
  Prefetcher(const void* start, const void* stop)
      : next(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(start) & ~uintptr_t{63})),
        end(static_cast<const char*>(stop)) {}
  void upto(const void* p) {
    const char* t = std::min(static_cast<const char*>(p) + kPrefetchBytes, end);
    for (; next < t; next += 64) _mm_prefetch(next, _MM_HINT_T0);
  }
};

// GGUF rows -> tiles. Rows past `rows` read an all-zero block (fp16 scales 0: the padding rows
// compute exact zeros and are never stored). Thread-safe; pack time is a few GB/s of GGUF input
// for every type (bench_avx2 prints it), so loading is bound by reading the file.
template <class F>
void pack(const void* src, int64_t rows, int64_t K, void* dst) {
  static const uint8_t kZeroBlock[sizeof(typename FormatTraits<F::kType>::Block)] = {};  // padding rows
  const int64_t nb = K / F::kBlock;
  const size_t row_bytes = qe_row_bytes(F::kType, K), bb = sizeof(kZeroBlock);
  std::memset(dst, 0, packed_bytes<F>(rows, K));  // meta padding bytes
  for (int64_t t = 0; t < (rows + kTile - 1) / kTile; ++t) {
    uint8_t* tile = static_cast<uint8_t*>(dst) + static_cast<size_t>(t) * tile_bytes<F>(K);
    for_blocks<F, Prefetcher>(tile, nb, nullptr, [&](int64_t b, const uint8_t* q, const uint8_t* m) {
      const uint8_t* blk[kTile];
      for (int r = 0; r < kTile; ++r) {
        const int64_t row = t * kTile + r;
        blk[r] = row < rows ? static_cast<const uint8_t*>(src) + static_cast<size_t>(row) * row_bytes + static_cast<size_t>(b) * bb
                            : kZeroBlock;
      }
      F::pack_block(blk, const_cast<uint8_t*>(q), const_cast<uint8_t*>(m));
    });
  }
}

// --- A8 ---------------------------------------------------------------------------------------
template <class F>
using ActOf = std::conditional_t<F::kBlock == 32, ActBlock32, qe_block_q8_K>;

// One tile (8 rows) against NC activation rows xq + c·xrow: Y[c·ldy + 0 .. nrows).
// Bit-exactness with the spec: lane r of acc[c] is row r's accumulator for column c; it starts
// at 0.0f and receives that row's blocks in order through F::a8, whose float ops are the
// spec's (fp16 scales converted exactly, d·dx rounded once, fma rounded once). The integer sums
// are exact, so their internal order (vpmaddubsw pairs, vpmaddwd, lane-wise adds) is free.
template <class F, int NC>
void a8_tile(const uint8_t* tile, int64_t nb, Prefetcher* pf, const uint8_t* xq, size_t xrow, float* y, int64_t ldy,
             int nrows) {
  using Act = ActOf<F>;
  __m256 acc[NC];
  const Act* x[NC];
  for (int c = 0; c < NC; ++c) {
    acc[c] = _mm256_setzero_ps();
    x[c] = reinterpret_cast<const Act*>(xq + c * xrow);
  }
  for_blocks<F>(tile, nb, pf, [&](int64_t b, const uint8_t* q, const uint8_t* m) {
    const Act* xb[NC];
    for (int c = 0; c < NC; ++c) xb[c] = x[c] + b;
    F::template a8<NC>(q, m, xb, acc);
  });
  for (int c = 0; c < NC; ++c) store_rows(y + c * ldy, acc[c], nrows);
}

template <class F>
void gemm_a8(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const void* xq, int64_t batch,
             float* y, int64_t ldy) {
  (void)rows;
  // Columns per register pass: every tile-block is decoded once and used for kNc columns. With
  // 16 ymm (8 groups, kNc accumulators, scales, temporaries) 4 spills a little; measured
  // (bench_avx2, 1024x2048, batch 128) NC = 2: 108, 3: 115, 4: 124, 5: 126, 6: 123 GMAC/s
  // on Q4_0, the same shape on Q8_0/Q4_K/Q6_K.
  constexpr int kNc = 4;
  const int64_t nb = K / F::kBlock;
  const size_t tb = tile_bytes<F>(K), xrow = static_cast<size_t>(nb) * sizeof(ActOf<F>);
  const auto* base = static_cast<const uint8_t*>(packed);
  const auto* x = static_cast<const uint8_t*>(xq);
  // Loop order: column chunk (activations L2-resident) > tile (weights read from memory once per
  // chunk, then from L1/L2) > kNc-column pass > blocks. batch = 1 is the GEMV: one pass per tile.
  const int64_t step = chunk_cols(xrow, kNc);
  for (int64_t c0 = 0; c0 < batch; c0 += step) {
    const int64_t c1 = std::min(batch, c0 + step);
    Prefetcher pf(base + static_cast<size_t>(r0 / kTile) * tb, base + static_cast<size_t>((r1 + kTile - 1) / kTile) * tb);
    for (int64_t r = r0; r < r1; r += kTile) {
      const uint8_t* tile = base + static_cast<size_t>(r / kTile) * tb;
      const int nrows = static_cast<int>(std::min<int64_t>(kTile, r1 - r));
      for (int64_t c = c0; c < c1; c += kNc) {
        with_nc<kNc>(static_cast<int>(std::min<int64_t>(kNc, c1 - c)), [&](auto nc) {
          a8_tile<F, decltype(nc)::value>(tile, nb, &pf, x + static_cast<size_t>(c) * xrow, xrow, y + c * ldy + r, ldy, nrows);
        });
      }
    }
  }
}

// --- A16 --------------------------------------------------------------------------------------

// Byte J of every 32-bit lane as int32, zero- or sign-extended.
template <int J, bool kSigned>
inline __m256i byte_lane(__m256i g) {
  if constexpr (kSigned) {
    if constexpr (J == 3) return _mm256_srai_epi32(g, 24);
    else return _mm256_srai_epi32(_mm256_slli_epi32(g, 24 - 8 * J), 24);
  } else {
    // vpshufb moves byte J of each dword to byte 0 and zeroes the other three (index bit 7 set):
    // one op where a shift and a mask take two.
    constexpr char z = -128;
    return _mm256_shuffle_epi8(g, _mm256_setr_epi8(J, z, z, z, 4 + J, z, z, z, 8 + J, z, z, z, 12 + J, z, z, z,
                                                   J, z, z, z, 4 + J, z, z, z, 8 + J, z, z, z, 12 + J, z, z, z));
  }
}

// Element 4i+J of the chunk as 8 row floats (exact: the integers are below 2^24).
template <class F, int J>
inline __m256 value_f(const __m256i* g, int i) {
  return _mm256_cvtepi32_ps(byte_lane<J, F::kSigned>(g[i]));
}

// Σ x over every kSub elements of a column: sx[s] for s < K / kSub. The GEMV applies each
// sub-block's bias (the offset −8·d of Q4_0, the min of Q4_1, −dmin·m of Q4_K, ...) as one
// bias·Σx instead of one add per weight; computed once per call, shared by every tile.
inline void sub_sums(const float* x, int64_t K, int sub, float* sx) {
  for (int64_t s = 0; s < K / sub; ++s) {
    __m256 a = _mm256_loadu_ps(x + s * sub);
    for (int i = 8; i < sub; i += 8) a = _mm256_add_ps(a, _mm256_loadu_ps(x + s * sub + i));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    sx[s] = _mm_cvtss_f32(h);
  }
}

// GEMV of one tile: Σ_sub (scale·Σ u·x + bias·Σx), Σ u·x in four FMA chains (one per byte of
// the group) so the sub-block's FMAs are not one serial dependency.
template <class F>
__m256 a16_gemv_tile(const uint8_t* tile, int64_t nb, Prefetcher* pf, const float* x, const float* sx) {
  constexpr int kGroups = F::kSub / 4;  // groups per sub-block
  __m256 acc = _mm256_setzero_ps();
  for_blocks<F>(tile, nb, pf, [&](int64_t b, const uint8_t* q, const uint8_t* m) {
    for (int c = 0; c < F::kBlock / 32; ++c) {
      __m256i g[8];
      F::Chunk::decode(q + c * F::Chunk::kBytes, g);
      const float* xc = x + b * F::kBlock + 32 * c;
      static_for<32 / F::kSub>([&](auto h) {
        __m256 bs[4];
        for (auto& v : bs) v = _mm256_setzero_ps();
        for (int i = decltype(h)::value * kGroups; i < (decltype(h)::value + 1) * kGroups; ++i) {
          bs[0] = _mm256_fmadd_ps(value_f<F, 0>(g, i), _mm256_set1_ps(xc[4 * i + 0]), bs[0]);
          bs[1] = _mm256_fmadd_ps(value_f<F, 1>(g, i), _mm256_set1_ps(xc[4 * i + 1]), bs[1]);
          bs[2] = _mm256_fmadd_ps(value_f<F, 2>(g, i), _mm256_set1_ps(xc[4 * i + 2]), bs[2]);
          bs[3] = _mm256_fmadd_ps(value_f<F, 3>(g, i), _mm256_set1_ps(xc[4 * i + 3]), bs[3]);
        }
        const int s = c * (32 / F::kSub) + decltype(h)::value;  // sub-block within the block
        __m256 scale, bias;
        F::a16_scale_bias(m, s, &scale, &bias);
        acc = _mm256_fmadd_ps(scale, _mm256_add_ps(_mm256_add_ps(bs[0], bs[1]), _mm256_add_ps(bs[2], bs[3])), acc);
        if constexpr (F::kBias) acc = _mm256_fmadd_ps(bias, _mm256_set1_ps(sx[b * (F::kBlock / F::kSub) + s]), acc);
      });
    }
  });
  return acc;
}

// Dequantizes one tile to w[k·8 + row] = scale·u + bias (fp32).
template <class F>
void dequant_tile(const uint8_t* tile, int64_t nb, Prefetcher* pf, float* w) {
  constexpr int kGroups = F::kSub / 4;
  for_blocks<F>(tile, nb, pf, [&](int64_t b, const uint8_t* q, const uint8_t* m) {
    for (int c = 0; c < F::kBlock / 32; ++c) {
      __m256i g[8];
      F::Chunk::decode(q + c * F::Chunk::kBytes, g);
      float* wc = w + 8 * (b * F::kBlock + 32 * c);
      for (int h = 0; h < 32 / F::kSub; ++h) {
        __m256 scale, bias;
        F::a16_scale_bias(m, c * (32 / F::kSub) + h, &scale, &bias);
        for (int i = h * kGroups; i < (h + 1) * kGroups; ++i) {
          _mm256_store_ps(wc + 8 * (4 * i + 0), _mm256_fmadd_ps(value_f<F, 0>(g, i), scale, bias));
          _mm256_store_ps(wc + 8 * (4 * i + 1), _mm256_fmadd_ps(value_f<F, 1>(g, i), scale, bias));
          _mm256_store_ps(wc + 8 * (4 * i + 2), _mm256_fmadd_ps(value_f<F, 2>(g, i), scale, bias));
          _mm256_store_ps(wc + 8 * (4 * i + 3), _mm256_fmadd_ps(value_f<F, 3>(g, i), scale, bias));
        }
      }
    }
  });
}

// fp32 weight loaders for the micro-kernel: 8 row values of column k of a [K][8] tile.
// addr(k): where column k lives (for the prefetcher).
struct LoadF32 {
  const float* p;
  __m256 operator()(int64_t k) const { return _mm256_loadu_ps(p + 8 * k); }
  const void* addr(int64_t k) const { return p + 8 * k; }
};
struct LoadF16 {
  const uint16_t* p;
  __m256 operator()(int64_t k) const { return fp16x8(p + 8 * k); }
  const void* addr(int64_t k) const { return p + 8 * k; }
};
struct LoadBF16 {  // bf16 is the top half of an fp32: widen and shift left 16
  const uint16_t* p;
  __m256 operator()(int64_t k) const {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(p + 8 * k)), 16));
  }
  const void* addr(int64_t k) const { return p + 8 * k; }
};

// Y[c·ldy + row] = Σ_k w(k)[row]·x[c·ldx + k] for NC columns. Each column keeps kCh FMA chains
// (k mod kCh) so that at least ~4 chains are in flight (FMA latency 4, two FMA pipes).
template <int NC, class W>
void micro(const W& w, int64_t K, const float* x, int64_t ldx, float* y, int64_t ldy, int nrows,
           Prefetcher* pf = nullptr) {
  constexpr int kCh = NC >= 4 ? 1 : (NC == 1 ? 4 : 2);
  __m256 acc[NC][kCh];
  for (auto& a : acc)
    for (auto& v : a) v = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + kCh <= K; k += kCh) {
    if (pf != nullptr) pf->upto(w.addr(k));
    for (int j = 0; j < kCh; ++j) {
      const __m256 wk = w(k + j);
      for (int c = 0; c < NC; ++c) acc[c][j] = _mm256_fmadd_ps(wk, _mm256_set1_ps(x[c * ldx + k + j]), acc[c][j]);
    }
  }
  for (; k < K; ++k) {
    const __m256 wk = w(k);
    for (int c = 0; c < NC; ++c) acc[c][0] = _mm256_fmadd_ps(wk, _mm256_set1_ps(x[c * ldx + k]), acc[c][0]);
  }
  for (int c = 0; c < NC; ++c) {
    __m256 s = acc[c][0];
    for (int j = 1; j < kCh; ++j) s = _mm256_add_ps(s, acc[c][j]);
    store_rows(y + c * ldy, s, nrows);
  }
}

constexpr int kMicroCols = 8;  // 8 accumulators + weights + broadcast: 10 of 16 ymm

// Rows [r0, r1) x columns [0, batch) through the micro-kernel, one tile at a time;
// tile_w(tile index) returns that tile's loader (after dequantizing it if needed).
template <class TileW>
void a16_gemm_driver(int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch, float* y, int64_t ldy,
                     TileW&& tile_w) {
  const int64_t step = chunk_cols(static_cast<size_t>(K) * sizeof(float), kMicroCols);
  for (int64_t c0 = 0; c0 < batch; c0 += step) {
    const int64_t c1 = std::min(batch, c0 + step);
    for (int64_t r = r0; r < r1; r += kTile) {
      const auto w = tile_w(r / kTile);
      const int nrows = static_cast<int>(std::min<int64_t>(kTile, r1 - r));
      for (int64_t c = c0; c < c1; c += kMicroCols) {
        with_nc<kMicroCols>(static_cast<int>(std::min<int64_t>(kMicroCols, c1 - c)), [&](auto nc) {
          micro<decltype(nc)::value>(w, K, x + c * K, K, y + c * ldy + r, ldy, nrows);
        });
      }
    }
  }
}

// Per-thread scratch, 32-byte aligned: one dequantized tile ([K][8] fp32) or sub-block sums.
struct alignas(32) Floats8 {
  float v[8];
};
inline float* scratch(std::vector<Floats8>& v, size_t floats) {
  if (v.size() * 8 < floats) v.resize((floats + 7) / 8);
  return reinterpret_cast<float*>(v.data());
}

// A16 entry point. GEMV (batch 1): decode in registers, one pass over the weights; it is bound
// by vector ops (per 8 weights: byte select, convert, FMA, plus the decode), ~17 GB/s of Q4_0
// per core, below what a core can stream. GEMM: the tile is dequantized once per column chunk
// into an L1/L2 scratch and the 8x8 micro-kernel runs at the FMA peak (~55 GMAC/s per core),
// the dequantization amortized over the chunk's columns.
template <class F>
void gemm_a16(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
              float* y, int64_t ldy) {
  (void)rows;
  const int64_t nb = K / F::kBlock;
  const size_t tb = tile_bytes<F>(K);
  const auto* base = static_cast<const uint8_t*>(packed);
  if (batch == 1) {
    thread_local std::vector<Floats8> sx_buf;
    float* sx = scratch(sx_buf, static_cast<size_t>(K / F::kSub));
    if constexpr (F::kBias) sub_sums(x, K, F::kSub, sx);
    Prefetcher pf(base + static_cast<size_t>(r0 / kTile) * tb, base + static_cast<size_t>((r1 + kTile - 1) / kTile) * tb);
    for (int64_t r = r0; r < r1; r += kTile) {
      const __m256 acc = a16_gemv_tile<F>(base + static_cast<size_t>(r / kTile) * tb, nb, &pf, x, sx);
      store_rows(y + r, acc, static_cast<int>(std::min<int64_t>(kTile, r1 - r)));
    }
    return;
  }
  thread_local std::vector<Floats8> w_buf;
  float* w = scratch(w_buf, static_cast<size_t>(K) * kTile);
  a16_gemm_driver(K, r0, r1, x, batch, y, ldy, [&](int64_t t) {
    dequant_tile<F>(base + static_cast<size_t>(t) * tb, nb, static_cast<Prefetcher*>(nullptr), w);
    return LoadF32{w};
  });
}

// ---------------------------------------------------------------------------------------------
// Float formats: tile = [K][8] elements of the GGUF type (rows interleaved, no conversion).
// ---------------------------------------------------------------------------------------------
template <qe_type T>
struct FloatFmt {
  using Elem = std::conditional_t<T == QE_TYPE_F32, float, uint16_t>;
  using Loader = std::conditional_t<T == QE_TYPE_F32, LoadF32, std::conditional_t<T == QE_TYPE_F16, LoadF16, LoadBF16>>;
};

template <qe_type T>
size_t float_packed_bytes(int64_t rows, int64_t K) {
  return static_cast<size_t>((rows + kTile - 1) / kTile) * static_cast<size_t>(K) * kTile * sizeof(typename FloatFmt<T>::Elem);
}

template <qe_type T>
void float_pack(const void* src, int64_t rows, int64_t K, void* dst) {
  using E = typename FloatFmt<T>::Elem;
  const E* s = static_cast<const E*>(src);
  E* d = static_cast<E*>(dst);
  for (int64_t t = 0; t < (rows + kTile - 1) / kTile; ++t)
    for (int64_t k = 0; k < K; ++k)
      for (int r = 0; r < kTile; ++r) {
        const int64_t row = t * kTile + r;
        d[(t * K + k) * kTile + r] = row < rows ? s[row * K + k] : E{};
      }
}

template <qe_type T>
void float_gemm_a16(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
                    float* y, int64_t ldy) {
  (void)rows;
  using E = typename FloatFmt<T>::Elem;
  using Loader = typename FloatFmt<T>::Loader;
  const E* base = static_cast<const E*>(packed);
  if (batch == 1) {  // GEMV: one tile at a time, four FMA chains, prefetching
    Prefetcher pf(base + r0 / kTile * K * kTile, base + (r1 + kTile - 1) / kTile * K * kTile);
    for (int64_t r = r0; r < r1; r += kTile)
      micro<1>(Loader{base + r / kTile * K * kTile}, K, x, K, y + r, ldy, static_cast<int>(std::min<int64_t>(kTile, r1 - r)), &pf);
    return;
  }
  a16_gemm_driver(K, r0, r1, x, batch, y, ldy,
                  [&](int64_t t) { return Loader{base + t * K * kTile}; });
}

// ---------------------------------------------------------------------------------------------
// The table.
// ---------------------------------------------------------------------------------------------
template <class F>
MatmulKernels make() {
  MatmulKernels m;
  m.tile = kTile;
  m.packed_bytes = &packed_bytes<F>;
  m.pack = &pack<F>;
  m.gemm_a16 = &gemm_a16<F>;
  m.gemm_a8 = &gemm_a8<F>;
  return m;
}

template <qe_type T>
MatmulKernels make_float() {
  MatmulKernels m;
  m.tile = kTile;
  m.packed_bytes = &float_packed_bytes<T>;
  m.pack = &float_pack<T>;
  m.gemm_a16 = &float_gemm_a16<T>;
  return m;
}

KernelTable build() {
  KernelTable t;
  t.isa = Isa::kAvx2;
  t.mm[QE_TYPE_F32] = make_float<QE_TYPE_F32>();
  t.mm[QE_TYPE_F16] = make_float<QE_TYPE_F16>();
  t.mm[QE_TYPE_BF16] = make_float<QE_TYPE_BF16>();
  t.mm[QE_TYPE_Q4_0] = make<FmtQ4_0>();
  t.mm[QE_TYPE_Q4_1] = make<FmtQ4_1>();
  t.mm[QE_TYPE_Q5_0] = make<FmtQ5_0>();
  t.mm[QE_TYPE_Q5_1] = make<FmtQ5_1>();
  t.mm[QE_TYPE_Q8_0] = make<FmtQ8_0>();
  t.mm[QE_TYPE_Q2_K] = make<FmtQ2_K>();
  t.mm[QE_TYPE_Q3_K] = make<FmtQ3_K>();
  t.mm[QE_TYPE_Q4_K] = make<FmtQ4_K>();
  t.mm[QE_TYPE_Q5_K] = make<FmtQ5_K>();
  t.mm[QE_TYPE_Q6_K] = make<FmtQ6_K>();
  t.quantize_act32 = &quantize_act32;
  t.quantize_act256 = &quantize_act256;
  return t;
}

}  // namespace
}  // namespace avx2

const KernelTable* avx2_table() {
  static const KernelTable t = avx2::build();
  return &t;
}

}  // namespace qe::cpu
