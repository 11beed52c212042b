// avx512 matmul kernels: A8 and A16 tile kernels for every weight type, the tile/column drivers and the kernel-table builder shared by the avx512 and avx512vnni tables.
//
// Work decomposition (gemm_a8 / gemm_a16 of rows [r0, r1), batch columns):
//   tile groups   consecutive tiles whose packed bytes fit in about kGroupBytes (L2);
//   column panels up to kMaxCols = 8 activation columns, prepared once per panel;
//   tile kernel   one 16-row tile against NB ∈ {8, 4, 2, 1} columns of a panel: every
//                 tile-block is loaded and unpacked once and then used for all NB columns, whose
//                 accumulators stay in registers for the whole K loop.
// So the GEMV (batch 1) streams each tile once, and the GEMM reads a tile group from memory
// once and from L2 for each further panel.
//
// A8 bit-exactness (a8_spec.h): lane r accumulates row r alone, block after block in the
// spec's order, with the spec's float operations (cvtdq2ps, vmulps, vfmadd = single-rounding
// fma). Integer sums are exact, so their internal order (vpdpbusd chains, the −kOffset·Σx
// correction folded into the initial accumulator, sub-scale products) is free.
//
// A16 has two kernels: with 4 or 8 columns the unpacked weights are converted to fp32 once and
// fed to FMAs for every column (a16_tile_q); one or two columns (decode) would pay that
// conversion per multiply-add, so they split the fp32 activations into four exact-enough int8
// digits and reuse the integer dots of A8 (a16i_tile, see split_levels).
#pragma once

#include <bit>
#include <vector>

#include "avx512/avx512_layout-inl.h"

