// avx2_formats-inl.h: the AVX2 packed weight layouts (8-row tiles) and, per weight type, its packer, register decoder and per-block A8/A16 arithmetic.
//
// Included only by avx2_kernels.cpp (compiled with -mavx2 -mfma -mf16c); no AVX-512, no VNNI.
//
// Packed layout. Rows are grouped in tiles of kTile = 8 (the last tile padded with zero rows),
// tiles stored one after the other. A tile of K columns holds nb = K / block blocks; tile-block
// b (the 8 rows' block b) is a quant part of kQBytes and a meta part (scales, mins) of kMBytes.
// kGroup consecutive tile-blocks form a group stored as [quant parts][meta parts]:
//     tile = group 0 | group 1 | ...,  group = [q(b0) .. q(b0+n-1)][m(b0) .. m(b0+n-1)]
// (n = kGroup except in a tile's last group). The 32-element types use kGroup = 4, so a group's
// metas fill whole 64-byte lines and its quant parts start on a line; the K-quants use kGroup =
// 1 with kQBytes + kMBytes a multiple of 32. Either way a thread's rows are one sequential
// stream (what the hardware and our software prefetch want) and no 32-byte quant load crosses a
// cache line when the packed buffer is 64-byte aligned and K a multiple of 256.
//
// Chunks and groups. The quant part is a sequence of chunks of 32 elements (k) of the 8 rows.
// In registers a chunk is eight "groups" g[0..7]: g[i] holds elements 4i..4i+3 of every row,
// row r in 32-bit lane r and element 4i+j in byte j of that lane (one ymm = 8 rows x 4 bytes).
// One vpmaddubsw of g[i] with the activation bytes 4i..4i+3 broadcast to every lane, summed by
// vpmaddwd, gives each row's dot product for that group in its own lane: a lane owns a row, so
// every row's blocks are accumulated in order with exactly the float ops of a8_spec.h.
// Each chunk kind stores the bits of its values so that a group costs one or two shift+mask
// pairs to rebuild (see the Chunk* structs).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "cpu/a8_spec.h"
#include "cpu/cpu_kernels.h"

