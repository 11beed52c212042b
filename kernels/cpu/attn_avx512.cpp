// The avx512vnni attention table: Q·K and P·V on the packed cache with vpdpbusd (four u8 × s8
// products summed into each int32 lane), around the driver of attn-inl.h compiled for AVX-512.
//
// vpdpbusd multiplies an unsigned byte by a signed one. Keys and values are signed int8 (Q8) or
// unsigned nibbles (Q4), queries signed, probabilities unsigned:
//   Q8 keys:   (k + 128) · q = k · q + 128 · q: keys flipped to unsigned with one xor per vector
//              (shared by every row), 128·Σq subtracted once per row.
//   Q4 keys:   nibble (unsigned) · q.
//   Q8 values: P (unsigned) · v.     Q4 values: P (unsigned) · nibble.
// Four-byte groups never overflow: 4 · 255 · 128 < 2^31, and the lane sums are exact int32.
// GCC 12's avx512fintrin.h self-initializes its "undefined" vectors, which -Wuninitialized
// reports once inlined (GCC PR 105593): silenced for that header's lines only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/attn.h"

#define QE_ATTN_NS attn_impl_avx512
#define QE_ATTN_ISA Isa::kAvx512Vnni
#define QE_ATTN_OWN_INT
#define QE_ATTN_OWN_CVT

namespace qe::cpu::QE_ATTN_NS {
namespace {

constexpr int32_t kRowsPerPass = 8;  // query rows whose accumulators stay in registers

// The 4 bytes at p broadcast to every int32 lane (a query's 4 dimensions, a quad's 4 P).
inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// Lanes = the block's 16 positions. Rows beyond n_rows read zero queries (the driver pads q8).
void qk_q8(const int8_t* kq, int32_t dim, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int32_t r0 = 0; r0 < n_rows; r0 += kRowsPerPass) {
    const int8_t* q = q8 + r0 * dim;
    __m512i acc[kRowsPerPass];
    for (auto& a : acc) a = _mm512_setzero_si512();
    // Each key vector is loaded once per pass and multiplied with every row's broadcast query
    // bytes: the GQA heads share the read.
    for (int32_t c = 0; c < dim / 4; ++c) {
      // 16 positions × dimensions 4c..4c+3, made unsigned once for all rows.
      const __m512i k = _mm512_xor_si512(_mm512_loadu_si512(kq + c * 64), flip);
      for (int32_t i = 0; i < kRowsPerPass; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], k, bcast4(q + i * dim + 4 * c));
    }
    for (int32_t i = 0; i < std::min(kRowsPerPass, n_rows - r0); ++i) {
      int32_t qs = 0;
      for (int32_t d = 0; d < dim; ++d) qs += q[i * dim + d];
      _mm512_storeu_si512(isum + (r0 + i) * 16, _mm512_sub_epi32(acc[i], _mm512_set1_epi32(128 * qs)));
    }
  }
}

// Lanes = positions; each 64-byte vector holds 8 dimensions of 16 positions as nibbles (low:
// 8c..8c+3, high: 8c+4..8c+7), so one load feeds two vpdpbusd per row.
void qk_q4(const uint8_t* kq, int32_t dim, int32_t group, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const int32_t ng = dim / group, cpg = group / 8;
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int32_t r0 = 0; r0 < n_rows; r0 += kRowsPerPass) {
    const int8_t* q = q8 + r0 * dim;
    for (int32_t g = 0; g < ng; ++g) {
      __m512i acc[kRowsPerPass];
      for (auto& a : acc) a = _mm512_setzero_si512();
      for (int32_t c = g * cpg; c < (g + 1) * cpg; ++c) {
        const __m512i b = _mm512_loadu_si512(kq + c * 64);
        const __m512i lo = _mm512_and_si512(b, m4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(b, 4), m4);
        for (int32_t i = 0; i < kRowsPerPass; ++i) {
          acc[i] = _mm512_dpbusd_epi32(acc[i], lo, bcast4(q + i * dim + 8 * c));
          acc[i] = _mm512_dpbusd_epi32(acc[i], hi, bcast4(q + i * dim + 8 * c + 4));
        }
      }
      // One int32 per position and group: the driver applies the group's scale and zero point.
      for (int32_t i = 0; i < std::min(kRowsPerPass, n_rows - r0); ++i)
        _mm512_storeu_si512(isum + ((r0 + i) * ng + g) * 16, acc[i]);
    }
  }
}

// Lanes = 16 output dimensions. Two rows per pass share every value load, and their 2·NA
// independent accumulators (NA chunks of 16 dimensions, 64 at most) hide vpdpbusd's latency.
// Quads whose P are all zero in both rows (masked or negligible positions) are skipped.
template <int NA>
void pv_q8_pass(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* pr, int32_t e0, int32_t* out,
                bool two) {
  __m512i acc[2][NA];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_si512();
  for (int32_t b = 0; b < nb; ++b)
    for (int32_t u = 0; u < 4; ++u) {
      const uint8_t* p0 = pr + b * 16 + 4 * u;
      int32_t w0, w1;
      std::memcpy(&w0, p0, sizeof w0);
      std::memcpy(&w1, p0 + kAttnTile, sizeof w1);  // the next row's (zero when there is none)
      if ((w0 | w1) == 0) continue;
      const __m512i pb0 = _mm512_set1_epi32(w0), pb1 = _mm512_set1_epi32(w1);
      const int8_t* v = vq[b] + (u * dim + e0) * 4;
      for (int32_t a = 0; a < NA; ++a) {
        const __m512i x = _mm512_loadu_si512(v + a * 64);
        acc[0][a] = _mm512_dpbusd_epi32(acc[0][a], pb0, x);
        acc[1][a] = _mm512_dpbusd_epi32(acc[1][a], pb1, x);
      }
    }
  for (int32_t a = 0; a < NA; ++a) {
    _mm512_storeu_si512(out + e0 + 16 * a, acc[0][a]);
    if (two) _mm512_storeu_si512(out + dim + e0 + 16 * a, acc[1][a]);
  }
}

