// neon_quant-inl.h: the AArch64 packed layouts of every weight type, their unpacking into the
// canonical int8 form, and the A16 / A8 tile kernels built on them (shared by the three tables).
//
// Every quantized type is packed as tiles of 4 rows; a tile is its K / block_elems "tile-blocks"
// in order, each the 4 rows' GGUF blocks rearranged (sizes: 4x the GGUF block unless noted):
//   - per-row scalars first, as 4 consecutive values (one per row, so one load gives a vector
//     with a row per lane): fp16 d, then fp16 m / dmin where the type has one;
//   - K-quant sub-scales as [sub-block][row] bytes (4 bytes per sub-block);
//   - then the values, 16-byte registers in the group layout of neon_common-inl.h:
//         byte 4*i + j = row i, GGUF byte (4*p + j) of the same field
//     i.e. each GGUF field (qs, qh, ql, hmask) is cut into 4-byte columns p and the 4 rows'
//     columns are interleaved. Bit operations on such a register act on the 4 rows at once and
//     keep the layout, so the unpacking below is the GGUF bit arithmetic applied 16 bytes at a
//     time, with no shuffles.
//
// Canonical unpacked form: for each 32-element piece of a block, w[g] (g < 8) holds elements
// 4g..4g+3 of the piece for the 4 rows, as the int8 values the A8 specification multiplies
// (with the per-type offset already subtracted where the type's math allows it, see each type).
//
// A8 arithmetic per row is the specification's, in its order (a8_spec.h): exact int32 sums per
// block, then fp32 fmas with one row per lane. A16 dequantizes each group to fp32 (scale * q +
// offset per row) and accumulates 4 partial sums per row, folded with two addp at the end.
#pragma once

#include <type_traits>

#include "neon/neon_common-inl.h"

namespace qe::cpu {
namespace {

// GGUF blocks of the 4 rows of a tile (nullptr rows past the end read as zero blocks).
template <class Block>
struct RowBlocks {
  const Block* b[kTile];
};

// ----- 32-element types: one piece per block ------------------------------------------------

// Q4_0 (72 B): d[4] fp16 | 4 registers of nibbles, register p byte 4i+j = qs[4p+j] ^ 0x88.
// GGUF puts element m in the low nibble of qs[m] and m+16 in the high one, so register p holds
// groups p (low nibbles) and p+4 (high). The xor stores q - 8 as a 4-bit two's complement in each
// nibble; then `r << 4` is 16*(q_lo - 8) and `r & 0xF0` is 16*(q_hi - 8), both exact int8
// (-128..112). Two instructions give two groups of signed values; the dot is 16x the spec's
// isum = sum q*x - 8*sum(x), and an arithmetic shift by 4 (exact: every term is a multiple of
// 16) recovers it.
struct Q4_0 {
  using Block = qe_block_q4_0;
  static constexpr qe_type kType = QE_TYPE_Q4_0;
  static constexpr int kElems = 32, kBytes = 72, kPieces = 1;
  static constexpr bool kHasMin = false, kOffset = false;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      std::memcpy(o + 2 * i, &rb.b[i]->d, 2);
      for (int p = 0; p < 4; ++p)
        for (int j = 0; j < 4; ++j) o[8 + 16 * p + 4 * i + j] = rb.b[i]->qs[4 * p + j] ^ 0x88;
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int, int8x16_t* w) {
    for (int p = 0; p < 4; ++p) {
      const uint8x16_t r = ld(t + 8 + 16 * p);
      w[p] = s8(vshlq_n_u8(r, 4));
      w[p + 4] = s8(vandq_u8(r, vdupq_n_u8(0xF0)));
    }
  }
  static QE_NEON_INLINE int32x4_t fix(int32x4_t isum) { return vshrq_n_s32(isum, 4); }
  // A16: w = 16*(q-8), so the scale is d / 16 (exact: a power-of-two step of a normal float).
  static QE_NEON_INLINE void params(const uint8_t* t, int, float32x4_t* s, float32x4_t*) {
    s[0] = s[1] = vmulq_n_f32(load_f16x4(t), 0.0625f);
  }
};

// Q4_1 (80 B): d[4] | m[4] | nibbles as Q4_0 without the xor: q unsigned (0..15, a valid int8)
// are the spec's values v, and the min enters as fma(m, s, acc).
struct Q4_1 {
  using Block = qe_block_q4_1;
  static constexpr qe_type kType = QE_TYPE_Q4_1;
  static constexpr int kElems = 32, kBytes = 80, kPieces = 1;
  static constexpr bool kHasMin = true, kOffset = true;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      std::memcpy(o + 2 * i, &rb.b[i]->d, 2);
      std::memcpy(o + 8 + 2 * i, &rb.b[i]->m, 2);
      for (int p = 0; p < 4; ++p)
        for (int j = 0; j < 4; ++j) o[16 + 16 * p + 4 * i + j] = rb.b[i]->qs[4 * p + j];
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int, int8x16_t* w) {
    for (int p = 0; p < 4; ++p) {
      const uint8x16_t r = ld(t + 16 + 16 * p);
      w[p] = s8(vandq_u8(r, vdupq_n_u8(0x0F)));
      w[p + 4] = s8(vshrq_n_u8(r, 4));
    }
  }
  static QE_NEON_INLINE int32x4_t fix(int32x4_t isum) { return isum; }
  static QE_NEON_INLINE void params(const uint8_t* t, int, float32x4_t* s, float32x4_t* o) {
    s[0] = s[1] = load_f16x4(t);
    o[0] = o[1] = load_f16x4(t + 8);
  }
};