namespace qe::cpu::avx2 {

constexpr int kTile = 8;

// ---------------------------------------------------------------------------------------------
// Small register helpers.
// ---------------------------------------------------------------------------------------------
inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
inline __m128i load64(const void* p) { return _mm_loadl_epi64(static_cast<const __m128i*>(p)); }
// The 4 bytes at p in every 32-bit lane (vpbroadcastd from memory: a load, no ALU op).
inline __m256i bcast32(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
// The 8 bytes at p in both 64-bit halves of both 128-bit lanes (vpbroadcastq).
inline __m256i bcast64(const void* p) {
  int64_t v;
  std::memcpy(&v, p, 8);
  return _mm256_set1_epi64x(v);
}
// 8 fp16 values at p -> 8 floats (vcvtph2ps; exact, as qe_fp16_to_fp32).
inline __m256 fp16x8(const void* p) { return _mm256_cvtph_ps(load128(p)); }
inline __m256i bytes(int v) { return _mm256_set1_epi8(static_cast<char>(v)); }

// Moves bit field [kFrom, kFrom+w) of every byte to [kTo, kTo+w) with a 16-bit shift. Bits that
// cross into the neighbouring byte land outside [kTo, kTo+w), so the caller's byte mask of that
// range removes them (left shift: they land below kTo; right shift: above kFrom + w - shift).
template <int kFrom, int kTo>
inline __m256i move_bits(__m256i v) {
  if constexpr (kTo > kFrom) return _mm256_slli_epi16(v, kTo - kFrom);
  else if constexpr (kTo < kFrom) return _mm256_srli_epi16(v, kFrom - kTo);
  else return v;
}

// Compile-time loop: f(std::integral_constant<int, I>) for I in [0, N).
template <int N, class Fn, int... I>
inline void static_for_impl(Fn&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class Fn>
inline void static_for(Fn&& f) {
  static_for_impl<N>(f, std::make_integer_sequence<int, N>{});
}

// pshufb controls (per 128-bit lane; rows 0-3 live in lane 0, rows 4-7 in lane 1):
// kDupByteToWords: from 8 bytes b[0..7] broadcast by bcast64, lane r gets int16 pair (b[r], b[r]).
// kDupLoWord / kDupHiWord: from int16 pairs (a, b) per lane, make (a, a) / (b, b).
inline __m256i dup_byte_to_words() {
  return _mm256_setr_epi8(0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128,
                          4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128);
}
inline __m256i dup_lo_word() {
  return _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13,
                          0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
}
inline __m256i dup_hi_word() {
  return _mm256_setr_epi8(2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15,
                          2, 3, 2, 3, 6, 7, 6, 7, 10, 11, 10, 11, 14, 15, 14, 15);
}

// ---------------------------------------------------------------------------------------------
// Chunk kinds: how 32 elements x 8 rows of values are stored, rebuilt (decode -> g[8] bytes)
// and written (put: row r's 32 values v[0..31], as spec::unpack_block returns them).
// kMax: largest unsigned value (bounds the int16 sums of vpmaddubsw results, see sum16).
// ---------------------------------------------------------------------------------------------

// 4-bit values: four registers N[p]; byte (r, j) of N[p] holds element 4p+j in its low nibble
// and element 16+4p+j in its high nibble, so g[p] = N[p] & 15 and g[4+p] = (N[p] >> 4) & 15.
// For Q4_0/Q4_1 this is exactly GGUF's qs[4p+j] byte: packing is a 4-byte copy.
struct ChunkQ4 {
  static constexpr int kBytes = 128, kMax = 15;
  static void decode(const uint8_t* p, __m256i* g) {
    const __m256i m4 = bytes(0x0F);
    for (int i = 0; i < 4; ++i) {
      const __m256i n = load256(p + 32 * i);
      g[i] = _mm256_and_si256(n, m4);
      g[4 + i] = _mm256_and_si256(_mm256_srli_epi16(n, 4), m4);
    }
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        p[32 * i + 4 * r + j] = static_cast<uint8_t>((v[4 * i + j] & 15) | ((v[16 + 4 * i + j] & 15) << 4));
  }
};

// 5-bit values: ChunkQ4 for the low 4 bits, then one register H whose byte (r, j) holds in bit
// i the fifth bit of element 4i+j (group i): g[i] |= (H moved from bit i to bit 4) & 0x10.
struct ChunkQ5 {
  static constexpr int kBytes = 160, kMax = 31;
  static void decode(const uint8_t* p, __m256i* g) {
    ChunkQ4::decode(p, g);
    const __m256i h = load256(p + 128), m = bytes(0x10);
    static_for<8>([&](auto i) { g[i] = _mm256_or_si256(g[i], _mm256_and_si256(move_bits<decltype(i)::value, 4>(h), m)); });
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    ChunkQ4::put(p, r, v);
    for (int j = 0; j < 4; ++j) {
      int b = 0;
      for (int i = 0; i < 8; ++i) b |= ((v[4 * i + j] >> 4) & 1) << i;
      p[128 + 4 * r + j] = static_cast<uint8_t>(b);
    }
  }
};

// 6-bit values (Q6_K): ChunkQ4 for the low 4 bits, then two registers H[a] whose byte (r, j)
// holds in bits 2i..2i+1 the top two bits of group 4a+i: g[4a+i] |= (H[a] moved to bit 4) & 0x30.
struct ChunkQ6 {
  static constexpr int kBytes = 192, kMax = 63;
  static void decode(const uint8_t* p, __m256i* g) {
    ChunkQ4::decode(p, g);
    const __m256i m = bytes(0x30);
    for (int a = 0; a < 2; ++a) {
      const __m256i h = load256(p + 128 + 32 * a);
      static_for<4>([&](auto i) { g[4 * a + i] = _mm256_or_si256(g[4 * a + i], _mm256_and_si256(move_bits<2 * decltype(i)::value, 4>(h), m)); });
    }
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    ChunkQ4::put(p, r, v);
    for (int a = 0; a < 2; ++a)
      for (int j = 0; j < 4; ++j) {
        int b = 0;
        for (int i = 0; i < 4; ++i) b |= ((v[4 * (4 * a + i) + j] >> 4) & 3) << (2 * i);
        p[128 + 32 * a + 4 * r + j] = static_cast<uint8_t>(b);
      }
  }
};

// 2-bit values (Q2_K): two registers L[a], byte (r, j) holds group 4a+i in bits 2i..2i+1.
struct ChunkQ2 {
  static constexpr int kBytes = 64, kMax = 3;
  static void decode(const uint8_t* p, __m256i* g) {
    const __m256i m = bytes(0x03);
    for (int a = 0; a < 2; ++a) {
      const __m256i l = load256(p + 32 * a);
      static_for<4>([&](auto i) { g[4 * a + i] = _mm256_and_si256(move_bits<2 * decltype(i)::value, 0>(l), m); });
    }
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    for (int a = 0; a < 2; ++a)
      for (int j = 0; j < 4; ++j) {
        int b = 0;
        for (int i = 0; i < 4; ++i) b |= (v[4 * (4 * a + i) + j] & 3) << (2 * i);
        p[32 * a + 4 * r + j] = static_cast<uint8_t>(b);
      }
  }
};

// 3-bit values (Q3_K, stored as q + 4 in [0, 7]): ChunkQ2 for the low 2 bits, then one
// register H with the third bit of group i in bit i of each byte: g[i] |= (H moved to bit 2) & 4.
struct ChunkQ3 {
  static constexpr int kBytes = 96, kMax = 7;
  static void decode(const uint8_t* p, __m256i* g) {
    ChunkQ2::decode(p, g);
    const __m256i h = load256(p + 64), m = bytes(0x04);
    static_for<8>([&](auto i) { g[i] = _mm256_or_si256(g[i], _mm256_and_si256(move_bits<decltype(i)::value, 2>(h), m)); });
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    ChunkQ2::put(p, r, v);
    for (int j = 0; j < 4; ++j) {
      int b = 0;
      for (int i = 0; i < 8; ++i) b |= ((v[4 * i + j] >> 2) & 1) << i;
      p[64 + 4 * r + j] = static_cast<uint8_t>(b);
    }
  }
};

// Signed 8-bit values (Q8_0): eight registers, g[i] stored as is (GGUF qs[4i..4i+3] per row).
struct ChunkQ8 {
  static constexpr int kBytes = 256, kMax = 127;
  static void decode(const uint8_t* p, __m256i* g) {
    for (int i = 0; i < 8; ++i) g[i] = load256(p + 32 * i);
  }
  static void put(uint8_t* p, int r, const int16_t* v) {
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 4; ++j) p[32 * i + 4 * r + j] = static_cast<uint8_t>(static_cast<int8_t>(v[4 * i + j]));
  }
};

// ---------------------------------------------------------------------------------------------
// Integer dot products of decoded groups with int8 activations.
// ---------------------------------------------------------------------------------------------

// Σ_{i in [kFirst, kFirst+kCount)} vpmaddubsw(g[i], x[4i..4i+3] broadcast): per row lane two
// int16 partial sums. vpmaddubsw saturates each pair sum; with unsigned values <= kMax and
// |x| <= 127 a pair is at most 2·kMax·127, and the caller sums only as many results as fit an
// int16 (Q4: 8, Q5: 4, Q6: 2, Q2/Q3: 8), so every int16 here is exact.
template <int kFirst, int kCount>
inline __m256i sum16(const __m256i* g, const int8_t* x) {
  __m256i s = _mm256_maddubs_epi16(g[kFirst], bcast32(x + 4 * kFirst));
  for (int i = kFirst + 1; i < kFirst + kCount; ++i) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(g[i], bcast32(x + 4 * i)));
  return s;
}

inline __m256i ones16() { return _mm256_set1_epi16(1); }

// The 32-element formats' block arithmetic (a8_spec.h): per 16-element half h of the block,
// P_h = Σ v·q and U_h = Σ v with v = u − kOffset (unsigned u ≤ kMax) or the signed Q8_0 value;
// t = P_0·d_0, fma(P_1, d_1), fma(U_0, c_0), fma(U_1, c_1); acc = fma(t, dw, acc), and for the
// _1 formats acc = fma(mw, s, acc). U_h depends on the weights alone: computed once per
// tile-block for all NC columns.
template <int kMax, int kOffset, bool kSigned>
inline __m256 half_sum(const __m256i* g) {
  if constexpr (kSigned) {
    // Σ of signed bytes: vpmaddubsw(1, w) pairs (|.| ≤ 256), four of them summed in int16.
    const __m256i one = bytes(1);
    __m256i s = _mm256_maddubs_epi16(one, g[0]);
    for (int i = 1; i < 4; ++i) s = _mm256_add_epi16(s, _mm256_maddubs_epi16(one, g[i]));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(s, ones16()));
  } else {
    static_assert(4 * kMax <= 127, "byte sums of four groups must fit a signed byte");
    const __m256i b = _mm256_add_epi8(_mm256_add_epi8(g[0], g[1]), _mm256_add_epi8(g[2], g[3]));
    const __m256i u = _mm256_madd_epi16(_mm256_maddubs_epi16(b, bytes(1)), ones16());
    return _mm256_cvtepi32_ps(_mm256_sub_epi32(u, _mm256_set1_epi32(16 * kOffset)));
  }
}