namespace qe::cpu::avx512 {
namespace {

constexpr int kMaxCols = 8;
constexpr size_t kGroupBytes = 384 * 1024;

// Software prefetch distance of the weight streams. A lone core keeps too few misses in flight
// for the DRAM latency on its own; prefetching this far ahead lets the GEMV stream at the
// bandwidth limit. Reads past a tile's end fall into the next tile (or are harmless hints).
#ifndef QE_AVX512_PREFETCH
#define QE_AVX512_PREFETCH 2048
#endif
constexpr int kPrefetchBytes = QE_AVX512_PREFETCH;

// Prefetches the cache lines of [p, p + kBytes) kAhead bytes ahead (one hint per line; a record
// smaller than a line gets one hint, repeated hints to a line are cheap). The data stream runs
// kPrefetchBytes ahead, a scale stream the same number of blocks ahead (scale_ahead<F>).
template <int kBytes, int kAhead = kPrefetchBytes>
inline __attribute__((always_inline)) void prefetch_ahead(const uint8_t* p) {
  // __builtin_prefetch: GCC 12 silently drops _mm_prefetch inside a generic lambda.
  if constexpr (kAhead > 0)
    static_for<(kBytes + 63) / 64>([&](auto l) { __builtin_prefetch(p + kAhead + 64 * l, 0, 3); });
}
template <class F>
constexpr int scale_ahead = std::max(64, kPrefetchBytes * F::kScaleBytes / F::kDataBytes);

// Accumulator chains per group dot: one column alone needs several to hide the vpdpbusd latency.
template <int NB>
constexpr int kChains = NB == 1 ? 4 : NB == 2 ? 2 : 1;

// Tile kernels are [[gnu::noinline, gnu::flatten]]: one standalone function per instantiation
// with every static_for lambda inlined into it. Without flatten GCC outlines the bigger unrolled
// lambdas and the accumulators live in memory (A16 ran 5x slower).

// =============================================================================================
// A8 tile kernels. rec/data: the tile's scale records and data region; x[c]: activation row of
// column c; prep[c]: that column's per-block integers (see prep_a8); y[c]: Y + column·ldy +
// 16·tile; mask: the rows of the tile that exist in [r0, r1).
// =============================================================================================

// 32-element blocks (a8_spec.h): per half h, P_h = Σ v·q (starting at −kOffset·qsum_h, the
// unsigned-offset correction) and U_h = Σ v; t = P_0·d_0, then fma(P_1, d_1), fma(U_0, c_0),
// fma(U_1, c_1) in the spec's order; acc = fma(t, dw, acc) [+ fma(mw, s, acc)].
// U_h depends on the weights alone, so it is computed once per tile-block for all NB columns: the
// half's four group vectors summed bytewise (4·kUMax fits a signed byte for 4- and 5-bit values)
// and one dot against ones, or four dots for 8-bit values; −16·kOffset starts the sum.
alignas(16) constexpr int8_t kOnes[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

template <class F, class Dot, int NB>
[[gnu::noinline, gnu::flatten]] void a8_tile_b32(const uint8_t* rec, const uint8_t* data, int64_t nblk,
                                           const ActBlock32* const* x, float* const* y, __mmask16 mask) {
  constexpr int kHalfChains = 1;  // the two halves are two independent vpdpbusd chains already
  __m512 acc[NB];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblk; ++b) {
    __m512i G[8];
    prefetch_ahead<F::kDataBytes>(data + b * F::kDataBytes);
    prefetch_ahead<F::kScaleBytes, scale_ahead<F>>(rec + b * F::kScaleBytes);
    F::Enc::unpack(data + b * F::kDataBytes, G);
    const uint8_t* r = rec + b * F::kScaleBytes;
    __m512 U[2];
    static_for<2>([&](auto h) {
      const __m512i init = _mm512_set1_epi32(-16 * F::kOffset);
      const __m512i* g = G + 4 * h;
      if constexpr (4 * F::Enc::kUMax <= 127) {
        const __m512i s = _mm512_add_epi8(_mm512_add_epi8(g[0], g[1]), _mm512_add_epi8(g[2], g[3]));
        U[h] = _mm512_cvtepi32_ps(Dot::template dot<1, 4 * F::Enc::kUMax, 1>(init, &s, kOnes));
      } else {
        U[h] = _mm512_cvtepi32_ps(Dot::template dot<4, F::Enc::kUMax, 2>(init, g, kOnes));
      }
    });
    const __m512 d = load_ph(r);  // the 16 rows' fp16 block scales, exact in fp32
    static_for<NB>([&](auto c) {
      const ActBlock32& xb = x[c][b];
      __m512 p[2];
      static_for<2>([&](auto h) {
        const __m512i init = _mm512_set1_epi32(-F::kOffset * xb.qsum[h]);
        p[h] = _mm512_cvtepi32_ps(Dot::template dot<4, F::Enc::kUMax, kHalfChains>(init, G + 4 * h, xb.qs + 16 * h));
      });
      __m512 t = _mm512_mul_ps(p[0], _mm512_set1_ps(xb.d[0]));
      t = _mm512_fmadd_ps(p[1], _mm512_set1_ps(xb.d[1]), t);
      t = _mm512_fmadd_ps(U[0], _mm512_set1_ps(xb.c[0]), t);
      t = _mm512_fmadd_ps(U[1], _mm512_set1_ps(xb.c[1]), t);
      acc[c] = _mm512_fmadd_ps(t, d, acc[c]);
      if constexpr (F::kHasMin) acc[c] = _mm512_fmadd_ps(load_ph(r + 32), _mm512_set1_ps(xb.s), acc[c]);
    });
  }
  static_for<NB>([&](auto c) { _mm512_mask_storeu_ps(y[c], mask, acc[c]); });
}

// Q4_K, Q5_K: per super-block isum = Σ_j sc_j · dot_j (vpmulld by the 6-bit scales) and
// msum = Σ_j m_j · (bsums[2j] + bsums[2j+1]) with vpmaddwd of the (m_2p, m_2p+1) pairs against
// the prepared (bs2_2p, bs2_2p+1) dwords.
template <class F, class Dot, int NB>
[[gnu::noinline, gnu::flatten]] void a8_tile_k32(const uint8_t* rec, const uint8_t* data, int64_t nsb,
                                           const qe_block_q8_K* const* x, const int32_t* const* prep, float* const* y,
                                           __mmask16 mask) {
  __m512 acc[NB];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* r = rec + sb * F::kScaleBytes;
    const uint8_t* dp = data + sb * F::kDataBytes;
    __m512i isum[NB];
    for (auto& s : isum) s = _mm512_setzero_si512();
    prefetch_ahead<F::kScaleBytes, scale_ahead<F>>(r);
    for (int j = 0; j < 8; ++j) {
      __m512i G[8];
      prefetch_ahead<F::Enc::kBytes>(dp + j * F::Enc::kBytes);
      F::Enc::unpack(dp + j * F::Enc::kBytes, G);
      const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 64 + 16 * j)));
      static_for<NB>([&](auto c) {
        const __m512i s = Dot::template dot<8, F::Enc::kUMax, kChains<NB>>(_mm512_setzero_si512(), G, x[c][sb].qs + 32 * j);
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(s, sc));
      });
    }
    const __m512 d = load_ph(r), dmin = load_ph(r + 32);
    static_for<NB>([&](auto c) {
      const int32_t* pc = prep[c] + 4 * sb;
      __m512i msum = _mm512_setzero_si512();
      static_for<4>([&](auto p) {
        const __m512i m = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + 192 + 32 * p)));
        msum = _mm512_add_epi32(msum, _mm512_madd_epi16(m, _mm512_set1_epi32(pc[p])));
      });
      const __m512 dx = _mm512_set1_ps(x[c][sb].d);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(d, dx), acc[c]);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), msum)),
                               _mm512_mul_ps(dmin, dx), acc[c]);
    });
  }
  static_for<NB>([&](auto c) { _mm512_mask_storeu_ps(y[c], mask, acc[c]); });
}

