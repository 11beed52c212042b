// avx512 shared helpers: compile-time loops, loads, the u8·s8 group dot (with and without VNNI) and the activation quantizers.
//
// Included only by avx512_kernels.cpp (AVX-512 F/BW/VL/DQ) and avx512vnni_kernels.cpp (+VNNI).
// Everything sits in an anonymous namespace: each translation unit gets its own copy, compiled
// with its own -m flags, so no VNNI instruction can leak into the plain AVX-512 table through a
// shared inline function chosen by the linker.
#pragma once

// GCC 12's avx512fintrin.h builds its "undefined" vectors by self-initialization (__Y = __Y),
// which -Wuninitialized reports once the intrinsics are inlined (GCC PR 105593). Silence it for
// the lines of that header only: diagnostics are filtered by the location they point at.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "cpu/cpu_kernels.h"

namespace qe::cpu::avx512 {
namespace {

// Rows per packed tile: one row per 32-bit lane of a zmm register.
constexpr int kTile = 16;

template <int N>
using IntC = std::integral_constant<int, N>;

// Calls f(IntC<0>{}), ..., f(IntC<N-1>{}): a fully unrolled loop whose index is a compile-time
// constant (shift counts and register indices must be immediates).
template <int N, class F>
inline __attribute__((always_inline)) void static_for(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (f(IntC<I>{}), ...); }(std::make_integer_sequence<int, N>{});
}

inline int32_t load_i32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline float load_f32(const void* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
// One dword broadcast to all 16 lanes (compiles to an embedded {1to16} memory operand).
inline __m512i bcast_i32(const void* p) { return _mm512_set1_epi32(load_i32(p)); }
inline __m512 bcast_f32(const void* p) { return _mm512_set1_ps(load_f32(p)); }
inline __m512i load512(const void* p) { return _mm512_loadu_si512(p); }
// 16 fp16 values -> 16 fp32 lanes (exact: every half is representable in fp32).
inline __m512 load_ph(const void* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p))); }

// Lane mask of the first n (0..16) lanes.
inline __mmask16 first_lanes(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u); }

// ---------------------------------------------------------------------------------------------
// Group dot products. A "group vector" G holds 4 consecutive k of 16 rows: byte 4r+i is the
// unsigned weight value u[r][k0+i] (dword r = row r). x points at the matching int8
// activations (4 per group, contiguous). dot<N, kUMax>(acc, G, x) returns
//     acc.i32[r] + Σ_{g<N} Σ_{i<4} G[g].u8[4r+i] · x[4g+i]
// exactly (every u ≤ kUMax, every |x| ≤ 127 as the spec's quantizer guarantees).
// ---------------------------------------------------------------------------------------------

// AVX-512 BW: vpmaddubsw multiplies u8·s8 pairs and adds neighbours into int16 (saturating), and
// vpmaddwd(·, 1) widens pairs of int16 into the int32 row lanes. |u·x + u'·x'| ≤ 2·kUMax·127,
// so kRun = 32767 / (2·kUMax·127) group results can be summed in int16 before widening without
// ever saturating (kRun = 8 for 4-bit, 4 for 5-bit, 2 for 6-bit values). 8-bit values
// (Q8_0 stored as q + 128) are split into nibbles: u·x = lo·x + 16·hi·x, each part 4-bit.
struct DotBw {
  static constexpr bool kVnni = false;
  template <int N, int kUMax, int kChains = 2>  // kChains: see DotVnni (the int16 runs are independent already)
  static inline __attribute__((always_inline)) __m512i dot(__m512i acc, const __m512i* G, const int8_t* x) {
    const __m512i ones = _mm512_set1_epi16(1);
    if constexpr (kUMax <= 127) {
      constexpr int kRun = 32767 / (2 * kUMax * 127);
      static_assert(kRun >= 1, "int16 partial sums would saturate");
      static_for<(N + kRun - 1) / kRun>([&](auto run) {
        constexpr int g0 = run * kRun, g1 = std::min(N, g0 + kRun);
        __m512i s = _mm512_maddubs_epi16(G[g0], bcast_i32(x + 4 * g0));
        static_for<g1 - g0 - 1>([&](auto j) {
          constexpr int g = g0 + 1 + j;
          s = _mm512_add_epi16(s, _mm512_maddubs_epi16(G[g], bcast_i32(x + 4 * g)));
        });
        acc = _mm512_add_epi32(acc, _mm512_madd_epi16(s, ones));
      });
    } else {
      static_assert(N <= 8, "nibble halves of more than 8 groups could saturate int16");
      const __m512i m4 = _mm512_set1_epi8(0x0F);
      __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
      static_for<N>([&](auto g) {
        const __m512i xb = bcast_i32(x + 4 * g);
        lo = _mm512_add_epi16(lo, _mm512_maddubs_epi16(_mm512_and_si512(G[g], m4), xb));
        hi = _mm512_add_epi16(hi, _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(G[g], 4), m4), xb));
      });
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(lo, ones));
      acc = _mm512_add_epi32(acc, _mm512_madd_epi16(hi, _mm512_set1_epi16(16)));
    }
    return acc;
  }
};