template <int kMax, int kOffset, bool kSigned, bool kHasMin, int NC>
inline void a8_b32(const __m256i* g, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
  __m256i absw[8];
  if constexpr (kSigned)
    for (int i = 0; i < 8; ++i) absw[i] = _mm256_abs_epi8(g[i]);
  const __m256 U0 = half_sum<kMax, kOffset, kSigned>(g), U1 = half_sum<kMax, kOffset, kSigned>(g + 4);
  const __m256 dw = fp16x8(m);
  for (int c = 0; c < NC; ++c) {
    const ActBlock32& xb = *x[c];
    __m256 p[2];
    for (int h = 0; h < 2; ++h) {
      __m256i P;
      if constexpr (kSigned) {
        P = _mm256_setzero_si256();
        for (int i = 4 * h; i < 4 * h + 4; ++i) {
          const __m256i pr = _mm256_maddubs_epi16(absw[i], _mm256_sign_epi8(bcast32(xb.qs + 4 * i), g[i]));
          P = _mm256_add_epi32(P, _mm256_madd_epi16(pr, ones16()));
        }
      } else {
        // 4 groups · 2·kMax·127 ≤ 31496 fits int16 for kMax ≤ 31.
        P = _mm256_madd_epi16(sum16<0, 4>(g + 4 * h, xb.qs + 16 * h), ones16());
        if constexpr (kOffset != 0) P = _mm256_sub_epi32(P, _mm256_set1_epi32(kOffset * xb.qsum[h]));
      }
      p[h] = _mm256_cvtepi32_ps(P);
    }
    __m256 t = _mm256_mul_ps(p[0], _mm256_set1_ps(xb.d[0]));
    t = _mm256_fmadd_ps(p[1], _mm256_set1_ps(xb.d[1]), t);
    t = _mm256_fmadd_ps(U0, _mm256_set1_ps(xb.c[0]), t);
    t = _mm256_fmadd_ps(U1, _mm256_set1_ps(xb.c[1]), t);
    acc[c] = _mm256_fmadd_ps(t, dw, acc[c]);
    if constexpr (kHasMin) acc[c] = _mm256_fmadd_ps(fp16x8(m + 16), _mm256_set1_ps(xb.s), acc[c]);
  }
}