// Sub-scale pairs of a K16 record: dword r = (v_2p, v_2p+1) as int16 (sign-extended Q6_K/Q3_K
// scales, zero-extended Q2_K raw bytes).
template <class F>
inline __m512i k16_pairs(const uint8_t* r, int p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + (F::kHasMin ? 64 : 32) + 32 * p));
  return F::kHasMin ? _mm512_cvtepu8_epi16(v) : _mm512_cvtepi8_epi16(v);
}

// Q6_K, Q3_K, Q2_K (16-element sub-blocks): isum = Σ_j sc_j · dot_j, then
//   Q6_K, Q3_K: isum −= kOffset · Σ_j sc_j · bsums[j]   (the spec's −32·bsum, or the +4 bias)
//   Q2_K:       msum  = Σ_j m_j · bsums[j]               (second fma with dmin)
// both as vpmaddwd of the pairs against the bsums dwords, straight from the q8_K block.
template <class F, class Dot, int NB>
[[gnu::noinline, gnu::flatten]] void a8_tile_k16(const uint8_t* rec, const uint8_t* data, int64_t nsb,
                                           const qe_block_q8_K* const* x, const int32_t* const* prep, float* const* y,
                                           __mmask16 mask) {
  constexpr int kShift = F::kOffset == 32 ? 5 : F::kOffset == 4 ? 2 : 0;
  static_assert(F::kHasMin || (1 << kShift) == F::kOffset, "offset must be a power of two");
  const __m512i lo4 = _mm512_set1_epi32(15);
  __m512 acc[NB];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* r = rec + sb * F::kScaleBytes;
    const uint8_t* dp = data + sb * F::kDataBytes;
    __m512i isum[NB];
    for (auto& s : isum) s = _mm512_setzero_si512();
    prefetch_ahead<F::kScaleBytes, scale_ahead<F>>(r);
    for (int h = 0; h < 8; ++h) {
      __m512i G[8];
      prefetch_ahead<F::Enc::kBytes>(dp + h * F::Enc::kBytes);
      F::Enc::unpack(dp + h * F::Enc::kBytes, G);
      const __m512i pr = k16_pairs<F>(r, h);
      __m512i sc0, sc1;  // int32 scales of sub-blocks 2h, 2h+1
      if constexpr (F::kHasMin) {
        sc0 = _mm512_and_si512(pr, lo4);
        sc1 = _mm512_and_si512(_mm512_srli_epi32(pr, 16), lo4);
      } else {
        sc0 = _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16);
        sc1 = _mm512_srai_epi32(pr, 16);
      }
      static_for<NB>([&](auto c) {
        const int8_t* xq = x[c][sb].qs + 32 * h;
        const __m512i s0 = Dot::template dot<4, F::Enc::kUMax, kChains<NB>>(_mm512_setzero_si512(), G, xq);
        const __m512i s1 = Dot::template dot<4, F::Enc::kUMax, kChains<NB>>(_mm512_setzero_si512(), G + 4, xq + 16);
        isum[c] = _mm512_add_epi32(isum[c], _mm512_add_epi32(_mm512_mullo_epi32(s0, sc0), _mm512_mullo_epi32(s1, sc1)));
      });
    }
    const __m512 d = load_ph(r);
    static_for<NB>([&](auto c) {
      const qe_block_q8_K& xb = x[c][sb];
      __m512i t = _mm512_setzero_si512();
      static_for<8>([&](auto p) {
        __m512i pr = k16_pairs<F>(r, p);
        if constexpr (F::kHasMin) pr = _mm512_srli_epi16(pr, 4);  // raw >> 4 = m
        t = _mm512_add_epi32(t, _mm512_madd_epi16(pr, bcast_i32(xb.bsums + 2 * p)));
      });
      const __m512 dx = _mm512_set1_ps(xb.d);
      if constexpr (F::kHasMin) {
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(d, dx), acc[c]);
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), t)),
                                 _mm512_mul_ps(load_ph(r + 32), dx), acc[c]);
      } else {
        const __m512i is = _mm512_sub_epi32(isum[c], _mm512_slli_epi32(t, kShift));
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(d, dx), acc[c]);
      }
    });
  }
  static_for<NB>([&](auto c) { _mm512_mask_storeu_ps(y[c], mask, acc[c]); });
}

// Per-column integers the A8 tile kernels need, `kPrepPerBlock` per block.
template <class F>
constexpr int kPrepPerBlock = F::kFamily == Family::kK32 ? 4 : 0;

template <class F>
void prep_a8(const void* xrow, int64_t nblk, int32_t* out) {
  if constexpr (F::kFamily == Family::kK32) {
    // (bs2_2p, bs2_2p+1) as int16 pairs, bs2_j = bsums[2j] + bsums[2j+1] (|bs2| ≤ 32·127).
    const auto* x = static_cast<const qe_block_q8_K*>(xrow);
    for (int64_t sb = 0; sb < nblk; ++sb)
      for (int p = 0; p < 4; ++p) {
        const int16_t* bs = x[sb].bsums + 4 * p;
        const auto lo = static_cast<uint16_t>(bs[0] + bs[1]), hi = static_cast<uint16_t>(bs[2] + bs[3]);
        out[4 * sb + p] = static_cast<int32_t>(lo | static_cast<uint32_t>(hi) << 16);
      }
  }
}

