// The neon-dotprod attention table: Q·K and P·V on the packed cache with sdot/udot (four 8-bit
// products summed into each 32-bit lane), around the driver of attn-inl.h.
//
// sdot multiplies signed bytes, udot unsigned ones:
//   Q8 keys:   k · q, both signed: sdot.            Q4 keys: nibble · q: sdot (nibbles < 128).
//   Q8 values: P reaches 255, beyond int8: (P − 128) · v by sdot, plus 128 · Σ v (one more sdot
//              with ones per value vector, shared by every row).
//   Q4 values: P · nibble, both unsigned: udot.
// The lane sums are exact int32, so equal to the specification's.
#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/attn.h"
#include "format/qe_format.h"

#define QE_ATTN_NS attn_impl_neon_dotprod
#define QE_ATTN_ISA Isa::kNeonDotprod
#define QE_ATTN_OWN_INT
#define QE_ATTN_NEON_CVT

namespace qe::cpu::QE_ATTN_NS {
namespace {

// The 4 bytes at p in every 32-bit lane (a query's 4 dimensions, a quad's 4 P), as the signed
// or unsigned operand.
inline int8x16_t bcast4s(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return vreinterpretq_s8_s32(vdupq_n_s32(v));
}
inline uint8x16_t bcast4u(const void* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return vreinterpretq_u8_s32(vdupq_n_s32(v));
}

// Lanes = positions: a 16-byte vector holds 4 dimensions of 4 positions, four per block. Four
// rows per pass keep 16 accumulators.
void qk_q8(const int8_t* kq, int32_t dim, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  for (int32_t r0 = 0; r0 < n_rows; r0 += 4) {
    const int8_t* q = q8 + r0 * dim;
    int32x4_t acc[4][4];
    for (auto& a : acc)
      for (auto& x : a) x = vdupq_n_s32(0);
    // Each key vector is loaded once per pass and dotted with every row's broadcast query bytes.
    for (int32_t c = 0; c < dim / 4; ++c) {
      int8x16_t k[4];
      for (int32_t j = 0; j < 4; ++j) k[j] = vld1q_s8(kq + c * 64 + 16 * j);
      for (int32_t i = 0; i < 4; ++i) {
        const int8x16_t qb = bcast4s(q + i * dim + 4 * c);
        for (int32_t j = 0; j < 4; ++j) acc[i][j] = vdotq_s32(acc[i][j], k[j], qb);
      }
    }
    for (int32_t i = 0; i < std::min(4, n_rows - r0); ++i)
      for (int32_t j = 0; j < 4; ++j) vst1q_s32(isum + (r0 + i) * 16 + 4 * j, acc[i][j]);
  }
}

// Low nibbles are dimensions 8c..8c+3, high ones 8c+4..8c+7, of 4 positions per vector.
void qk_q4(const uint8_t* kq, int32_t dim, int32_t group, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const int32_t ng = dim / group, cpg = group / 8;
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  for (int32_t r0 = 0; r0 < n_rows; r0 += 2) {
    const int8_t* q = q8 + r0 * dim;
    for (int32_t g = 0; g < ng; ++g) {
      int32x4_t acc[2][4];
      for (auto& a : acc)
        for (auto& x : a) x = vdupq_n_s32(0);
      for (int32_t c = g * cpg; c < (g + 1) * cpg; ++c) {
        int8x16_t lo[4], hi[4];
        for (int32_t j = 0; j < 4; ++j) {
          const uint8x16_t b = vld1q_u8(kq + c * 64 + 16 * j);
          lo[j] = vreinterpretq_s8_u8(vandq_u8(b, m4));   // dimensions 8c .. 8c+3
          hi[j] = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));  // dimensions 8c+4 .. 8c+7
        }
        for (int32_t i = 0; i < 2; ++i) {
          const int8x16_t ql = bcast4s(q + i * dim + 8 * c), qh = bcast4s(q + i * dim + 8 * c + 4);
          for (int32_t j = 0; j < 4; ++j) acc[i][j] = vdotq_s32(vdotq_s32(acc[i][j], lo[j], ql), hi[j], qh);
        }
      }
      // One int32 per position and group: the driver applies the group's scale and zero point.
      for (int32_t i = 0; i < std::min(2, n_rows - r0); ++i)
        for (int32_t j = 0; j < 4; ++j) vst1q_s32(isum + ((r0 + i) * ng + g) * 16 + 4 * j, acc[i][j]);
    }
  }
}