// ---------------------------------------------------------------------------------------------
// Formats. Each struct gives:
//   kType, kBlock (elements per block), Chunk, kQBytes / kMBytes (per tile-block), kGroup,
//   pack_block(blk[8], q, m): the 8 rows' GGUF blocks -> quant part q and meta part m,
//   a8<NC>(q, m, x[NC], acc[NC]): one tile-block against NC columns' activation blocks, in the
//       spec's order (acc: one float per row lane per column),
//   kSub (elements per scale), kBias, kSigned and a16_scale_bias(m, s, scale, bias): the row
//       values of sub-block s are w = scale·u + bias, u the decoded (unsigned) integers.
// ---------------------------------------------------------------------------------------------

// Writes the fp16 field at byte offset `off` of the 8 rows' blocks as 8 consecutive halves.
inline void put_halves(const uint8_t* const* blk, size_t off, uint8_t* dst) {
  for (int r = 0; r < kTile; ++r) std::memcpy(dst + 2 * r, blk[r] + off, 2);
}

// The unsigned integers of one K-quant block in element order (Q3_K: q + 4 in [0, 7]): the
// values of spec::unpack_block, computed with the loops of each layout instead of per-element
// index arithmetic (that one is written for reading; this one runs at load on every block).
inline void unpack_k(qe_type t, const uint8_t* blk, int16_t* v) {
  switch (t) {
    case QE_TYPE_Q2_K: {
      const auto* b = reinterpret_cast<const qe_block_q2_K*>(blk);
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh)
          for (int l = 0; l < 32; ++l) v[128 * h + 32 * sh + l] = static_cast<int16_t>((b->qs[32 * h + l] >> (2 * sh)) & 3);
      return;
    }
    case QE_TYPE_Q3_K: {  // q = low2 − 4 + 4·hbit, stored as low2 + 4·hbit
      const auto* b = reinterpret_cast<const qe_block_q3_K*>(blk);
      for (int h = 0; h < 2; ++h)
        for (int sh = 0; sh < 4; ++sh)
          for (int l = 0; l < 32; ++l)
            v[128 * h + 32 * sh + l] = static_cast<int16_t>(((b->qs[32 * h + l] >> (2 * sh)) & 3) | (((b->hmask[l] >> (4 * h + sh)) & 1) << 2));
      return;
    }
    case QE_TYPE_Q5_K: {
      const auto* b = reinterpret_cast<const qe_block_q5_K*>(blk);
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
          v[64 * c + l] = static_cast<int16_t>((b->qs[32 * c + l] & 15) | (((b->qh[l] >> (2 * c)) & 1) << 4));
          v[64 * c + 32 + l] = static_cast<int16_t>((b->qs[32 * c + l] >> 4) | (((b->qh[l] >> (2 * c + 1)) & 1) << 4));
        }
      return;
    }
    case QE_TYPE_Q6_K: {
      const auto* b = reinterpret_cast<const qe_block_q6_K*>(blk);
      for (int h = 0; h < 2; ++h)
        for (int k = 0; k < 2; ++k)
          for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = b->ql + 64 * h + 32 * half;
            const uint8_t* qh = b->qh + 32 * h;
            const int ls = 4 * k, hs = 2 * (2 * k + half);
            int16_t* o = v + 128 * h + 64 * k + 32 * half;
            for (int l = 0; l < 32; ++l) o[l] = static_cast<int16_t>(((ql[l] >> ls) & 15) | (((qh[l] >> hs) & 3) << 4));
          }
      return;
    }
    default:  // Q4_K
      spec::unpack_block(t, blk, v);
      return;
  }
}

// Writes the 8 rows' K-quant blocks chunk by chunk.
template <class C>
inline void put_values(qe_type t, const uint8_t* const* blk, uint8_t* q) {
  int16_t v[256];
  for (int r = 0; r < kTile; ++r) {
    unpack_k(t, blk[r], v);
    for (int c = 0; c < 8; ++c) C::put(q + c * C::kBytes, r, v + 32 * c);
  }
}