// =============================================================================================
// A16 tile kernels (fp32 activations), 4 or 8 columns. Per sub-block j (16 or 32 elements)
// and column:
//   S = Σ_k u_k · x_k     (u converted exactly to fp32 once, then one FMA per column)
//   acc += a_j ⊙ (S − kOffset·Σx) [+ b_j ⊙ Σx]
// with per-row a_j (scale), b_j (min term) and Σx over the sub-block from the panel's prep.
// =============================================================================================

// Byte I of every dword as fp32: vpshufb moves it to the low byte and zeroes the rest; the signed
// variant (Q8_0: u − 128) flips the bias bit and sign-extends with a shift pair.
template <int I, bool kSigned>
inline __attribute__((always_inline)) __m512 extract_f(__m512i G) {
  if constexpr (kSigned) {
    const __m512i v = _mm512_xor_si512(G, _mm512_set1_epi8(static_cast<char>(0x80)));
    const __m512i t = I == 3 ? v : _mm512_slli_epi32(v, 24 - 8 * I);
    return _mm512_cvtepi32_ps(_mm512_srai_epi32(t, 24));
  } else {
    const __m512i ctrl = _mm512_set4_epi32(static_cast<int>(0x8080800Cu + I), static_cast<int>(0x80808008u + I),
                                           static_cast<int>(0x80808004u + I), static_cast<int>(0x80808000u + I));
    return _mm512_cvtepi32_ps(_mm512_shuffle_epi8(G, ctrl));
  }
}

// Scale a_j and min coefficient b_j of sub-block j of a record: w = a_j·(u − kOffset) + b_j.
template <class F>
inline void a16_scales(const uint8_t* r, int j, __m512* a, __m512* bm) {
  const __m512 d = load_ph(r);
  if constexpr (F::kFamily == Family::kB32) {
    *a = d;
    if constexpr (F::kHasMin) *bm = load_ph(r + 32);
  } else if constexpr (F::kFamily == Family::kK32) {
    const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 64 + 16 * j)));
    const __m512i pr = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + 192 + 32 * (j / 2))));
    const __m512i m = _mm512_and_si512(_mm512_srl_epi32(pr, _mm_cvtsi32_si128(16 * (j & 1))), _mm512_set1_epi32(0xFFFF));
    *a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc));
    *bm = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(load_ph(r + 32), _mm512_cvtepi32_ps(m)));
  } else {
    const __m512i pr = k16_pairs<F>(r, j / 2);
    if constexpr (F::kHasMin) {
      const __m512i raw = _mm512_and_si512(_mm512_srl_epi32(pr, _mm_cvtsi32_si128(16 * (j & 1))), _mm512_set1_epi32(0xFF));
      *a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_and_si512(raw, _mm512_set1_epi32(15))));
      *bm = _mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(load_ph(r + 32), _mm512_cvtepi32_ps(_mm512_srli_epi32(raw, 4))));
    } else {
      const __m512i sc = (j & 1) ? _mm512_srai_epi32(pr, 16) : _mm512_srai_epi32(_mm512_slli_epi32(pr, 16), 16);
      *a = _mm512_mul_ps(d, _mm512_cvtepi32_ps(sc));
    }
  }
}

template <class F, int NB>
[[gnu::noinline, gnu::flatten]] void a16_tile_q(const uint8_t* rec, const uint8_t* data, int64_t nblk, const float* const* x,
                                          const float* const* sx, float* const* y, __mmask16 mask) {
  static_assert(NB >= 4, "one or two columns take a16i_tile");
  constexpr int kSubs = 32 / F::kSubElems;  // sub-blocks per chunk
  constexpr int kGroups = 8 / kSubs;        // group vectors per sub-block
  constexpr int kSubsPerBlock = F::kBlockElems / F::kSubElems;
  constexpr float kOff = F::kA16Signed ? 0.0f : static_cast<float>(F::kOffset);
  __m512 acc[NB];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblk; ++b) {
    const uint8_t* r = rec + b * F::kScaleBytes;
    for (int h = 0; h < F::kChunks; ++h) {
      __m512i G[8];
      F::Enc::unpack(data + b * F::kDataBytes + h * F::Enc::kBytes, G);
      const int64_t k0 = b * F::kBlockElems + 32 * h;
      static_for<kSubs>([&](auto hs) {
        __m512 S[NB];
        for (auto& s : S) s = _mm512_setzero_ps();
        static_for<kGroups>([&](auto gg) {
          constexpr int g = hs * kGroups + gg;
          static_for<4>([&](auto i) {
            const __m512 uf = extract_f<i, F::kA16Signed>(G[g]);
            static_for<NB>([&](auto c) { S[c] = _mm512_fmadd_ps(uf, _mm512_set1_ps(x[c][k0 + 4 * g + i]), S[c]); });
          });
        });
        const int j = h * kSubs + hs;
        __m512 a, bm = _mm512_setzero_ps();
        a16_scales<F>(r, j, &a, &bm);
        static_for<NB>([&](auto c) {
          __m512 s = S[c];
          const float sxv = sx[c][b * kSubsPerBlock + j];
          if constexpr (kOff != 0.0f) s = _mm512_fnmadd_ps(_mm512_set1_ps(kOff), _mm512_set1_ps(sxv), s);
          acc[c] = _mm512_fmadd_ps(a, s, acc[c]);
          if constexpr (F::kHasMin) acc[c] = _mm512_fmadd_ps(bm, _mm512_set1_ps(sxv), acc[c]);
        });
      });
    }
  }
  static_for<NB>([&](auto c) { _mm512_mask_storeu_ps(y[c], mask, acc[c]); });
}