// Lanes = dimensions: a 16-byte vector holds 4 dimensions of the 4 positions of a quad.
void pv_q8(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* P, int32_t n_rows, int32_t* I) {
  // Σ v per dimension over the tile, for the +128 correction of every row.
  int32_t vsum[kAttnMaxDim];
  const int8x16_t ones = vdupq_n_s8(1);
  for (int32_t e = 0; e < dim; e += 4) {
    int32x4_t s = vdupq_n_s32(0);
    for (int32_t b = 0; b < nb; ++b)
      for (int32_t u = 0; u < 4; ++u) s = vdotq_s32(s, vld1q_s8(vq[b] + (u * dim + e) * 4), ones);
    vst1q_s32(vsum + e, s);
  }
  const uint8x16_t flip = vdupq_n_u8(0x80);
  // Row by row, 16 dimensions (4 accumulators) per pass; the tile's values stay in L1.
  for (int32_t r = 0; r < n_rows; ++r) {
    const uint8_t* pr = P + r * kAttnTile;
    for (int32_t e0 = 0; e0 < dim; e0 += 16) {
      int32x4_t acc[4];
      for (auto& a : acc) a = vdupq_n_s32(0);
      for (int32_t b = 0; b < nb; ++b)
        for (int32_t u = 0; u < 4; ++u) {
          // P − 128 as int8: flipping the top bit of an unsigned byte subtracts 128.
          const int8x16_t pb = vreinterpretq_s8_u8(veorq_u8(bcast4u(pr + b * 16 + 4 * u), flip));
          const int8_t* v = vq[b] + (u * dim + e0) * 4;
          for (int32_t a = 0; a < 4; ++a) acc[a] = vdotq_s32(acc[a], vld1q_s8(v + 16 * a), pb);
        }
      for (int32_t a = 0; a < 4; ++a) {
        // Σ (P − 128)·v + 128·Σ v = Σ P·v.
        const int32x4_t corr = vshlq_n_s32(vld1q_s32(vsum + e0 + 4 * a), 7);
        vst1q_s32(I + r * dim + e0 + 4 * a, vaddq_s32(acc[a], corr));
      }
    }
  }
}

// A 64-byte quad of one 32-dimension chunk: slice j (16 bytes) holds dimensions 32c+4j..+3 in
// its low nibbles and 32c+16+4j..+3 in its high ones.
void pv_q4(const uint8_t* const* vq, int32_t nb, int32_t dim, int32_t group, const uint8_t* P, int32_t n_rows,
           int32_t* I) {
  const int32_t ng = dim / group, nc = dim / 32;
  const uint8x16_t m4 = vdupq_n_u8(0x0F);
  for (int32_t r = 0; r < n_rows; ++r) {
    const uint8_t* pr = P + r * ng * kAttnTile;
    for (int32_t c = 0; c < nc; ++c) {
      const uint8_t* pg = pr + (32 * c / group) * kAttnTile;  // the chunk's value group's P
      uint32x4_t lo[4], hi[4];
      for (int32_t j = 0; j < 4; ++j) lo[j] = hi[j] = vdupq_n_u32(0);
      for (int32_t b = 0; b < nb; ++b)
        for (int32_t u = 0; u < 4; ++u) {
          const uint8x16_t pb = bcast4u(pg + b * 16 + 4 * u);
          const uint8_t* v = vq[b] + (u * nc + c) * 64;
          for (int32_t j = 0; j < 4; ++j) {
            const uint8x16_t x = vld1q_u8(v + 16 * j);
            lo[j] = vdotq_u32(lo[j], vandq_u8(x, m4), pb);
            hi[j] = vdotq_u32(hi[j], vshrq_n_u8(x, 4), pb);
          }
        }
      for (int32_t j = 0; j < 4; ++j) {
        vst1q_s32(I + r * dim + 32 * c + 4 * j, vreinterpretq_s32_u32(lo[j]));
        vst1q_s32(I + r * dim + 32 * c + 16 + 4 * j, vreinterpretq_s32_u32(hi[j]));
      }
    }
  }
}


}  // namespace
}  // namespace qe::cpu::QE_ATTN_NS

#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_neon_dotprod() { return &attn_impl_neon_dotprod::kAttnTable; }
}  // namespace qe::cpu