// Q4_0: meta = 8 fp16 d; v = u − 8.
struct FmtQ4_0 {
  static constexpr qe_type kType = QE_TYPE_Q4_0;
  static constexpr int kBlock = 32, kQBytes = 128, kMBytes = 16, kGroup = 4, kSub = 32;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = ChunkQ4;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q4_0, d), m);
    for (int r = 0; r < kTile; ++r)
      for (int p = 0; p < 4; ++p) std::memcpy(q + 32 * p + 4 * r, blk[r] + offsetof(qe_block_q4_0, qs) + 4 * p, 4);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
    __m256i g[8];
    Chunk::decode(q, g);
    a8_b32<15, 8, false, false, NC>(g, m, x, acc);
  }
  static void a16_scale_bias(const uint8_t* m, int, __m256* scale, __m256* bias) {
    *scale = fp16x8(m);
    *bias = _mm256_mul_ps(*scale, _mm256_set1_ps(-8.0f));
  }
};

// Q4_1: meta = 8 fp16 d, 8 fp16 m; v = u, plus the min term.
struct FmtQ4_1 {
  static constexpr qe_type kType = QE_TYPE_Q4_1;
  static constexpr int kBlock = 32, kQBytes = 128, kMBytes = 32, kGroup = 4, kSub = 32;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = ChunkQ4;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q4_1, d), m);
    put_halves(blk, offsetof(qe_block_q4_1, m), m + 16);
    for (int r = 0; r < kTile; ++r)
      for (int p = 0; p < 4; ++p) std::memcpy(q + 32 * p + 4 * r, blk[r] + offsetof(qe_block_q4_1, qs) + 4 * p, 4);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
    __m256i g[8];
    Chunk::decode(q, g);
    a8_b32<15, 0, false, true, NC>(g, m, x, acc);
  }
  static void a16_scale_bias(const uint8_t* m, int, __m256* scale, __m256* bias) {
    *scale = fp16x8(m);
    *bias = fp16x8(m + 16);
  }
};

// Q5_0 / Q5_1: nibbles as Q4, fifth bits from GGUF's qh (bit e = element e) into ChunkQ5's H.
inline void pack_q5_quants(const uint8_t* const* blk, size_t qh_off, size_t qs_off, uint8_t* q) {
  for (int r = 0; r < kTile; ++r) {
    for (int p = 0; p < 4; ++p) std::memcpy(q + 32 * p + 4 * r, blk[r] + qs_off + 4 * p, 4);
    uint32_t qh;
    std::memcpy(&qh, blk[r] + qh_off, 4);
    for (int j = 0; j < 4; ++j) {
      int b = 0;
      for (int i = 0; i < 8; ++i) b |= ((qh >> (4 * i + j)) & 1) << i;
      q[128 + 4 * r + j] = static_cast<uint8_t>(b);
    }
  }
}

// Q5_0: meta = 8 fp16 d; v = u − 16.
struct FmtQ5_0 {
  static constexpr qe_type kType = QE_TYPE_Q5_0;
  static constexpr int kBlock = 32, kQBytes = 160, kMBytes = 16, kGroup = 4, kSub = 32;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = ChunkQ5;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q5_0, d), m);
    pack_q5_quants(blk, offsetof(qe_block_q5_0, qh), offsetof(qe_block_q5_0, qs), q);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
    __m256i g[8];
    Chunk::decode(q, g);
    a8_b32<31, 16, false, false, NC>(g, m, x, acc);
  }
  static void a16_scale_bias(const uint8_t* m, int, __m256* scale, __m256* bias) {
    *scale = fp16x8(m);
    *bias = _mm256_mul_ps(*scale, _mm256_set1_ps(-16.0f));
  }
};

// Q5_1: meta = 8 fp16 d, 8 fp16 m; arithmetic as Q4_1.
struct FmtQ5_1 {
  static constexpr qe_type kType = QE_TYPE_Q5_1;
  static constexpr int kBlock = 32, kQBytes = 160, kMBytes = 32, kGroup = 4, kSub = 32;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = ChunkQ5;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q5_1, d), m);
    put_halves(blk, offsetof(qe_block_q5_1, m), m + 16);
    pack_q5_quants(blk, offsetof(qe_block_q5_1, qh), offsetof(qe_block_q5_1, qs), q);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
    __m256i g[8];
    Chunk::decode(q, g);
    a8_b32<31, 0, false, true, NC>(g, m, x, acc);
  }
  static void a16_scale_bias(const uint8_t* m, int, __m256* scale, __m256* bias) {
    *scale = fp16x8(m);
    *bias = fp16x8(m + 16);
  }
};