// ---------------------------------------------------------------------------------------------
// A16 for one or two columns (decode): the fp32 activations are split exactly enough into
// kLevels int8 "digits" per 32-element block,
//     x ≈ d_0·q_0 + d_1·q_1 + d_2·q_2 + d_3·q_3,   d_0 = max|x| / 127,  d_{l+1} = d_l / 254,
// each q_l the rounded residual of the levels before it (|q_l| ≤ 127). The weights then meet
// the digits in the same u8·s8 group dots as A8 (no per-element unpacking or conversion: the
// GEMV's cost drops from vpshufb + vcvtdq2ps + vfmadd per 16 weights to one vpdpbusd per 64 per
// level). The representation error is ≤ d_3 / 2 = max|x| / (2·127·254³) ≈ 2.4e-10·max|x| per
// element, far below fp32 rounding of the sums, so this stays an fp32-accurate A16 path.
// Columns 3+ of a panel use the FMA kernel above, which is cheaper once the unpacking is shared.
// ---------------------------------------------------------------------------------------------
constexpr int kLevels = 4;

// One 32-element block of one activation column.
struct XLevels {
  int8_t q[kLevels][32];     // the digits
  float d[kLevels];          // their scales
  int32_t corr[kLevels][3];  // −kOffset·Σq_l over elements 0..15, 16..31 and 0..31
  float sx[3];               // Σx over the same ranges (min terms)
  int32_t pad;
};
static_assert(sizeof(XLevels) % 16 == 0, "XLevels rows stay 16-byte aligned");

template <class F>
void split_levels(const float* x, int64_t K, XLevels* out) {
  for (int64_t b = 0; b < K / 32; ++b) {
    XLevels& o = out[b];
    __m512 r0 = _mm512_loadu_ps(x + 32 * b), r1 = _mm512_loadu_ps(x + 32 * b + 16);
    o.sx[0] = _mm512_reduce_add_ps(r0);
    o.sx[1] = _mm512_reduce_add_ps(r1);
    o.sx[2] = o.sx[0] + o.sx[1];
    float d = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(r0), _mm512_abs_ps(r1))) / 127.0f;
    for (int l = 0; l < kLevels; ++l) {
      const __m512 vd = _mm512_set1_ps(d), vid = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
      const __m512i q0 = quantize16(r0, vid), q1 = quantize16(r1, vid);
      // Residual for the next level: x − d·q with a single rounding.
      r0 = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(q0), vd, r0);
      r1 = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(q1), vd, r1);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.q[l]), _mm512_cvtsepi32_epi8(q0));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o.q[l] + 16), _mm512_cvtsepi32_epi8(q1));
      o.d[l] = d;
      const int32_t s0 = _mm512_reduce_add_epi32(q0), s1 = _mm512_reduce_add_epi32(q1);
      o.corr[l][0] = -F::kOffset * s0;
      o.corr[l][1] = -F::kOffset * s1;
      o.corr[l][2] = -F::kOffset * (s0 + s1);
      d /= 254.0f;
    }
    o.pad = 0;
  }
}

