// The avx2 attention table: Q·K and P·V on the packed cache with vpmaddubsw (u8 × s8 pairs
// into int16) and vpmaddwd, around the driver of attn-inl.h compiled for AVX2.
//
// vpmaddubsw saturates its int16 pair sums, so each product is kept in range:
//   Q8 keys:   |q| (unsigned) · sign(k, q): at most 2 · 127 · 127 = 32258 per pair.
//   Q4 keys:   nibble (unsigned) · q: 2 · 15 · 127 = 3810 per pair, so up to four 8-dimension
//              chunks (8 pairs of products) add up in int16 (30480) before vpmaddwd widens them.
//   Q8 values: P reaches 255 and 2 · 255 · 127 would saturate: values are sign-extended to int16
//              and multiplied by P with vpmaddwd instead (pairs of positions, exact in int32).
//   Q4 values: P (unsigned) · nibble: 2 · 255 · 15 = 7650, four quads (one block) in int16.
// Results are exact int32 sums, so equal to the specification's.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/attn.h"

#define QE_ATTN_NS attn_impl_avx2
#define QE_ATTN_ISA Isa::kAvx2
#define QE_ATTN_OWN_INT
#define QE_ATTN_OWN_CVT

namespace qe::cpu::QE_ATTN_NS {
namespace {

// The 4 bytes at p broadcast to every int32 lane (a query's 4 dimensions, a quad's 4 P).
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}
inline __m256i load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline void store(int32_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// Lanes = positions (two registers of 8 per block); four rows per pass keep 8 accumulators.
void qk_q8(const int8_t* kq, int32_t dim, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int32_t r0 = 0; r0 < n_rows; r0 += 4) {
    const int8_t* q = q8 + r0 * dim;
    __m256i acc[4][2];
    for (auto& a : acc) a[0] = a[1] = _mm256_setzero_si256();
    for (int32_t c = 0; c < dim / 4; ++c) {
      const __m256i k0 = load(kq + c * 64), k1 = load(kq + c * 64 + 32);
      for (int32_t i = 0; i < 4; ++i) {
        // |q| as the unsigned operand, k with q's sign as the signed one: q·k = |q|·(sign(q)·k).
        const __m256i qb = bcast4(q + i * dim + 4 * c);
        const __m256i qa = _mm256_abs_epi8(qb);
        acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(k0, qb)), ones));
        acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(qa, _mm256_sign_epi8(k1, qb)), ones));
      }
    }
    for (int32_t i = 0; i < std::min(4, n_rows - r0); ++i) {
      store(isum + (r0 + i) * 16, acc[i][0]);
      store(isum + (r0 + i) * 16 + 8, acc[i][1]);
    }
  }
}

// Lanes = positions; low nibbles are dimensions 8c..8c+3, high ones 8c+4..8c+7. Two rows per
// pass: 4 int16 and 4 int32 accumulators beside the 4 unpacked key registers.
void qk_q4(const uint8_t* kq, int32_t dim, int32_t group, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const int32_t ng = dim / group, cpg = group / 8;
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int32_t r0 = 0; r0 < n_rows; r0 += 2) {
    const int8_t* q = q8 + r0 * dim;
    for (int32_t g = 0; g < ng; ++g) {
      __m256i acc[2][2];
      for (auto& a : acc) a[0] = a[1] = _mm256_setzero_si256();
      // Runs of 4 chunks (32 dimensions) accumulate in int16, then widen once.
      for (int32_t c0 = g * cpg; c0 < (g + 1) * cpg; c0 += 4) {
        __m256i s16[2][2];
        for (auto& s : s16) s[0] = s[1] = _mm256_setzero_si256();
        for (int32_t c = c0; c < c0 + 4; ++c) {  // cpg is a multiple of 4 (groups of 32)
          const __m256i b0 = load(kq + c * 64), b1 = load(kq + c * 64 + 32);
          const __m256i lo0 = _mm256_and_si256(b0, m4), hi0 = _mm256_and_si256(_mm256_srli_epi16(b0, 4), m4);
          const __m256i lo1 = _mm256_and_si256(b1, m4), hi1 = _mm256_and_si256(_mm256_srli_epi16(b1, 4), m4);
          for (int32_t i = 0; i < 2; ++i) {
            const __m256i ql = bcast4(q + i * dim + 8 * c), qh = bcast4(q + i * dim + 8 * c + 4);
            s16[i][0] = _mm256_add_epi16(s16[i][0], _mm256_add_epi16(_mm256_maddubs_epi16(lo0, ql), _mm256_maddubs_epi16(hi0, qh)));
            s16[i][1] = _mm256_add_epi16(s16[i][1], _mm256_add_epi16(_mm256_maddubs_epi16(lo1, ql), _mm256_maddubs_epi16(hi1, qh)));
          }
        }
        for (int32_t i = 0; i < 2; ++i) {
          acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(s16[i][0], ones));
          acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(s16[i][1], ones));
        }
      }
      // One int32 per position and group: the driver applies the group's scale and zero point.
      for (int32_t i = 0; i < std::min(2, n_rows - r0); ++i) {
        store(isum + ((r0 + i) * ng + g) * 16, acc[i][0]);
        store(isum + ((r0 + i) * ng + g) * 16 + 8, acc[i][1]);
      }
    }
  }
}