// Q8_0: meta = 8 fp16 d; v = the signed q.
struct FmtQ8_0 {
  static constexpr qe_type kType = QE_TYPE_Q8_0;
  static constexpr int kBlock = 32, kQBytes = 256, kMBytes = 16, kGroup = 4, kSub = 32;
  static constexpr bool kBias = false, kSigned = true;
  using Chunk = ChunkQ8;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q8_0, d), m);
    for (int r = 0; r < kTile; ++r)
      for (int i = 0; i < 8; ++i) std::memcpy(q + 32 * i + 4 * r, blk[r] + offsetof(qe_block_q8_0, qs) + 4 * i, 4);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const ActBlock32* const* x, __m256* acc) {
    __m256i g[8];
    Chunk::decode(q, g);
    a8_b32<127, 0, true, false, NC>(g, m, x, acc);
  }
  static void a16_scale_bias(const uint8_t* m, int, __m256* scale, __m256* bias) {
    *scale = fp16x8(m);
    *bias = _mm256_setzero_ps();
  }
};

// ---------------------------------------------------------------------------------------------
// K-quants: 256-element super-blocks, 8 chunks per tile-block. Sub-scales are decoded at pack
// time into plain bytes laid out for the lane-per-row arithmetic:
//   sc[j][r]       one byte per sub-block j and row r (bcast64 + pshufb -> int16 pairs (sc, sc),
//                  so vpmaddwd applies the sub-scale while it sums the pair: sc·(p0 + p1))
//   pairs[i][r][2] the values of sub-blocks 2i and 2i+1 of row r side by side (vpmovzx/sxbw ->
//                  int16 pairs, vpmaddwd with the activation's (bsum_2i, bsum_2i+1) broadcast)
// ---------------------------------------------------------------------------------------------

// Pair (bsum32_2i, bsum32_2i+1) of the 32-element activation sums bsum32_j = bsums[2j] +
// bsums[2j+1] (|.| <= 32·127, fits int16) for i = 0..3, as int32 lanes broadcast from `h`:
// vphaddw leaves (bsum32_0, bsum32_1), (bsum32_2, bsum32_3) in dwords 0, 1 and
// (bsum32_4, bsum32_5), (bsum32_6, bsum32_7) in dwords 4, 5.
inline __m256i bsum32_pairs(const qe_block_q8_K* x) {
  const __m256i b = load256(x->bsums);
  return _mm256_hadd_epi16(b, b);
}
inline __m256i bsum32_pair(__m256i h, int i) {
  static constexpr int kDword[4] = {0, 1, 4, 5};
  return _mm256_permutevar8x32_epi32(h, _mm256_set1_epi32(kDword[i]));
}

// Q4_K / Q5_K meta: d[8] fp16 | dmin[8] fp16 | sc[8 sub][8 rows] | m pairs[4][8 rows][2].
// Spec: isum = Σ_j sc_j·(Σ_j q·x); msum = Σ_j m_j·bsum32_j;
//       acc = fma(isum, d·dx, acc); acc = fma(−msum, dmin·dx, acc).
template <qe_type T, class C>
struct FmtQ45K {
  static constexpr qe_type kType = T;
  static constexpr int kBlock = 256, kQBytes = 8 * C::kBytes, kMBytes = 160, kGroup = 1, kSub = 32;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = C;
  using Block = typename FormatTraits<T>::Block;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(Block, d), m);
    put_halves(blk, offsetof(Block, dmin), m + 16);
    for (int r = 0; r < kTile; ++r) {
      const uint8_t* scales = blk[r] + offsetof(Block, scales);
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, mn;
        qe_q4_K_scale_min(scales, j, &sc, &mn);
        m[32 + 8 * j + r] = sc;
        m[96 + 16 * (j / 2) + 2 * r + (j & 1)] = mn;
      }
    }
    put_values<C>(T, blk, q);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const qe_block_q8_K* const* x, __m256* acc) {
    __m256i isum[NC];
    for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      __m256i g[8];
      C::decode(q + j * C::kBytes, g);
      const __m256i sc = _mm256_shuffle_epi8(bcast64(m + 32 + 8 * j), dup_byte_to_words());
      for (int c = 0; c < NC; ++c) {
        const int8_t* xs = x[c]->qs + 32 * j;
        if constexpr (C::kMax == 15) {
          isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(sum16<0, 8>(g, xs), sc));
        } else {
          isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(sum16<0, 4>(g, xs), sc));
          isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(sum16<4, 4>(g, xs), sc));
        }
      }
    }
    const __m256 d = fp16x8(m), dmin = fp16x8(m + 16);
    for (int c = 0; c < NC; ++c) {
      const __m256i h = bsum32_pairs(x[c]);
      __m256i msum = _mm256_setzero_si256();
      for (int i = 0; i < 4; ++i)
        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(_mm256_cvtepu8_epi16(load128(m + 96 + 16 * i)), bsum32_pair(h, i)));
      const __m256 dx = _mm256_set1_ps(x[c]->d);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(d, dx), acc[c]);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_setzero_si256(), msum)),
                               _mm256_mul_ps(dmin, dx), acc[c]);
    }
  }
  // w = d·sc_s·q − dmin·m_s.
  static void a16_scale_bias(const uint8_t* m, int s, __m256* scale, __m256* bias) {
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(load64(m + 32 + 8 * s)));
    const __m256i mp = _mm256_cvtepu8_epi16(load128(m + 96 + 16 * (s / 2)));
    const __m256i mn = (s & 1) ? _mm256_srli_epi32(mp, 16) : _mm256_and_si256(mp, _mm256_set1_epi32(0xFFFF));
    *scale = _mm256_mul_ps(fp16x8(m), sc);
    *bias = _mm256_mul_ps(fp16x8(m + 16), _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_setzero_si256(), mn)));
  }
};
using FmtQ4_K = FmtQ45K<QE_TYPE_Q4_K, ChunkQ4>;
using FmtQ5_K = FmtQ45K<QE_TYPE_Q5_K, ChunkQ5>;