template <class F, class Dot, int NB>
[[gnu::noinline, gnu::flatten]] void a16i_tile(const uint8_t* rec, const uint8_t* data, int64_t nblk,
                                               const XLevels* const* x, float* const* y, __mmask16 mask) {
  constexpr int kSubs = 32 / F::kSubElems;
  constexpr int kGroups = 8 / kSubs;
  __m512 acc[NB];
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t b = 0; b < nblk; ++b) {
    const uint8_t* r = rec + b * F::kScaleBytes;
    prefetch_ahead<F::kScaleBytes, scale_ahead<F>>(r);
    for (int h = 0; h < F::kChunks; ++h) {
      __m512i G[8];
      prefetch_ahead<F::Enc::kBytes>(data + b * F::kDataBytes + h * F::Enc::kBytes);
      F::Enc::unpack(data + b * F::kDataBytes + h * F::Enc::kBytes, G);
      const int64_t xb = b * F::kChunks + h;
      static_for<kSubs>([&](auto hs) {
        constexpr int kRange = kSubs == 1 ? 2 : hs;  // corr / sx index: whole block or half
        __m512 a, bm = _mm512_setzero_ps();
        a16_scales<F>(r, h * kSubs + hs, &a, &bm);
        static_for<NB>([&](auto c) {
          const XLevels& xl = x[c][xb];
          // The levels are independent dots (so each needs only half the usual chains; fewer
          // chains also mean fewer zeroings and merges); combine them as a tree
          // (d_0 S_0 + d_1 S_1) + (d_2 S_2 + d_3 S_3) to keep the per-block dependency chain short.
          __m512 p[kLevels];
          static_for<kLevels>([&](auto l) {
            const __m512i init = F::kOffset != 0 ? _mm512_set1_epi32(xl.corr[l][kRange]) : _mm512_setzero_si512();
            const __m512i s =
                Dot::template dot<kGroups, F::Enc::kUMax, kChains<NB> / 2>(init, G + hs * kGroups, xl.q[l] + 16 * hs);
            p[l] = _mm512_cvtepi32_ps(s);
          });
          static_assert(kLevels == 4, "the combination tree below is written for 4 levels");
          const __m512 t = _mm512_add_ps(_mm512_fmadd_ps(p[1], _mm512_set1_ps(xl.d[1]), _mm512_mul_ps(p[0], _mm512_set1_ps(xl.d[0]))),
                                         _mm512_fmadd_ps(p[3], _mm512_set1_ps(xl.d[3]), _mm512_mul_ps(p[2], _mm512_set1_ps(xl.d[2]))));
          acc[c] = _mm512_fmadd_ps(a, t, acc[c]);
          if constexpr (F::kHasMin) acc[c] = _mm512_fmadd_ps(bm, _mm512_set1_ps(xl.sx[kRange]), acc[c]);
        });
      });
    }
  }
  static_for<NB>([&](auto c) { _mm512_mask_storeu_ps(y[c], mask, acc[c]); });
}

// Float weights: one zmm of 16 rows per k, kP interleaved accumulators per column when NB ≤ 2.
template <class FF, int NB>
[[gnu::noinline, gnu::flatten]] void a16_tile_f(const uint8_t* tile, int64_t K, const float* const* x, float* const* y,
                                          __mmask16 mask) {
  constexpr int kP = NB == 1 ? 4 : NB == 2 ? 2 : 1;
  constexpr size_t kStride = kTile * FF::kBytes;
  __m512 acc[NB][kP];
  for (auto& ac : acc)
    for (auto& a : ac) a = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + kP <= K; k += kP) {
    static_for<kP>([&](auto p) {
      const __m512 w = FF::load(tile + (k + p) * kStride);
      static_for<NB>([&](auto c) { acc[c][p] = _mm512_fmadd_ps(w, _mm512_set1_ps(x[c][k + p]), acc[c][p]); });
    });
  }
  for (; k < K; ++k) {
    const __m512 w = FF::load(tile + k * kStride);
    static_for<NB>([&](auto c) { acc[c][0] = _mm512_fmadd_ps(w, _mm512_set1_ps(x[c][k]), acc[c][0]); });
  }
  static_for<NB>([&](auto c) {
    __m512 s = acc[c][0];
    static_for<kP - 1>([&](auto p) { s = _mm512_add_ps(s, acc[c][p + 1]); });
    _mm512_mask_storeu_ps(y[c], mask, s);
  });
}

// =============================================================================================
// Drivers.
// =============================================================================================

// Calls prep(c0, nc) once per (tile group, column panel) and tile(t, c0, c, IntC<NB>, mask) for
// every tile of rows [r0, r1) and the columns c0 + c .. c0 + c + NB − 1 of the panel.
template <class Prep, class Tile>
void drive(int64_t r0, int64_t r1, int64_t batch, size_t tile_bytes, Prep&& prep, Tile&& tile) {
  // r0 is a multiple of kTile (the engine's contract); r1 may end inside a tile, whose missing
  // rows are the pack's zero padding: they are computed and masked off at the store.
  const int64_t t0 = r0 / kTile, t1 = tiles_of(r1);
  // Loop order: a tile group stays in L2 while every column panel passes over it; a panel's
  // activations (8 rows of K) stay in L1/L2 while the group's tiles pass under them.
  const int64_t group = std::max<int64_t>(1, static_cast<int64_t>(kGroupBytes / tile_bytes));
  for (int64_t ta = t0; ta < t1; ta += group) {
    const int64_t tb = std::min(t1, ta + group);
    for (int64_t c0 = 0; c0 < batch; c0 += kMaxCols) {
      const int nc = static_cast<int>(std::min<int64_t>(kMaxCols, batch - c0));
      prep(c0, nc);
      for (int64_t t = ta; t < tb; ++t) {
        const __mmask16 mask = first_lanes(static_cast<int>(std::min<int64_t>(kTile, r1 - t * kTile)));
        // Split the panel into kernels of 8, 4, 2, 1 columns (e.g. 7 = 4 + 2 + 1): four
        // instantiations per type cover every batch size.
        int c = 0;
        auto run = [&](auto nb) {
          if (nc - c >= nb) {
            tile(t, c0, c, nb, mask);
            c += nb;
          }
        };
        run(IntC<8>{});
        run(IntC<4>{});
        run(IntC<2>{});
        run(IntC<1>{});
      }
    }
  }
}