// Rows in pairs (P rows up to 16 exist and are zero beyond n_rows); the tile's value blocks (at
// most 9 KiB) stay in L1 across the passes.
void pv_q8(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* P, int32_t n_rows, int32_t* I) {
  for (int32_t r = 0; r < n_rows; r += 2) {
    const uint8_t* pr = P + r * kAttnTile;
    int32_t* out = I + r * dim;
    const bool two = r + 1 < n_rows;
    for (int32_t e0 = 0; e0 < dim; e0 += 64) {
      switch (std::min(4, (dim - e0) / 16)) {
        case 4: pv_q8_pass<4>(vq, nb, dim, pr, e0, out, two); break;
        case 3: pv_q8_pass<3>(vq, nb, dim, pr, e0, out, two); break;
        case 2: pv_q8_pass<2>(vq, nb, dim, pr, e0, out, two); break;
        default: pv_q8_pass<1>(vq, nb, dim, pr, e0, out, two); break;
      }
    }
  }
}

// Lanes = 16 dimensions; one 64-byte vector holds 32 dimensions of 4 positions (low nibbles
// 32c..32c+15, high 32c+16..32c+31), all in one value group (groups are multiples of 32). Two
// rows per pass share the loads and the nibble unpacking; 4·NC accumulators.
template <int NC>
void pv_q4_pass(const uint8_t* const* vq, int32_t nb, int32_t dim, int32_t group, const uint8_t* pr, int32_t c0,
                int32_t* out, bool two) {
  const int32_t nc = dim / 32, row_p = (dim / group) * kAttnTile;  // P stride between rows
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  __m512i acc[2][2 * NC];
  for (auto& row : acc)
    for (auto& a : row) a = _mm512_setzero_si512();
  for (int32_t b = 0; b < nb; ++b)
    for (int32_t u = 0; u < 4; ++u)
      for (int32_t cc = 0; cc < NC; ++cc) {
        const int32_t c = c0 + cc;
        const uint8_t* p0 = pr + (32 * c / group) * kAttnTile + b * 16 + 4 * u;
        const __m512i pb0 = bcast4(p0), pb1 = bcast4(p0 + row_p);
        const __m512i x = _mm512_loadu_si512(vq[b] + (u * nc + c) * 64);
        const __m512i lo = _mm512_and_si512(x, m4), hi = _mm512_and_si512(_mm512_srli_epi16(x, 4), m4);
        acc[0][2 * cc] = _mm512_dpbusd_epi32(acc[0][2 * cc], pb0, lo);
        acc[0][2 * cc + 1] = _mm512_dpbusd_epi32(acc[0][2 * cc + 1], pb0, hi);
        acc[1][2 * cc] = _mm512_dpbusd_epi32(acc[1][2 * cc], pb1, lo);
        acc[1][2 * cc + 1] = _mm512_dpbusd_epi32(acc[1][2 * cc + 1], pb1, hi);
      }
  for (int32_t i = 0; i < (two ? 2 : 1); ++i)
    for (int32_t cc = 0; cc < NC; ++cc) {
      _mm512_storeu_si512(out + i * dim + 32 * (c0 + cc), acc[i][2 * cc]);
      _mm512_storeu_si512(out + i * dim + 32 * (c0 + cc) + 16, acc[i][2 * cc + 1]);
    }
}

void pv_q4(const uint8_t* const* vq, int32_t nb, int32_t dim, int32_t group, const uint8_t* P, int32_t n_rows,
           int32_t* I) {
  const int32_t ng = dim / group, nc = dim / 32;
  for (int32_t r = 0; r < n_rows; r += 2) {
    const uint8_t* pr = P + r * ng * kAttnTile;
    const bool two = r + 1 < n_rows;
    for (int32_t c0 = 0; c0 < nc; c0 += 2) {
      if (nc - c0 >= 2) pv_q4_pass<2>(vq, nb, dim, group, pr, c0, I + r * dim, two);
      else pv_q4_pass<1>(vq, nb, dim, group, pr, c0, I + r * dim, two);
    }
  }
}

// fp16 → fp32, 16 at a time (vcvtph2ps is exact).
void cvt_f16(const uint16_t* h, float* f, int32_t n) {
  int32_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(f + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
  for (; i < n; ++i) f[i] = _cvtsh_ss(h[i]);
}

}  // namespace
}  // namespace qe::cpu::QE_ATTN_NS

#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_avx512vnni() { return &attn_impl_avx512::kAttnTable; }
}  // namespace qe::cpu