// Lanes = (dimension, position pair): 16 values of 4 dimensions × 4 positions widen to int16,
// vpmaddwd against P (4 positions repeated) leaves one int32 per (dimension, pair), and a final
// vphaddd + permute folds the pairs into 8 consecutive dimensions. NA chunks of 8 dimensions.
template <int NA>
void pv_q8_pass(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* pr, int32_t e0, int32_t* out) {
  __m256i lo[NA], hi[NA];
  for (int32_t a = 0; a < NA; ++a) lo[a] = hi[a] = _mm256_setzero_si256();
  for (int32_t b = 0; b < nb; ++b)
    for (int32_t u = 0; u < 4; ++u) {
      const uint8_t* p4 = pr + b * 16 + 4 * u;
      int32_t four;
      std::memcpy(&four, p4, sizeof four);
      if (four == 0) continue;
      const auto w = static_cast<int64_t>(p4[0] | uint64_t{p4[1]} << 16 | uint64_t{p4[2]} << 32 | uint64_t{p4[3]} << 48);
      const __m256i pw = _mm256_set1_epi64x(w);  // P of positions 4u .. 4u+3 as int16, repeated
      const int8_t* v = vq[b] + (u * dim + e0) * 4;
      for (int32_t a = 0; a < NA; ++a) {
        const __m128i* src = reinterpret_cast<const __m128i*>(v + a * 32);
        lo[a] = _mm256_add_epi32(lo[a], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(src)), pw));
        hi[a] = _mm256_add_epi32(hi[a], _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128(src + 1)), pw));
      }
    }
  for (int32_t a = 0; a < NA; ++a)
    store(out + e0 + 8 * a, _mm256_permute4x64_epi64(_mm256_hadd_epi32(lo[a], hi[a]), 0xD8));
}

// Row by row, 32 dimensions (8 accumulators) per pass; the tile's values stay in L1.
void pv_q8(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* P, int32_t n_rows, int32_t* I) {
  for (int32_t r = 0; r < n_rows; ++r) {
    const uint8_t* pr = P + r * kAttnTile;
    for (int32_t e0 = 0; e0 < dim; e0 += 32) {
      switch (std::min(4, (dim - e0) / 8)) {
        case 4: pv_q8_pass<4>(vq, nb, dim, pr, e0, I + r * dim); break;
        default: pv_q8_pass<2>(vq, nb, dim, pr, e0, I + r * dim); break;  // dim is a multiple of 16
      }
    }
  }
}

// Lanes = dimensions: 32 bytes hold 8 dimensions (low nibble 32c+e, high 32c+16+e) of one quad;
// vpmaddubsw pairs positions and vpmaddwd the two pairs. One 32-dimension chunk per pass.
void pv_q4(const uint8_t* const* vq, int32_t nb, int32_t dim, int32_t group, const uint8_t* P, int32_t n_rows,
           int32_t* I) {
  const int32_t ng = dim / group, nc = dim / 32;
  const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int32_t r = 0; r < n_rows; ++r) {
    const uint8_t* pr = P + r * ng * kAttnTile;
    for (int32_t c = 0; c < nc; ++c) {
      const uint8_t* pg = pr + (32 * c / group) * kAttnTile;
      __m256i acc[4];  // dimensions 32c + {0..7, 8..15, 16..23, 24..31}
      for (auto& a : acc) a = _mm256_setzero_si256();
      for (int32_t b = 0; b < nb; ++b) {
        __m256i s16[4];
        for (auto& s : s16) s = _mm256_setzero_si256();
        for (int32_t u = 0; u < 4; ++u) {
          const __m256i pb = bcast4(pg + b * 16 + 4 * u);
          const uint8_t* v = vq[b] + (u * nc + c) * 64;
          const __m256i x0 = load(v), x1 = load(v + 32);
          s16[0] = _mm256_add_epi16(s16[0], _mm256_maddubs_epi16(pb, _mm256_and_si256(x0, m4)));
          s16[1] = _mm256_add_epi16(s16[1], _mm256_maddubs_epi16(pb, _mm256_and_si256(x1, m4)));
          s16[2] = _mm256_add_epi16(s16[2], _mm256_maddubs_epi16(pb, _mm256_and_si256(_mm256_srli_epi16(x0, 4), m4)));
          s16[3] = _mm256_add_epi16(s16[3], _mm256_maddubs_epi16(pb, _mm256_and_si256(_mm256_srli_epi16(x1, 4), m4)));
        }
        // One block (4 quads) stays within int16: widen it to int32 before the next.
        for (int32_t a = 0; a < 4; ++a) acc[a] = _mm256_add_epi32(acc[a], _mm256_madd_epi16(s16[a], ones));
      }
      for (int32_t a = 0; a < 4; ++a) store(I + r * dim + 32 * c + 8 * a, acc[a]);
    }
  }
}

// fp16 → fp32, 8 at a time (vcvtph2ps is exact).
void cvt_f16(const uint16_t* h, float* f, int32_t n) {
  int32_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(f + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
  for (; i < n; ++i) f[i] = _cvtsh_ss(h[i]);
}

}  // namespace
}  // namespace qe::cpu::QE_ATTN_NS

#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_avx2() { return &attn_impl_avx2::kAttnTable; }
}  // namespace qe::cpu