template <class F, class Dot>
void gemm_a8(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const void* xq, int64_t batch,
             float* y, int64_t ldy) {
  using Act = std::conditional_t<F::kBlockElems == 32, ActBlock32, qe_block_q8_K>;
  const Geo<F> geo(K);
  const auto* base = static_cast<const uint8_t*>(packed);
  const auto* xbase = static_cast<const uint8_t*>(xq);
  const size_t xrow = act_row_bytes(a8_layout(F::kType), K);
  const size_t per_col = static_cast<size_t>(geo.nblk) * kPrepPerBlock<F>;
  // Per-thread scratch: the engine calls from its OpenMP threads on disjoint row ranges, and
  // the buffer only grows, so steady-state calls never allocate.
  thread_local std::vector<int32_t> prep_buf;  // (kMaxCols, nblk · kPrepPerBlock)
  if (prep_buf.size() < kMaxCols * per_col) prep_buf.resize(kMaxCols * per_col);
  auto prep = [&](int64_t c0, int nc) {
    if constexpr (kPrepPerBlock<F> > 0)
      for (int c = 0; c < nc; ++c) prep_a8<F>(xbase + (c0 + c) * xrow, geo.nblk, prep_buf.data() + c * per_col);
  };
  // Column pointers into X, the prep and Y for one kernel call; the kernel family is the format's.
  auto tile = [&](int64_t t, int64_t c0, int c, auto nb, __mmask16 mask) {
    constexpr int NB = decltype(nb)::value;
    const Act* xs[NB];
    const int32_t* ps[NB];
    float* ys[NB];
    for (int i = 0; i < NB; ++i) {
      xs[i] = reinterpret_cast<const Act*>(xbase + (c0 + c + i) * xrow);
      ps[i] = prep_buf.data() + (c + i) * per_col;
      ys[i] = y + (c0 + c + i) * ldy + t * kTile;
    }
    const uint8_t* tp = base + t * geo.tile_bytes;
    if constexpr (F::kFamily == Family::kB32)
      a8_tile_b32<F, Dot, NB>(tp, tp + geo.scale_region, geo.nblk, xs, ys, mask);
    else if constexpr (F::kFamily == Family::kK32)
      a8_tile_k32<F, Dot, NB>(tp, tp + geo.scale_region, geo.nblk, xs, ps, ys, mask);
    else
      a8_tile_k16<F, Dot, NB>(tp, tp + geo.scale_region, geo.nblk, xs, ps, ys, mask);
  };
  drive(r0, r1, batch, geo.tile_bytes, prep, tile);
  (void)rows;
}