// Q5_0 (88 B) / Q5_1 (96 B): d[4] (| m[4]) | H (16 B) | nibbles as Q4_1. H byte 4i+j gathers the
// 5th bits that register p's byte 4i+j needs: bit p = bit 4 of element 4p+j, bit 4+p = bit 4 of
// element 16+4p+j. One shift and mask moves it to bit 4 of the nibble. Q5_0 subtracts 16 from
// the values (spec: isum = sum q*x - 16*sum(x) = sum (q-16)*x); Q5_1 keeps q and adds the min.
template <bool kMin>
struct Q5 {
  using Block = std::conditional_t<kMin, qe_block_q5_1, qe_block_q5_0>;
  static constexpr qe_type kType = kMin ? QE_TYPE_Q5_1 : QE_TYPE_Q5_0;
  static constexpr int kElems = 32, kBytes = kMin ? 96 : 88, kPieces = 1;
  static constexpr bool kHasMin = kMin, kOffset = kMin;
  static constexpr int kH = kMin ? 16 : 8, kQ = kH + 16;  // offsets of H and the nibbles
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      const Block& b = *rb.b[i];
      std::memcpy(o + 2 * i, &b.d, 2);
      if constexpr (kMin) std::memcpy(o + 8 + 2 * i, &b.m, 2);
      const uint32_t qh = b.qh[0] | (b.qh[1] << 8) | (b.qh[2] << 16) | (static_cast<uint32_t>(b.qh[3]) << 24);
      for (int j = 0; j < 4; ++j) {
        uint8_t h = 0;
        for (int p = 0; p < 4; ++p) {
          h |= static_cast<uint8_t>(((qh >> (4 * p + j)) & 1) << p);
          h |= static_cast<uint8_t>(((qh >> (16 + 4 * p + j)) & 1) << (4 + p));
        }
        o[kH + 4 * i + j] = h;
      }
      for (int p = 0; p < 4; ++p)
        for (int j = 0; j < 4; ++j) o[kQ + 16 * p + 4 * i + j] = b.qs[4 * p + j];
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int, int8x16_t* w) {
    const uint8x16_t h = ld(t + kH), b4 = vdupq_n_u8(0x10);
    for (int p = 0; p < 4; ++p) {
      const uint8x16_t r = ld(t + kQ + 16 * p);
      uint8x16_t lo = vorrq_u8(vandq_u8(r, vdupq_n_u8(0x0F)), vandq_u8(shift_u8(h, 4 - p), b4));
      uint8x16_t hi = vorrq_u8(vshrq_n_u8(r, 4), vandq_u8(shift_u8(h, -p), b4));
      if constexpr (!kMin) {
        lo = vsubq_u8(lo, b4);  // q - 16 in two's complement
        hi = vsubq_u8(hi, b4);
      }
      w[p] = s8(lo);
      w[p + 4] = s8(hi);
    }
  }
  static QE_NEON_INLINE int32x4_t fix(int32x4_t isum) { return isum; }
  static QE_NEON_INLINE void params(const uint8_t* t, int, float32x4_t* s, float32x4_t* o) {
    s[0] = s[1] = load_f16x4(t);
    if constexpr (kMin) o[0] = o[1] = load_f16x4(t + 8);
  }
};
using Q5_0 = Q5<false>;
using Q5_1 = Q5<true>;

// Q8_0 (136 B): d[4] | 8 registers, register g byte 4i+j = qs[4g+j] (already signed).
struct Q8_0 {
  using Block = qe_block_q8_0;
  static constexpr qe_type kType = QE_TYPE_Q8_0;
  static constexpr int kElems = 32, kBytes = 136, kPieces = 1;
  static constexpr bool kHasMin = false, kOffset = false;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      std::memcpy(o + 2 * i, &rb.b[i]->d, 2);
      for (int g = 0; g < 8; ++g) std::memcpy(o + 8 + 16 * g + 4 * i, rb.b[i]->qs + 4 * g, 4);
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int, int8x16_t* w) {
    for (int g = 0; g < 8; ++g) w[g] = vld1q_s8(reinterpret_cast<const int8_t*>(t + 8 + 16 * g));
  }
  static QE_NEON_INLINE int32x4_t fix(int32x4_t isum) { return isum; }
  static QE_NEON_INLINE void params(const uint8_t* t, int, float32x4_t* s, float32x4_t*) { s[0] = s[1] = load_f16x4(t); }
};

// ----- K-quants: 256-element blocks, 8 pieces of 32 -----------------------------------------

// Q4_K (592 B, GGUF 576 + 16: the 6-bit scales are unpacked to bytes):
//   d[4] | dmin[4] | sc[8][4] u8 | m[8][4] u8 | chunk c < 4: 8 registers, p byte 4i+j = qs[32c+4p+j]
// Sub-block (= piece) 2c is the low nibbles of chunk c, 2c+1 the high ones.
// Q5_K (720 B = 4 * 176 + 16): the same plus, before the nibbles, 8 registers H_p with byte 4i+j =
// qh[4p+j]: bit s of it is bit 4 of element 32s + 4p + j, i.e. piece s, group p - the GGUF qh
// layout already is "one bit per piece", so piece s shifts bit s to bit 4.
template <bool kFive>
struct Q45K {
  using Block = std::conditional_t<kFive, qe_block_q5_K, qe_block_q4_K>;
  static constexpr qe_type kType = kFive ? QE_TYPE_Q5_K : QE_TYPE_Q4_K;
  static constexpr int kElems = 256, kBytes = kFive ? 720 : 592, kPieces = 8;
  static constexpr bool kHasMin = true, kOffset = true;
  static constexpr int kSc = 16, kM = 48, kH = 80, kQ = kFive ? 208 : 80;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      const Block& b = *rb.b[i];
      std::memcpy(o + 2 * i, &b.d, 2);
      std::memcpy(o + 8 + 2 * i, &b.dmin, 2);
      for (int j = 0; j < 8; ++j) qe_q4_K_scale_min(b.scales, j, &o[kSc + 4 * j + i], &o[kM + 4 * j + i]);
      for (int c = 0; c < 4; ++c)
        for (int p = 0; p < 8; ++p) std::memcpy(o + kQ + 128 * c + 16 * p + 4 * i, b.qs + 32 * c + 4 * p, 4);
      if constexpr (kFive)
        for (int p = 0; p < 8; ++p) std::memcpy(o + kH + 16 * p + 4 * i, b.qh + 4 * p, 4);
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int s, int8x16_t* w) {
    // Piece s: chunk s / 2, low nibbles for even s, high for odd; Q5_K adds bit s of H_p as bit 4
    // (shift left by 4 - s, i.e. right by s - 4 for s > 4). Values stay unsigned (0..31): the
    // spec's integer dot is on q itself, the min is applied through the bsums.
    const uint8_t* q = t + kQ + 128 * (s / 2);
    for (int p = 0; p < 8; ++p) {
      const uint8x16_t r = ld(q + 16 * p);
      uint8x16_t v = (s & 1) ? vshrq_n_u8(r, 4) : vandq_u8(r, vdupq_n_u8(0x0F));
      if constexpr (kFive) v = vorrq_u8(v, vandq_u8(shift_u8(ld(t + kH + 16 * p), 4 - s), vdupq_n_u8(0x10)));
      w[p] = s8(v);
    }
  }
  // Sub-scale and sub-min of piece s for the 4 rows, as int32 lanes.
  static QE_NEON_INLINE int32x4_t sc(const uint8_t* t, int s) {
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(t + kSc + 4 * s)))));
  }
  static QE_NEON_INLINE void params(const uint8_t* t, int s, float32x4_t* sv, float32x4_t* ov) {
    const float32x4_t m = vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(t + kM + 4 * s)))));
    sv[0] = sv[1] = vmulq_f32(load_f16x4(t), vcvtq_f32_s32(sc(t, s)));
    ov[0] = ov[1] = vnegq_f32(vmulq_f32(load_f16x4(t + 8), m));
  }
};
using Q4_K = Q45K<false>;
using Q5_K = Q45K<true>;