// Signed sub-scale sc_s (s = 0..15) from int16 pairs (sc_2i, sc_2i+1) per lane, as int32.
inline __m256i pair_elem_signed(__m256i p, int s) {
  return (s & 1) ? _mm256_srai_epi32(p, 16) : _mm256_srai_epi32(_mm256_slli_epi32(p, 16), 16);
}

// Q6_K (offset 32, kMax 63) and Q3_K (offset 4, kMax 7): 16-element sub-blocks with signed
// sub-scales. Meta: d[8] fp16 | sc pairs[8][8 rows][2] int8 | 16 bytes of padding (keeps
// kQBytes + kMBytes a multiple of 32).
// Spec: isum = Σ_j sc_j·(Σ_j q·x − off·bsum_j) = Σ_j sc_j·Σ_j q·x − off·Σ_j sc_j·bsum_j (exact
// int32 either way); acc = fma(isum, d·dx, acc). Q3_K's spec values are q − 4 with q stored.
template <qe_type T, class C, int kOff>
struct FmtQ36K {
  static constexpr qe_type kType = T;
  static constexpr int kBlock = 256, kQBytes = 8 * C::kBytes, kMBytes = 160, kGroup = 1, kSub = 16;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = C;
  using Block = typename FormatTraits<T>::Block;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(Block, d), m);
    for (int r = 0; r < kTile; ++r) {
      for (int j = 0; j < 16; ++j) {
        int sc;
        if constexpr (T == QE_TYPE_Q6_K) sc = static_cast<int8_t>(blk[r][offsetof(qe_block_q6_K, scales) + j]);
        else sc = qe_q3_K_scale(blk[r] + offsetof(qe_block_q3_K, scales), j);
        m[16 + 16 * (j / 2) + 2 * r + (j & 1)] = static_cast<uint8_t>(static_cast<int8_t>(sc));
      }
    }
    // Q6_K values are q in [0, 63] (offset applied in the arithmetic); Q3_K's are stored + 4.
    put_values<C>(T, blk, q);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const qe_block_q8_K* const* x, __m256* acc) {
    __m256i isum[NC];
    for (int c = 0; c < NC; ++c) isum[c] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {  // chunk j = sub-blocks 2j (groups 0-3) and 2j+1 (groups 4-7)
      __m256i g[8];
      C::decode(q + j * C::kBytes, g);
      const __m256i p = _mm256_cvtepi8_epi16(load128(m + 16 + 16 * j));
      const __m256i lo = _mm256_shuffle_epi8(p, dup_lo_word()), hi = _mm256_shuffle_epi8(p, dup_hi_word());
      for (int c = 0; c < NC; ++c) {
        const int8_t* xs = x[c]->qs + 32 * j;
        __m256i s;
        if constexpr (C::kMax == 63) {  // 2 · 2·63·127 = 32004: two results per int16 sum
          s = _mm256_add_epi32(_mm256_madd_epi16(sum16<0, 2>(g, xs), lo), _mm256_madd_epi16(sum16<2, 2>(g, xs), lo));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(sum16<4, 2>(g, xs), hi));
          s = _mm256_add_epi32(s, _mm256_madd_epi16(sum16<6, 2>(g, xs), hi));
        } else {
          s = _mm256_add_epi32(_mm256_madd_epi16(sum16<0, 4>(g, xs), lo), _mm256_madd_epi16(sum16<4, 4>(g, xs), hi));
        }
        // off·(sc_2j·bsum_2j + sc_2j+1·bsum_2j+1), the offset being a power of two.
        const __m256i corr = _mm256_madd_epi16(p, bcast32(x[c]->bsums + 2 * j));
        s = _mm256_sub_epi32(s, _mm256_slli_epi32(corr, kOff == 32 ? 5 : 2));
        isum[c] = _mm256_add_epi32(isum[c], s);
      }
    }
    const __m256 d = fp16x8(m);
    for (int c = 0; c < NC; ++c)
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(d, _mm256_set1_ps(x[c]->d)), acc[c]);
  }
  // w = d·sc_s·(q − off).
  static void a16_scale_bias(const uint8_t* m, int s, __m256* scale, __m256* bias) {
    const __m256i p = _mm256_cvtepi8_epi16(load128(m + 16 + 16 * (s / 2)));
    *scale = _mm256_mul_ps(fp16x8(m), _mm256_cvtepi32_ps(pair_elem_signed(p, s)));
    *bias = _mm256_mul_ps(*scale, _mm256_set1_ps(-static_cast<float>(kOff)));
  }
};
using FmtQ6_K = FmtQ36K<QE_TYPE_Q6_K, ChunkQ6, 32>;
using FmtQ3_K = FmtQ36K<QE_TYPE_Q3_K, ChunkQ3, 4>;