template <class F, class Dot>
void gemm_a16(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
              float* y, int64_t ldy) {
  const Geo<F> geo(K);
  const auto* base = static_cast<const uint8_t*>(packed);
  const int64_t nsub = K / F::kSubElems, nx = K / 32;
  thread_local std::vector<float> sx_buf;     // (kMaxCols, nsub): Σx per sub-block, FMA columns
  thread_local std::vector<XLevels> xl_buf;   // (≤ 3, K / 32): digits of the level columns
  if (sx_buf.size() < static_cast<size_t>(kMaxCols * nsub)) sx_buf.resize(static_cast<size_t>(kMaxCols * nsub));
  if (xl_buf.size() < static_cast<size_t>(3 * nx)) xl_buf.resize(static_cast<size_t>(3 * nx));
  // drive() hands a panel of nc columns to kernels of 8, 4, 2, 1 columns in that order: full
  // panels and the first 4 columns of a last panel of 4..7 go to the FMA kernel, the last
  // batch − fma_end (≤ 3) columns to the level kernel. Their digits are prepared once per call
  // (drive's prep runs once per tile group); Σx for the FMA columns once per panel.
  const int64_t rem = batch % kMaxCols, fma_end = batch - rem + (rem >= 4 ? 4 : 0);
  for (int64_t col = fma_end; col < batch; ++col) split_levels<F>(x + col * K, K, xl_buf.data() + (col - fma_end) * nx);
  auto prep = [&](int64_t c0, int nc) {
    for (int c = 0; c < nc && c0 + c < fma_end; ++c) {
      const float* xc = x + (c0 + c) * K;
      float* out = sx_buf.data() + c * nsub;
      for (int64_t j = 0; j < nsub; ++j) {
        __m512 s = _mm512_loadu_ps(xc + j * F::kSubElems);
        if constexpr (F::kSubElems == 32) s = _mm512_add_ps(s, _mm512_loadu_ps(xc + j * F::kSubElems + 16));
        out[j] = _mm512_reduce_add_ps(s);
      }
    }
  };
  auto tile = [&](int64_t t, int64_t c0, int c, auto nb, __mmask16 mask) {
    constexpr int NB = decltype(nb)::value;
    float* ys[NB];
    for (int i = 0; i < NB; ++i) ys[i] = y + (c0 + c + i) * ldy + t * kTile;
    const uint8_t* tp = base + t * geo.tile_bytes;
    if constexpr (NB >= 4) {
      const float* xs[NB];
      const float* ss[NB];
      for (int i = 0; i < NB; ++i) {
        xs[i] = x + (c0 + c + i) * K;
        ss[i] = sx_buf.data() + (c + i) * nsub;
      }
      a16_tile_q<F, NB>(tp, tp + geo.scale_region, geo.nblk, xs, ss, ys, mask);
    } else {
      const XLevels* xs[NB];
      for (int i = 0; i < NB; ++i) xs[i] = xl_buf.data() + (c0 + c + i - fma_end) * nx;
      a16i_tile<F, Dot, NB>(tp, tp + geo.scale_region, geo.nblk, xs, ys, mask);
    }
  };
  drive(r0, r1, batch, geo.tile_bytes, prep, tile);
  (void)rows;
}

// Float weights need no prep: the tile is the fp32/fp16/bf16 values themselves.
template <class FF>
void gemm_a16_f(const void* packed, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
                float* y, int64_t ldy) {
  const size_t tile_bytes = static_cast<size_t>(kTile) * K * FF::kBytes;
  const auto* base = static_cast<const uint8_t*>(packed);
  auto tile = [&](int64_t t, int64_t c0, int c, auto nb, __mmask16 mask) {
    constexpr int NB = decltype(nb)::value;
    const float* xs[NB];
    float* ys[NB];
    for (int i = 0; i < NB; ++i) {
      xs[i] = x + (c0 + c + i) * K;
      ys[i] = y + (c0 + c + i) * ldy + t * kTile;
    }
    a16_tile_f<FF, NB>(base + t * tile_bytes, K, xs, ys, mask);
  };
  drive(r0, r1, batch, tile_bytes, [](int64_t, int) {}, tile);
  (void)rows;
}

// =============================================================================================
// Table.
// =============================================================================================
template <class F, class Dot>
MatmulKernels make_quant() {
  MatmulKernels m;
  m.tile = kTile;
  m.packed_bytes = &packed_bytes<F>;
  m.pack = &pack<F>;
  m.gemm_a16 = &gemm_a16<F, Dot>;
  m.gemm_a8 = &gemm_a8<F, Dot>;
  return m;
}

template <class FF>
MatmulKernels make_float() {
  MatmulKernels m;
  m.tile = kTile;
  m.packed_bytes = &packed_bytes_f<FF>;
  m.pack = &pack_f<FF>;
  m.gemm_a16 = &gemm_a16_f<FF>;
  return m;
}

// Every weight type gets 16-row tiles and both modes (the float types A16 only); Dot is the one
// difference between the avx512 and avx512vnni tables.
template <class Dot>
KernelTable build_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  t.mm[QE_TYPE_F32] = make_float<FltF32>();
  t.mm[QE_TYPE_F16] = make_float<FltF16>();
  t.mm[QE_TYPE_BF16] = make_float<FltBF16>();
  t.mm[QE_TYPE_Q4_0] = make_quant<FmtQ4_0, Dot>();
  t.mm[QE_TYPE_Q4_1] = make_quant<FmtQ4_1, Dot>();
  t.mm[QE_TYPE_Q5_0] = make_quant<FmtQ5_0, Dot>();
  t.mm[QE_TYPE_Q5_1] = make_quant<FmtQ5_1, Dot>();
  t.mm[QE_TYPE_Q8_0] = make_quant<FmtQ8_0, Dot>();
  t.mm[QE_TYPE_Q2_K] = make_quant<FmtQ2_K, Dot>();
  t.mm[QE_TYPE_Q3_K] = make_quant<FmtQ3_K, Dot>();
  t.mm[QE_TYPE_Q4_K] = make_quant<FmtQ4_K, Dot>();
  t.mm[QE_TYPE_Q5_K] = make_quant<FmtQ5_K, Dot>();
  t.mm[QE_TYPE_Q6_K] = make_quant<FmtQ6_K, Dot>();
  t.quantize_act32 = &quantize_act32;
  t.quantize_act256 = &quantize_act256;
  return t;
}

}  // namespace
}  // namespace qe::cpu::avx512