// Q6_K (840 B, same as GGUF): d[4] | sc[16][4] i8 | ql: h < 2, p < 16: register byte 4i+j =
// ql[64h+4p+j] | qh: h < 2, p < 8: register byte 4i+j = qh[32h+4p+j].
// Piece n = 4h + s (elements 128h + 32s + l): low 4 bits are nibble s/2 of ql[64h + 32(s%2) + l],
// high 2 bits are bits 2s..2s+1 of qh[32h + l] (qe_format.h), so group p of piece n reads ql
// register (h, 8(s%2) + p) and qh register (h, p). Values are stored minus 32 (-32..31): the
// spec's sc_j * (sum q*x - 32*bsum_j) is sc_j * sum (q-32)*x exactly.
struct Q6_K {
  using Block = qe_block_q6_K;
  static constexpr qe_type kType = QE_TYPE_Q6_K;
  static constexpr int kElems = 256, kBytes = 840, kPieces = 8;
  static constexpr bool kHasMin = false, kOffset = false;
  static constexpr int kSc = 8, kL = 72, kHq = 584;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      const Block& b = *rb.b[i];
      std::memcpy(o + 2 * i, &b.d, 2);
      for (int j = 0; j < 16; ++j) o[kSc + 4 * j + i] = static_cast<uint8_t>(b.scales[j]);
      for (int h = 0; h < 2; ++h) {
        for (int p = 0; p < 16; ++p) std::memcpy(o + kL + 256 * h + 16 * p + 4 * i, b.ql + 64 * h + 4 * p, 4);
        for (int p = 0; p < 8; ++p) std::memcpy(o + kHq + 128 * h + 16 * p + 4 * i, b.qh + 32 * h + 4 * p, 4);
      }
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int n, int8x16_t* w) {
    // Low nibble: ql register (h, 8(s%2) + p), nibble s/2. High bits 2s..2s+1 of qh register (h, p)
    // to bits 4..5: shift by 4 - 2s (+4, +2, 0, -2) and mask 0x30.
    const int h = n / 4, s = n % 4;
    const uint8_t* l = t + kL + 256 * h + 16 * 8 * (s % 2);
    const uint8_t* q = t + kHq + 128 * h;
    for (int p = 0; p < 8; ++p) {
      const uint8x16_t r = ld(l + 16 * p);
      const uint8x16_t lo = (s / 2) ? vshrq_n_u8(r, 4) : vandq_u8(r, vdupq_n_u8(0x0F));
      const uint8x16_t hi = vandq_u8(shift_u8(ld(q + 16 * p), 4 - 2 * s), vdupq_n_u8(0x30));
      w[p] = s8(vsubq_u8(vorrq_u8(lo, hi), vdupq_n_u8(32)));
    }
  }
  // Sub-scales of the piece's two 16-element sub-blocks 2n, 2n+1 (groups 0..3 and 4..7).
  static QE_NEON_INLINE void sc2(const uint8_t* t, int n, int32x4_t* a, int32x4_t* b) {
    const int16x8_t v = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(t + kSc + 8 * n)));
    *a = vmovl_s16(vget_low_s16(v));
    *b = vmovl_s16(vget_high_s16(v));
  }
  static QE_NEON_INLINE void params(const uint8_t* t, int n, float32x4_t* sv, float32x4_t*) {
    int32x4_t a, b;
    sc2(t, n, &a, &b);
    const float32x4_t d = load_f16x4(t);
    sv[0] = vmulq_f32(d, vcvtq_f32_s32(a));
    sv[1] = vmulq_f32(d, vcvtq_f32_s32(b));
  }
};