// Q2_K: meta = d[8] fp16 | dmin[8] fp16 | raw scale byte pairs[8][8 rows][2] (low nibble scale,
// high nibble min, as GGUF). Spec: isum = Σ_j (sc_j & 15)·Σ_j q·x, msum = Σ_j (sc_j >> 4)·bsum_j;
// acc = fma(isum, d·dx, acc); acc = fma(−msum, dmin·dx, acc).
struct FmtQ2_K {
  static constexpr qe_type kType = QE_TYPE_Q2_K;
  static constexpr int kBlock = 256, kQBytes = 8 * ChunkQ2::kBytes, kMBytes = 160, kGroup = 1, kSub = 16;
  static constexpr bool kBias = true, kSigned = false;
  using Chunk = ChunkQ2;
  static void pack_block(const uint8_t* const* blk, uint8_t* q, uint8_t* m) {
    put_halves(blk, offsetof(qe_block_q2_K, d), m);
    put_halves(blk, offsetof(qe_block_q2_K, dmin), m + 16);
    for (int r = 0; r < kTile; ++r)
      for (int j = 0; j < 16; ++j) m[32 + 16 * (j / 2) + 2 * r + (j & 1)] = blk[r][offsetof(qe_block_q2_K, scales) + j];
    put_values<ChunkQ2>(kType, blk, q);
  }
  template <int NC>
  static void a8(const uint8_t* q, const uint8_t* m, const qe_block_q8_K* const* x, __m256* acc) {
    __m256i isum[NC], msum[NC];
    for (int c = 0; c < NC; ++c) isum[c] = msum[c] = _mm256_setzero_si256();
    const __m256i m4 = _mm256_set1_epi16(15);
    for (int j = 0; j < 8; ++j) {
      __m256i g[8];
      ChunkQ2::decode(q + j * ChunkQ2::kBytes, g);
      const __m256i raw = _mm256_cvtepu8_epi16(load128(m + 32 + 16 * j));
      const __m256i sc = _mm256_and_si256(raw, m4), mn = _mm256_srli_epi16(raw, 4);
      const __m256i lo = _mm256_shuffle_epi8(sc, dup_lo_word()), hi = _mm256_shuffle_epi8(sc, dup_hi_word());
      for (int c = 0; c < NC; ++c) {
        const int8_t* xs = x[c]->qs + 32 * j;
        const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(sum16<0, 4>(g, xs), lo), _mm256_madd_epi16(sum16<4, 4>(g, xs), hi));
        isum[c] = _mm256_add_epi32(isum[c], s);
        msum[c] = _mm256_add_epi32(msum[c], _mm256_madd_epi16(mn, bcast32(x[c]->bsums + 2 * j)));
      }
    }
    const __m256 d = fp16x8(m), dmin = fp16x8(m + 16);
    for (int c = 0; c < NC; ++c) {
      const __m256 dx = _mm256_set1_ps(x[c]->d);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[c]), _mm256_mul_ps(d, dx), acc[c]);
      acc[c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_setzero_si256(), msum[c])),
                               _mm256_mul_ps(dmin, dx), acc[c]);
    }
  }
  // w = d·(sc & 15)·q − dmin·(sc >> 4).
  static void a16_scale_bias(const uint8_t* m, int s, __m256* scale, __m256* bias) {
    const __m256i p = _mm256_cvtepu8_epi16(load128(m + 32 + 16 * (s / 2)));
    const __m256i raw = (s & 1) ? _mm256_srli_epi32(p, 16) : _mm256_and_si256(p, _mm256_set1_epi32(0xFF));
    const __m256 sc = _mm256_cvtepi32_ps(_mm256_and_si256(raw, _mm256_set1_epi32(15)));
    const __m256 mn = _mm256_cvtepi32_ps(_mm256_srli_epi32(raw, 4));
    *scale = _mm256_mul_ps(fp16x8(m), sc);
    *bias = _mm256_mul_ps(fp16x8(m + 16), _mm256_sub_ps(_mm256_setzero_ps(), mn));
  }
};

}  // namespace qe::cpu::avx2