#ifdef __AVX512VNNI__
// AVX-512 VNNI: vpdpbusd adds Σ_i u8·s8 of a dword straight into an int32 lane, without
// intermediate saturation. The groups are spread over kChains independent accumulators (group
// g feeds chain g mod kChains) so that a lone column is not bound by the vpdpbusd latency; with
// several columns the columns themselves provide that parallelism.
struct DotVnni {
  static constexpr bool kVnni = true;
  template <int N, int kUMax, int kChains = 2>
  static inline __attribute__((always_inline)) __m512i dot(__m512i acc, const __m512i* G, const int8_t* x) {
    constexpr int C = std::min(N, kChains);
    __m512i a[C];
    a[0] = acc;
    for (int c = 1; c < C; ++c) a[c] = _mm512_setzero_si512();
    static_for<N>([&](auto g) { a[g % C] = _mm512_dpbusd_epi32(a[g % C], G[g], bcast_i32(x + 4 * g)); });
    if constexpr (C == 4) return _mm512_add_epi32(_mm512_add_epi32(a[0], a[1]), _mm512_add_epi32(a[2], a[3]));
    if constexpr (C == 2) return _mm512_add_epi32(a[0], a[1]);
    static_assert(C == 1 || C == 2 || C == 4, "1, 2 or 4 chains");
    return a[0];
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// Activation quantization, bit-exact with spec::quantize_act32/256: amax = max|x| (exact in any
// order), d = amax / 127, id = d ? 1/d : 0 (scalar IEEE divisions, as the spec), q = x·id
// rounded half to even by vcvtps2dq under the default MXCSR (as nearbyint) and clamped to ±127.
// Clamping before rounding gives the same integer as the spec's clamp after rounding: rounding
// is monotonic and ±127 are integers.
// ---------------------------------------------------------------------------------------------
inline __m512i quantize16(__m512 v, __m512 vid) {
  const __m512 t = _mm512_mul_ps(v, vid);
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(t, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f)));
}

inline float inv_scale(float amax, float* d) {
  *d = amax / 127.0f;
  return *d != 0.0f ? 1.0f / *d : 0.0f;
}

// One 16-element half of an ActBlock32 (spec::quantize_act32): min, max and max|x − c| are
// exact in any order; x − c is the spec's single rounding. Returns Σ q.
inline int32_t quantize_half(__m512 v, int8_t* q, float* d_out, float* c_out) {
  const float c = 0.5f * _mm512_reduce_min_ps(v) + 0.5f * _mm512_reduce_max_ps(v);
  const __m512 t = _mm512_sub_ps(v, _mm512_set1_ps(c));
  float d;
  const __m512i qi = quantize16(t, _mm512_set1_ps(inv_scale(_mm512_reduce_max_ps(_mm512_abs_ps(t)), &d)));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(qi));
  *d_out = d;
  *c_out = c;
  return _mm512_reduce_add_epi32(qi);
}

void quantize_act32(const float* x, ActBlock32* dst, int64_t K) {
  for (int64_t b = 0; b < K / 32; ++b) {
    ActBlock32& o = dst[b];
    float s[2];
    for (int h = 0; h < 2; ++h) {
      const int32_t qsum = quantize_half(_mm512_loadu_ps(x + 32 * b + 16 * h), o.qs + 16 * h, &o.d[h], &o.c[h]);
      o.qsum[h] = static_cast<int16_t>(qsum);
      s[h] = std::fma(static_cast<float>(qsum), o.d[h], 16.0f * o.c[h]);
    }
    o.s = s[0] + s[1];
  }
}

void quantize_act256(const float* x, qe_block_q8_K* dst, int64_t K) {
  for (int64_t b = 0; b < K / 256; ++b) {
    const float* xb = x + 256 * b;
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < 16; ++i) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xb + 16 * i)));
    float d;
    const __m512 vid = _mm512_set1_ps(inv_scale(_mm512_reduce_max_ps(m), &d));
    qe_block_q8_K& o = dst[b];
    o.d = d;
    // Each zmm of 16 quantized values is exactly one bsums group.
    for (int i = 0; i < 16; ++i) {
      const __m512i q = quantize16(_mm512_loadu_ps(xb + 16 * i), vid);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.qs + 16 * i), _mm512_cvtsepi32_epi8(q));
      o.bsums[i] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
  }
}

}  // namespace
}  // namespace qe::cpu::avx512