// Q2_K (336 B, same as GGUF): d[4] | dmin[4] | scales[16][4] (raw bytes: low nibble scale, high
// nibble min) | h < 2, p < 8: register byte 4i+j = qs[32h+4p+j]. Piece n = 4h + s is bits 2s..2s+1
// of chunk h: one shift and one mask.
struct Q2_K {
  using Block = qe_block_q2_K;
  static constexpr qe_type kType = QE_TYPE_Q2_K;
  static constexpr int kElems = 256, kBytes = 336, kPieces = 8;
  static constexpr bool kHasMin = true, kOffset = true;
  static constexpr int kSc = 16, kQ = 80;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      const Block& b = *rb.b[i];
      std::memcpy(o + 2 * i, &b.d, 2);
      std::memcpy(o + 8 + 2 * i, &b.dmin, 2);
      for (int j = 0; j < 16; ++j) o[kSc + 4 * j + i] = b.scales[j];
      for (int h = 0; h < 2; ++h)
        for (int p = 0; p < 8; ++p) std::memcpy(o + kQ + 128 * h + 16 * p + 4 * i, b.qs + 32 * h + 4 * p, 4);
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int n, int8x16_t* w) {
    // Bits 2s..2s+1 (s = n % 4) of chunk n / 4, moved down by 2s.
    const uint8_t* q = t + kQ + 128 * (n / 4);
    for (int p = 0; p < 8; ++p) w[p] = s8(vandq_u8(shift_u8(ld(q + 16 * p), -2 * (n % 4)), vdupq_n_u8(3)));
  }
  static QE_NEON_INLINE void sc2(const uint8_t* t, int n, int32x4_t* a, int32x4_t* b) {
    const int16x8_t v = vreinterpretq_s16_u16(vmovl_u8(vand_u8(vld1_u8(t + kSc + 8 * n), vdup_n_u8(15))));
    *a = vmovl_s16(vget_low_s16(v));
    *b = vmovl_s16(vget_high_s16(v));
  }
  static QE_NEON_INLINE void params(const uint8_t* t, int n, float32x4_t* sv, float32x4_t* ov) {
    const uint16x8_t raw = vmovl_u8(vld1_u8(t + kSc + 8 * n));
    const uint16x8_t sc = vandq_u16(raw, vdupq_n_u16(15)), m = vshrq_n_u16(raw, 4);
    const float32x4_t d = load_f16x4(t), dmin = load_f16x4(t + 8);
    sv[0] = vmulq_f32(d, vcvtq_f32_u32(vmovl_u16(vget_low_u16(sc))));
    sv[1] = vmulq_f32(d, vcvtq_f32_u32(vmovl_u16(vget_high_u16(sc))));
    ov[0] = vnegq_f32(vmulq_f32(dmin, vcvtq_f32_u32(vmovl_u16(vget_low_u16(m)))));
    ov[1] = vnegq_f32(vmulq_f32(dmin, vcvtq_f32_u32(vmovl_u16(vget_high_u16(m)))));
  }
};

// Q3_K (456 B, GGUF 440 + 16: the 6-bit scales are unpacked to signed bytes): d[4] |
// sc[16][4] i8 (already minus 32) | qs as Q2_K | 8 registers, byte 4i+j = ~hmask[4p+j].
// Element 32n + l has low2 from qs as in Q2_K and its high bit at bit n of hmask[l]; the spec's
// q = hbit ? low2 : low2 - 4 is low2 - 4 * (inverted bit), the inverted bit moved to bit 2.
struct Q3_K {
  using Block = qe_block_q3_K;
  static constexpr qe_type kType = QE_TYPE_Q3_K;
  static constexpr int kElems = 256, kBytes = 456, kPieces = 8;
  static constexpr bool kHasMin = false, kOffset = false;
  static constexpr int kSc = 8, kQ = 72, kHm = 328;
  static void pack(const RowBlocks<Block>& rb, uint8_t* o) {
    for (int i = 0; i < kTile; ++i) {
      const Block& b = *rb.b[i];
      std::memcpy(o + 2 * i, &b.d, 2);
      for (int j = 0; j < 16; ++j) o[kSc + 4 * j + i] = static_cast<uint8_t>(static_cast<int8_t>(qe_q3_K_scale(b.scales, j)));
      for (int h = 0; h < 2; ++h)
        for (int p = 0; p < 8; ++p) std::memcpy(o + kQ + 128 * h + 16 * p + 4 * i, b.qs + 32 * h + 4 * p, 4);
      for (int p = 0; p < 8; ++p)
        for (int j = 0; j < 4; ++j) o[kHm + 16 * p + 4 * i + j] = static_cast<uint8_t>(~b.hmask[4 * p + j]);
    }
  }
  static QE_NEON_INLINE void unpack(const uint8_t* t, int n, int8x16_t* w) {
    // low2 as Q2_K; the inverted high bit n moves to bit 2 (shift by 2 - n) and is subtracted:
    // low2 - 4 wraps to the right int8 (-4..-1) when the GGUF bit is 0.
    const uint8_t* q = t + kQ + 128 * (n / 4);
    for (int p = 0; p < 8; ++p) {
      const uint8x16_t low2 = vandq_u8(shift_u8(ld(q + 16 * p), -2 * (n % 4)), vdupq_n_u8(3));
      const uint8x16_t four = vandq_u8(shift_u8(ld(t + kHm + 16 * p), 2 - n), vdupq_n_u8(4));
      w[p] = s8(vsubq_u8(low2, four));
    }
  }
  static QE_NEON_INLINE void sc2(const uint8_t* t, int n, int32x4_t* a, int32x4_t* b) {
    const int16x8_t v = vmovl_s8(vld1_s8(reinterpret_cast<const int8_t*>(t + kSc + 8 * n)));
    *a = vmovl_s16(vget_low_s16(v));
    *b = vmovl_s16(vget_high_s16(v));
  }
  static QE_NEON_INLINE void params(const uint8_t* t, int n, float32x4_t* sv, float32x4_t*) {
    int32x4_t a, b;
    sc2(t, n, &a, &b);
    const float32x4_t d = load_f16x4(t);
    sv[0] = vmulq_f32(d, vcvtq_f32_s32(a));
    sv[1] = vmulq_f32(d, vcvtq_f32_s32(b));
  }
};

// ----- pack ---------------------------------------------------------------------------------

template <class T>
size_t packed_bytes(int64_t rows, int64_t K) {
  return static_cast<size_t>((rows + kTile - 1) / kTile) * static_cast<size_t>(K / T::kElems) * T::kBytes;
}

// GGUF rows (rows, K) -> tiles of 4 rows, each K / kElems tile-blocks in block order. Packing runs
// once at load and favours clarity: a scalar byte shuffle per block (T::pack).
template <class T>
void pack(const void* src, int64_t rows, int64_t K, void* dst) {
  using Block = typename T::Block;
  static const Block kZero{};  // padding rows: all-zero blocks (scale 0: every value is 0)
  const int64_t nb = K / T::kElems;
  const auto* s = static_cast<const Block*>(src);
  auto* o = static_cast<uint8_t*>(dst);
  for (int64_t r0 = 0; r0 < rows; r0 += kTile) {
    for (int64_t b = 0; b < nb; ++b, o += T::kBytes) {
      RowBlocks<Block> rb;
      for (int i = 0; i < kTile; ++i) rb.b[i] = r0 + i < rows ? s + (r0 + i) * nb + b : &kZero;
      std::memset(o, 0, T::kBytes);
      T::pack(rb, o);
    }
  }
}

// ----- A8 tile kernels ------------------------------------------------------------------------

// 32-element types (a8_spec.h): per block, unpack once (8 registers, reused by every column) and
// form U_h = Σ v over each 16-element half (weights alone: once per block for all columns), then
// per column P_h = Σ v·q per half and the spec's
//   t = P_0·d_0; t = fma(P_1, d_1, t); t = fma(U_0, c_0, t); t = fma(U_1, c_1, t)
//   acc = fma(t, dw, acc) [; acc = fma(mw, s, acc)]
// with one row per lane, so each lane is exactly spec::dot_a8 of its row (T::fix undoes Q4_0's
// 16x scaling of the values: exact, every sum is a multiple of 16). NC = 4 columns keep 8 weight
// + 4 accumulator registers live, well inside the 32 vector registers; the activation loads per
// column and block come from L1 (the driver keeps a chunk of columns in L2).
template <class T, class Dot>
struct A8Blocks32 {
  template <int NC>
  static QE_NEON_INLINE void run(const uint8_t* t, int64_t K, const uint8_t* x, size_t xs, float32x4_t* out) {
    float32x4_t acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = vdupq_n_f32(0.0f);
    const int8x16_t ones = vdupq_n_s8(1);
    for (int64_t b = 0; b < K / 32; ++b, t += T::kBytes) {
      int8x16_t w[8];
      T::unpack(t, 0, w);
      const float32x4_t d = load_f16x4(t);
      const float32x4_t u0 = vcvtq_f32_s32(T::fix(Dot::dot16(vdupq_n_s32(0), w, ones)));
      const float32x4_t u1 = vcvtq_f32_s32(T::fix(Dot::dot16(vdupq_n_s32(0), w + 4, ones)));
      const auto col = [&](int c) { return reinterpret_cast<const ActBlock32*>(x + c * xs) + b; };
      const auto finish = [&](int c, int32x4_t p0, int32x4_t p1) {
        const ActBlock32* a = col(c);
        float32x4_t v = vmulq_n_f32(vcvtq_f32_s32(T::fix(p0)), a->d[0]);
        v = vfmaq_n_f32(v, vcvtq_f32_s32(T::fix(p1)), a->d[1]);
        v = vfmaq_n_f32(v, u0, a->c[0]);
        v = vfmaq_n_f32(v, u1, a->c[1]);
        acc[c] = vfmaq_f32(acc[c], v, d);
        if constexpr (T::kHasMin) acc[c] = vfmaq_n_f32(acc[c], load_f16x4(t + 8), a->s);
      };
      if constexpr (Dot::kPairs && NC % 2 == 0) {  // i8mm: two columns per smmla
        int8x16_t z[8];
        Dot::zip(w, z);
        for (int c = 0; c < NC; c += 2) {
          int32x4_t pu[2], pv[2];
          for (int h = 0; h < 2; ++h) Dot::dot16x2(z + 4 * h, vld1q_s8(col(c)->qs + 16 * h), vld1q_s8(col(c + 1)->qs + 16 * h), pu[h], pv[h]);
          finish(c, pu[0], pu[1]);
          finish(c + 1, pv[0], pv[1]);
        }
      } else {
        for (int c = 0; c < NC; ++c)
          finish(c, Dot::dot16(vdupq_n_s32(0), w, vld1q_s8(col(c)->qs)), Dot::dot16(vdupq_n_s32(0), w + 4, vld1q_s8(col(c)->qs + 16)));
      }
    }
    for (int c = 0; c < NC; ++c) out[c] = acc[c];
  }
};

// msum = sum_j m_j * bs[j] over 8 sub-blocks, m as [j][row] int16 (two sub-blocks per register).
QE_NEON_INLINE int32x4_t msum8(const int16x8_t* m, int16x8_t bs) {
  int32x4_t s = vmull_laneq_s16(vget_low_s16(m[0]), bs, 0);
  s = vmlal_laneq_s16(s, vget_high_s16(m[0]), bs, 1);
  s = vmlal_laneq_s16(s, vget_low_s16(m[1]), bs, 2);
  s = vmlal_laneq_s16(s, vget_high_s16(m[1]), bs, 3);
  s = vmlal_laneq_s16(s, vget_low_s16(m[2]), bs, 4);
  s = vmlal_laneq_s16(s, vget_high_s16(m[2]), bs, 5);
  s = vmlal_laneq_s16(s, vget_low_s16(m[3]), bs, 6);
  return vmlal_laneq_s16(s, vget_high_s16(m[3]), bs, 7);
}

// Q4_K / Q5_K: isum = sum_j sc_j * dot_j over the 8 32-element sub-blocks, msum = sum_j m_j *
// (bsum_2j + bsum_2j+1), then acc = fma(isum, d*dx, acc); acc = fma(-msum, dmin*dx, acc).
// isum stays int32 over the whole super-block (|isum| <= 8 * 63 * 32 * 31 * 127 < 2^31), so the
// sub-scales are applied with an integer multiply-add per piece (vmla by the row's scale lane)
// and the float work is two fmas per column and super-block. The mins never touch the weights:
// the Q8_K bsums carry sum(x) per 16 elements, and msum is 8 lane-multiplies per column.
template <class T, class Dot>
struct A8Q45K {
  template <int NC>
  static QE_NEON_INLINE void run(const uint8_t* t, int64_t K, const uint8_t* x, size_t xs, float32x4_t* out) {
    float32x4_t acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < K / 256; ++b, t += T::kBytes) {
      int32x4_t isum[NC];
      for (int c = 0; c < NC; ++c) isum[c] = vdupq_n_s32(0);
      for (int s = 0; s < 8; ++s) {
        int8x16_t w[8];
        T::unpack(t, s, w);
        const int32x4_t sc = T::sc(t, s);
        const auto xq = [&](int c) { return (reinterpret_cast<const qe_block_q8_K*>(x + c * xs) + b)->qs + 32 * s; };
        if constexpr (Dot::kPairs && NC % 2 == 0) {
          int8x16_t z[8];
          Dot::zip(w, z);
          for (int c = 0; c < NC; c += 2) {
            int32x4_t du, dv;
            Dot::dot32x2(z, vld1q_s8(xq(c)), vld1q_s8(xq(c) + 16), vld1q_s8(xq(c + 1)), vld1q_s8(xq(c + 1) + 16), du, dv);
            isum[c] = vmlaq_s32(isum[c], du, sc);
            isum[c + 1] = vmlaq_s32(isum[c + 1], dv, sc);
          }
        } else {
          for (int c = 0; c < NC; ++c) isum[c] = vmlaq_s32(isum[c], Dot::dot32(w, vld1q_s8(xq(c)), vld1q_s8(xq(c) + 16)), sc);
        }
      }
      const float32x4_t d = load_f16x4(t), dmin = load_f16x4(t + 8);
      const uint8x16_t m01 = ld(t + T::kM), m23 = ld(t + T::kM + 16);
      const int16x8_t m[4] = {vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m01))), vreinterpretq_s16_u16(vmovl_high_u8(m01)),
                              vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(m23))), vreinterpretq_s16_u16(vmovl_high_u8(m23))};
      for (int c = 0; c < NC; ++c) {
        const qe_block_q8_K* a = reinterpret_cast<const qe_block_q8_K*>(x + c * xs) + b;
        // Pair sums bsum_2j + bsum_2j+1 (|.| <= 32 * 127: int16 is exact).
        const int16x8_t bs = vpaddq_s16(vld1q_s16(a->bsums), vld1q_s16(a->bsums + 8));
        acc[c] = vfmaq_f32(acc[c], vcvtq_f32_s32(isum[c]), vmulq_n_f32(d, a->d));
        acc[c] = vfmaq_f32(acc[c], vcvtq_f32_s32(vnegq_s32(msum8(m, bs))), vmulq_n_f32(dmin, a->d));
      }
    }
    for (int c = 0; c < NC; ++c) out[c] = acc[c];
  }
};

// Q6_K, Q3_K, Q2_K: 16-element sub-blocks, two per piece: isum = sum_j sc_j * dot_j
// (acc = fma(isum, d*dx, acc)); Q2_K also msum = sum_j m_j * bsum_j (acc = fma(-msum, dmin*dx, acc)).
// Each piece's groups 0..3 and 4..7 are separate sub-blocks with their own scale, hence two dot16
// (or, on i8mm, two smmla pairs that never mix the halves) instead of one dot32.
template <class T, class Dot>
struct A8K16 {
  template <int NC>
  static QE_NEON_INLINE void run(const uint8_t* t, int64_t K, const uint8_t* x, size_t xs, float32x4_t* out) {
    float32x4_t acc[NC];
    for (int c = 0; c < NC; ++c) acc[c] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < K / 256; ++b, t += T::kBytes) {
      int32x4_t isum[NC];
      for (int c = 0; c < NC; ++c) isum[c] = vdupq_n_s32(0);
      for (int n = 0; n < 8; ++n) {
        int8x16_t w[8];
        T::unpack(t, n, w);
        int32x4_t sa, sb;
        T::sc2(t, n, &sa, &sb);
        const auto xq = [&](int c) { return (reinterpret_cast<const qe_block_q8_K*>(x + c * xs) + b)->qs + 32 * n; };
        if constexpr (Dot::kPairs && NC % 2 == 0) {
          int8x16_t z[8];
          Dot::zip(w, z);
          for (int c = 0; c < NC; c += 2) {
            int32x4_t du, dv;
            Dot::dot16x2(z, vld1q_s8(xq(c)), vld1q_s8(xq(c + 1)), du, dv);  // sub-block 2n
            isum[c] = vmlaq_s32(isum[c], du, sa);
            isum[c + 1] = vmlaq_s32(isum[c + 1], dv, sa);
            Dot::dot16x2(z + 4, vld1q_s8(xq(c) + 16), vld1q_s8(xq(c + 1) + 16), du, dv);  // sub-block 2n+1
            isum[c] = vmlaq_s32(isum[c], du, sb);
            isum[c + 1] = vmlaq_s32(isum[c + 1], dv, sb);
          }
        } else {
          for (int c = 0; c < NC; ++c) {
            isum[c] = vmlaq_s32(isum[c], Dot::dot16(vdupq_n_s32(0), w, vld1q_s8(xq(c))), sa);
            isum[c] = vmlaq_s32(isum[c], Dot::dot16(vdupq_n_s32(0), w + 4, vld1q_s8(xq(c) + 16)), sb);
          }
        }
      }
      const float32x4_t d = load_f16x4(t);
      for (int c = 0; c < NC; ++c) {
        const qe_block_q8_K* a = reinterpret_cast<const qe_block_q8_K*>(x + c * xs) + b;
        acc[c] = vfmaq_f32(acc[c], vcvtq_f32_s32(isum[c]), vmulq_n_f32(d, a->d));
      }
      if constexpr (T::kHasMin) {  // Q2_K: mins are the high nibbles of the [16][4] scale bytes
        int16x8_t m[8];
        for (int k = 0; k < 4; ++k) {
          const uint8x16_t v = vshrq_n_u8(ld(t + T::kSc + 16 * k), 4);
          m[2 * k] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v)));
          m[2 * k + 1] = vreinterpretq_s16_u16(vmovl_high_u8(v));
        }
        const float32x4_t dmin = load_f16x4(t + 8);
        for (int c = 0; c < NC; ++c) {
          const qe_block_q8_K* a = reinterpret_cast<const qe_block_q8_K*>(x + c * xs) + b;
          const int32x4_t ms = vaddq_s32(msum8(m, vld1q_s16(a->bsums)), msum8(m + 4, vld1q_s16(a->bsums + 8)));
          acc[c] = vfmaq_f32(acc[c], vcvtq_f32_s32(vnegq_s32(ms)), vmulq_n_f32(dmin, a->d));
        }
      }
    }
    for (int c = 0; c < NC; ++c) out[c] = acc[c];
  }
};

// ----- A16 tile kernel (every quantized type) --------------------------------------------------

// Per piece: unpack to int8 (w), then per group widen to 4 fp32 vectors (one per row, 4
// consecutive k each), dequantize with the row's scale (and offset), and fma with the same 4 x
// of each column. acc[c][i] holds 4 partial sums of row i; two addp fold them at the end.
// The A8 group layout thus serves A16 unchanged: a plain vld1q of x matches a row's 4 weights,
// no broadcast needed. A16 is checked against the reference within a normalized bound, not bit
// for bit: the dequantized weight is fma(q, scale, offset), one rounding, where the reference
// may round twice; the difference is an ulp of the weight, far inside the 1e-5 bound.
template <class T>
struct A16Quant {
  template <int NC>
  static QE_NEON_INLINE void run(const uint8_t* t, int64_t K, const float* x, size_t xs, float32x4_t* out) {
    float32x4_t acc[NC][kTile];
    for (int c = 0; c < NC; ++c)
      for (int i = 0; i < kTile; ++i) acc[c][i] = vdupq_n_f32(0.0f);
    for (int64_t b = 0; b < K / T::kElems; ++b, t += T::kBytes) {
      for (int n = 0; n < T::kPieces; ++n) {
        int8x16_t w[8];
        T::unpack(t, n, w);
        float32x4_t sv[2], ov[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
        T::params(t, n, sv, ov);
        const float* xk = x + b * T::kElems + 32 * n;
        for (int g = 0; g < 8; ++g) {
          const int16x8_t w01 = vmovl_s8(vget_low_s8(w[g])), w23 = vmovl_high_s8(w[g]);
          float32x4_t f[kTile] = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(w01))), vcvtq_f32_s32(vmovl_high_s16(w01)),
                                  vcvtq_f32_s32(vmovl_s16(vget_low_s16(w23))), vcvtq_f32_s32(vmovl_high_s16(w23))};
          const float32x4_t s = sv[g / 4], o = ov[g / 4];
          if constexpr (T::kOffset) {
            f[0] = vfmaq_laneq_f32(vdupq_laneq_f32(o, 0), f[0], s, 0);
            f[1] = vfmaq_laneq_f32(vdupq_laneq_f32(o, 1), f[1], s, 1);
            f[2] = vfmaq_laneq_f32(vdupq_laneq_f32(o, 2), f[2], s, 2);
            f[3] = vfmaq_laneq_f32(vdupq_laneq_f32(o, 3), f[3], s, 3);
          } else {
            f[0] = vmulq_laneq_f32(f[0], s, 0);
            f[1] = vmulq_laneq_f32(f[1], s, 1);
            f[2] = vmulq_laneq_f32(f[2], s, 2);
            f[3] = vmulq_laneq_f32(f[3], s, 3);
          }
          for (int c = 0; c < NC; ++c) {
            const float32x4_t xv = vld1q_f32(xk + c * xs + 4 * g);
            for (int i = 0; i < kTile; ++i) acc[c][i] = vfmaq_f32(acc[c][i], f[i], xv);
          }
        }
      }
    }
    for (int c = 0; c < NC; ++c)
      out[c] = vpaddq_f32(vpaddq_f32(acc[c][0], acc[c][1]), vpaddq_f32(acc[c][2], acc[c][3]));
  }
};

// ----- float types (A16 only) -------------------------------------------------------------------

// F32 / F16 / BF16: tile = groups of 4 k (K padded to a multiple of 4 with zeros), each group the
// 4 rows' 4 values: element (row i, k = 4g + j) at index 16g + 4i + j. Loads give one fp32 vector
// per row directly (F16 through fcvtl, BF16 by a 16-bit left shift).
template <qe_type kT, typename E>
struct FloatType {
  static constexpr qe_type kType = kT;
  static int64_t k4(int64_t K) { return (K + 3) / 4 * 4; }
  static size_t packed_bytes(int64_t rows, int64_t K) {
    return static_cast<size_t>((rows + kTile - 1) / kTile) * static_cast<size_t>(k4(K)) * kTile * sizeof(E);
  }
  static void pack(const void* src, int64_t rows, int64_t K, void* dst) {
    const E* s = static_cast<const E*>(src);
    E* o = static_cast<E*>(dst);
    std::memset(dst, 0, packed_bytes(rows, K));
    for (int64_t r = 0; r < rows; ++r) {
      E* t = o + (r / kTile) * k4(K) * kTile + (r % kTile) * 4;
      for (int64_t k = 0; k < K; ++k) t[(k / 4) * 16 + k % 4] = s[r * K + k];
    }
  }
  static QE_NEON_INLINE void load(const E* p, float32x4_t* f) {
    if constexpr (kT == QE_TYPE_F32) {
      for (int i = 0; i < kTile; ++i) f[i] = vld1q_f32(p + 4 * i);
    } else {
      const uint16x8_t a = vld1q_u16(p), b = vld1q_u16(p + 8);
      if constexpr (kT == QE_TYPE_F16) {
        f[0] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(a)));
        f[1] = vcvt_high_f32_f16(vreinterpretq_f16_u16(a));
        f[2] = vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(b)));
        f[3] = vcvt_high_f32_f16(vreinterpretq_f16_u16(b));
      } else {
        f[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(a), 16));
        f[1] = vreinterpretq_f32_u32(vshll_high_n_u16(a, 16));
        f[2] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16));
        f[3] = vreinterpretq_f32_u32(vshll_high_n_u16(b, 16));
      }
    }
  }
  template <int NC>
  static QE_NEON_INLINE void run(const uint8_t* tb, int64_t K, const float* x, size_t xs, float32x4_t* out) {
    const E* t = reinterpret_cast<const E*>(tb);
    float32x4_t acc[NC][kTile];
    for (int c = 0; c < NC; ++c)
      for (int i = 0; i < kTile; ++i) acc[c][i] = vdupq_n_f32(0.0f);
    const int64_t full = K / 4;
    for (int64_t g = 0; g < k4(K) / 4; ++g, t += 16) {
      float32x4_t f[kTile];
      load(t, f);
      for (int c = 0; c < NC; ++c) {
        float32x4_t xv;
        if (g < full) {
          xv = vld1q_f32(x + c * xs + 4 * g);
        } else {  // K % 4 tail: the padded weights are 0, the missing x must be too
          float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
          for (int64_t k = 4 * g; k < K; ++k) tail[k - 4 * g] = x[c * xs + k];
          xv = vld1q_f32(tail);
        }
        for (int i = 0; i < kTile; ++i) acc[c][i] = vfmaq_f32(acc[c][i], f[i], xv);
      }
    }
    for (int c = 0; c < NC; ++c)
      out[c] = vpaddq_f32(vpaddq_f32(acc[c][0], acc[c][1]), vpaddq_f32(acc[c][2], acc[c][3]));
  }
  static void gemm_a16(const void* w, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
                       float* y, int64_t ldy) {
    QE_NEON_CHECK(K > 0);
    QE_NEON_CHECK(r0 >= 0 && r0 % kTile == 0 && r0 <= r1 && r1 <= rows);
    drive<FloatType>(static_cast<const uint8_t*>(w), static_cast<size_t>(k4(K)) * kTile * sizeof(E), K, r0, r1, x,
                     static_cast<size_t>(K), batch, y, ldy);
  }
  static MatmulKernels kernels() {
    MatmulKernels m;
    m.tile = kTile;
    m.packed_bytes = &packed_bytes;
    m.pack = &pack;
    m.gemm_a16 = &gemm_a16;
    return m;
  }
};

// ----- entry points and the table -------------------------------------------------------------

// The MatmulKernels entry points: validate the row range, then hand the tile kernel to the driver
// (tile stride = tile-blocks per row * bytes; activation column stride in elements of X).
template <class T>
void gemm_a16(const void* w, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch, float* y,
              int64_t ldy) {
  check_range(rows, K, T::kElems, r0, r1);
  drive<A16Quant<T>>(static_cast<const uint8_t*>(w), static_cast<size_t>(K / T::kElems) * T::kBytes, K, r0, r1, x,
                     static_cast<size_t>(K), batch, y, ldy);
}

template <class T, class Kern>
void gemm_a8(const void* w, int64_t rows, int64_t K, int64_t r0, int64_t r1, const void* xq, int64_t batch, float* y,
             int64_t ldy) {
  check_range(rows, K, T::kElems, r0, r1);
  drive<Kern>(static_cast<const uint8_t*>(w), static_cast<size_t>(K / T::kElems) * T::kBytes, K, r0, r1,
              static_cast<const uint8_t*>(xq), act_row_bytes(a8_layout(T::kType), K), batch, y, ldy);
}

template <class T, class Kern>
MatmulKernels quant_kernels() {
  static_assert(T::kBytes % 8 == 0, "tile-blocks keep 8-byte alignment");
  MatmulKernels m;
  m.tile = kTile;
  m.packed_bytes = &packed_bytes<T>;
  m.pack = &pack<T>;
  m.gemm_a16 = &gemm_a16<T>;
  m.gemm_a8 = &gemm_a8<T, Kern>;
  return m;
}

// The full table with `Dot` as the integer dot (MullDot for plain NEON, SdotDot with dotprod).
template <class Dot>
KernelTable make_table(Isa isa) {
  KernelTable t;
  t.isa = isa;
  t.mm[QE_TYPE_F32] = FloatType<QE_TYPE_F32, float>::kernels();
  t.mm[QE_TYPE_F16] = FloatType<QE_TYPE_F16, uint16_t>::kernels();
  t.mm[QE_TYPE_BF16] = FloatType<QE_TYPE_BF16, uint16_t>::kernels();
  t.mm[QE_TYPE_Q4_0] = quant_kernels<Q4_0, A8Blocks32<Q4_0, Dot>>();
  t.mm[QE_TYPE_Q4_1] = quant_kernels<Q4_1, A8Blocks32<Q4_1, Dot>>();
  t.mm[QE_TYPE_Q5_0] = quant_kernels<Q5_0, A8Blocks32<Q5_0, Dot>>();
  t.mm[QE_TYPE_Q5_1] = quant_kernels<Q5_1, A8Blocks32<Q5_1, Dot>>();
  t.mm[QE_TYPE_Q8_0] = quant_kernels<Q8_0, A8Blocks32<Q8_0, Dot>>();
  t.mm[QE_TYPE_Q2_K] = quant_kernels<Q2_K, A8K16<Q2_K, Dot>>();
  t.mm[QE_TYPE_Q3_K] = quant_kernels<Q3_K, A8K16<Q3_K, Dot>>();
  t.mm[QE_TYPE_Q4_K] = quant_kernels<Q4_K, A8Q45K<Q4_K, Dot>>();
  t.mm[QE_TYPE_Q5_K] = quant_kernels<Q5_K, A8Q45K<Q5_K, Dot>>();
  t.mm[QE_TYPE_Q6_K] = quant_kernels<Q6_K, A8K16<Q6_K, Dot>>();
  t.quantize_act32 = &quantize_act32;
  t.quantize_act256 = &quantize_act256;
  return t;
}

}  // namespace
}  // namespace qe::cpu
