// avx512 packed weight layouts: 16-row tiles, per-format scale records and value encodings, pack() and the in-register unpacking into u8 group vectors.
//
// A weight matrix (rows, K) is cut into tiles of kTile = 16 rows (the last one zero-padded).
// One tile of one format is
//     [ scale records: nblk × F::kScaleBytes, padded to 64 bytes ][ data: nblk × F::kDataBytes ]
// so every 64-byte load of the data region is cache-line aligned when the buffer is. Within a
// record or data block, row r of the tile is always lane r of a zmm (fp32/int32 lane, or the
// dword of 4 bytes), so one SIMD lane owns one row and walks its blocks in the spec's order.
//
// Values are stored unsigned (u = spec value + bias: Q8_0 stores q + 128, Q3_K stores q + 4)
// in 32-element chunks. Unpacking a chunk yields 8 "group vectors" G[0..7]:
//     G[g].u8[4r + i] = u[row r][chunk element 4g + i]
// which is exactly the operand layout of vpdpbusd / vpmaddubsw against a broadcast dword of
// 4 activations. 16-element sub-blocks (Q2_K, Q3_K, Q6_K) are G[0..3] and G[4..7].
#pragma once

#include "avx512/avx512_common-inl.h"
#include "cpu/a8_spec.h"

namespace qe::cpu::avx512 {
namespace {

// ---------------------------------------------------------------------------------------------
// Value encodings of one 32-element chunk of 16 rows. encode() takes u[r * ld + k] (r < 16,
// k < 32); unpack() produces the 8 group vectors. Planes are stored so that every u8 value
// comes out with one 16-bit shift and one and/ternary-logic op: a plane byte (r, i) always
// holds bits of the 4 or 8 values {u[r][4g + i]} that share that byte position in their
// group vectors, so no cross-lane shuffles are needed.
// ---------------------------------------------------------------------------------------------

// 4-bit values (Q4_0, Q4_1, Q4_K): 4 zmm of nibbles. Byte (r, i) of zmm g (g < 4) holds
// u[4g + i] in its low nibble and u[16 + 4g + i] in its high nibble, so zmm g yields G[g] with
// an and and G[g + 4] with a shift and an and. (Row r of a GGUF Q4_0 block is the same byte
// order: dword g of row r is qs[4g .. 4g+3].)
struct Enc4 {
  static constexpr int kBytes = 256;
  static constexpr int kUMax = 15;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) {
    for (int g = 0; g < 4; ++g)
      for (int r = 0; r < 16; ++r)
        for (int i = 0; i < 4; ++i)
          dst[64 * g + 4 * r + i] = static_cast<uint8_t>((u[r * ld + 4 * g + i] & 15) | (u[r * ld + 16 + 4 * g + i] & 15) << 4);
  }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    static_for<4>([&](auto g) {
      const __m512i n = load512(p + 64 * g);
      G[g] = _mm512_and_si512(n, m);
      // 16-bit shift: bits 4..7 of each byte land in bits 0..3 of the same byte; the
      // neighbour's bits that cross in are masked off.
      G[g + 4] = _mm512_and_si512(_mm512_srli_epi16(n, 4), m);
    });
  }
};

// Adds bit plane `kBit` (value bit kBitPos) to group vectors: plane byte (r, i) holds bit kBitPos
// of u[4g + i] at bit g. Moving bit g to bit kBitPos is one 16-bit shift (bits never need to
// cross a byte: |g − kBitPos| ≤ 7 and the mask keeps one bit per byte), merged with a ternary
// op G | (shifted & mask) (imm 0xF8 = A | (B & C)).
template <int kBitPos>
inline __attribute__((always_inline)) void or_bit_plane(const uint8_t* p, __m512i* G) {
  const __m512i h = load512(p);
  const __m512i mask = _mm512_set1_epi8(static_cast<char>(1 << kBitPos));
  static_for<8>([&](auto g) {
    __m512i s;
    if constexpr (g < kBitPos) s = _mm512_slli_epi16(h, kBitPos - g);
    else if constexpr (g == kBitPos) s = h;
    else s = _mm512_srli_epi16(h, g - kBitPos);
    G[g] = _mm512_ternarylogic_epi32(G[g], s, mask, 0xF8);
  });
}
inline void encode_bit_plane(const uint8_t* u, int ld, int bit, uint8_t* dst) {
  for (int r = 0; r < 16; ++r)
    for (int i = 0; i < 4; ++i) {
      uint8_t v = 0;
      for (int g = 0; g < 8; ++g) v |= static_cast<uint8_t>(((u[r * ld + 4 * g + i] >> bit) & 1) << g);
      dst[4 * r + i] = v;
    }
}

// Two 2-bit planes ("crumbs"): byte (r, i) of plane h holds bits kLow, kLow+1 of
// u[4(4h + c) + i] at bits 2c, 2c+1 (c < 4).
inline void encode_crumbs(const uint8_t* u, int ld, int low, uint8_t* dst) {
  for (int h = 0; h < 2; ++h)
    for (int r = 0; r < 16; ++r)
      for (int i = 0; i < 4; ++i) {
        uint8_t v = 0;
        for (int c = 0; c < 4; ++c) v |= static_cast<uint8_t>(((u[r * ld + 4 * (4 * h + c) + i] >> low) & 3) << (2 * c));
        dst[64 * h + 4 * r + i] = v;
      }
}

// 5-bit values (Q5_0, Q5_1, Q5_K): Enc4 for bits 0..3 plus one bit plane for bit 4.
struct Enc5 {
  static constexpr int kBytes = 256 + 64;
  static constexpr int kUMax = 31;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) {
    Enc4::encode(u, ld, dst);
    encode_bit_plane(u, ld, 4, dst + 256);
  }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    Enc4::unpack(p, G);
    or_bit_plane<4>(p + 256, G);
  }
};

// 8-bit values (Q8_0 as q + 128): the group vectors themselves.
struct Enc8 {
  static constexpr int kBytes = 512;
  static constexpr int kUMax = 255;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) {
    for (int g = 0; g < 8; ++g)
      for (int r = 0; r < 16; ++r)
        for (int i = 0; i < 4; ++i) dst[64 * g + 4 * r + i] = u[r * ld + 4 * g + i];
  }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    static_for<8>([&](auto g) { G[g] = load512(p + 64 * g); });
  }
};

// 6-bit values (Q6_K): Enc4 for bits 0..3 plus two crumb planes for bits 4..5. Crumb c of
// plane h moves from bits 2c.. to bits 4.. with one 16-bit shift (left 4 − 2c, or right 2).
struct Enc6 {
  static constexpr int kBytes = 256 + 128;
  static constexpr int kUMax = 63;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) {
    Enc4::encode(u, ld, dst);
    encode_crumbs(u, ld, 4, dst + 256);
  }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    Enc4::unpack(p, G);
    const __m512i mask = _mm512_set1_epi8(0x30);
    static_for<2>([&](auto h) {
      const __m512i c2 = load512(p + 256 + 64 * h);
      static_for<4>([&](auto c) {
        __m512i s;
        if constexpr (c < 2) s = _mm512_slli_epi16(c2, 4 - 2 * c);
        else if constexpr (c == 2) s = c2;
        else s = _mm512_srli_epi16(c2, 2);
        G[4 * h + c] = _mm512_ternarylogic_epi32(G[4 * h + c], s, mask, 0xF8);
      });
    });
  }
};

// 2-bit values (Q2_K): two crumb planes.
struct Enc2 {
  static constexpr int kBytes = 128;
  static constexpr int kUMax = 3;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) { encode_crumbs(u, ld, 0, dst); }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    const __m512i m = _mm512_set1_epi8(3);
    static_for<2>([&](auto h) {
      const __m512i c2 = load512(p + 64 * h);
      static_for<4>([&](auto c) {
        G[4 * h + c] = _mm512_and_si512(c == 0 ? c2 : _mm512_srli_epi16(c2, 2 * c), m);
      });
    });
  }
};

// 3-bit values (Q3_K as q + 4): crumb planes for bits 0..1 plus a bit plane for bit 2.
struct Enc3 {
  static constexpr int kBytes = 128 + 64;
  static constexpr int kUMax = 7;
  static void encode(const uint8_t* u, int ld, uint8_t* dst) {
    encode_crumbs(u, ld, 0, dst);
    encode_bit_plane(u, ld, 2, dst + 128);
  }
  static inline __attribute__((always_inline)) void unpack(const uint8_t* p, __m512i* G) {
    Enc2::unpack(p, G);
    or_bit_plane<2>(p + 128, G);
  }
};

// ---------------------------------------------------------------------------------------------
// Formats. Each names its encoding, its block family and its scale record; offsets below are
// bytes into the record of one tile-block ("fp16[16]" = one fp16 per row, lane order).
//   kB32  32-element blocks:  d fp16[16] at 0 (+ m fp16[16] at 32 for the _1 types)
//   kK32  Q4_K, Q5_K:         d fp16[16] at 0, dmin fp16[16] at 32,
//                             sc u8[8][16] at 64 (sub-block j, row r at 64 + 16j + r),
//                             m as pairs u8[4][16][2] at 192 (m_j of row r at 192 + 32(j/2) + 2r + j%2)
//   kK16  Q6_K, Q3_K:         d fp16[16] at 0, sc as pairs i8[8][16][2] at 32
//         Q2_K:               d at 0, dmin at 32, raw (sc | m << 4) as pairs u8[8][16][2] at 64
// Pairs hold the values of sub-blocks 2p and 2p+1 of a row next to each other, so a sign or
// zero extension to 16 bits gives dwords (v_2p, v_2p+1): the operand of vpmaddwd against the
// activation dword (bsums[2p], bsums[2p+1]).
//
// kOffset: value = u − kOffset in the spec's arithmetic (the A8 kernels subtract kOffset·Σx;
// Q6_K's "− 32·bsum" is the same correction). kA16Signed: A16 extracts u − 128 directly as a
// signed byte (Q8_0), which keeps A16 free of a large offset term.
// ---------------------------------------------------------------------------------------------
enum class Family { kB32, kK32, kK16 };

inline void put_u16(uint8_t* rec, int idx, uint16_t v) { std::memcpy(rec + 2 * idx, &v, 2); }
inline void put_pair(uint8_t* rec, int base, int r, int j, int v) {
  rec[base + 32 * (j / 2) + 2 * r + (j & 1)] = static_cast<uint8_t>(v);
}

template <qe_type T, class E, Family Fam, int kScaleBytes_, int kOffset_, int kBias_, bool kHasMin_>
struct FmtBase {
  static constexpr qe_type kType = T;
  using Enc = E;
  using Block = typename FormatTraits<T>::Block;
  static constexpr Family kFamily = Fam;
  static constexpr int kBlockElems = FormatTraits<T>::kBlockElems;
  static constexpr int kSubElems = Fam == Family::kK16 ? 16 : 32;
  static constexpr int kChunks = kBlockElems / 32;
  static constexpr int kScaleBytes = kScaleBytes_;
  static constexpr int kDataBytes = kChunks * E::kBytes;
  static constexpr int kOffset = kOffset_;
  static constexpr int kBias = kBias_;  // u = spec value + kBias
  static constexpr bool kHasMin = kHasMin_;
  static constexpr bool kA16Signed = false;
};

struct FmtQ4_0 : FmtBase<QE_TYPE_Q4_0, Enc4, Family::kB32, 32, 8, 0, false> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) { put_u16(rec, r, b.d); }
};
struct FmtQ5_0 : FmtBase<QE_TYPE_Q5_0, Enc5, Family::kB32, 32, 16, 0, false> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) { put_u16(rec, r, b.d); }
};
struct FmtQ8_0 : FmtBase<QE_TYPE_Q8_0, Enc8, Family::kB32, 32, 128, 128, false> {
  static constexpr bool kA16Signed = true;
  static void pack_scales(const Block& b, int r, uint8_t* rec) { put_u16(rec, r, b.d); }
};
struct FmtQ4_1 : FmtBase<QE_TYPE_Q4_1, Enc4, Family::kB32, 64, 0, 0, true> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) {
    put_u16(rec, r, b.d);
    put_u16(rec, 16 + r, b.m);
  }
};
struct FmtQ5_1 : FmtBase<QE_TYPE_Q5_1, Enc5, Family::kB32, 64, 0, 0, true> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) {
    put_u16(rec, r, b.d);
    put_u16(rec, 16 + r, b.m);
  }
};

template <class B>
void pack_scales_k32(const B& b, int r, uint8_t* rec) {
  put_u16(rec, r, b.d);
  put_u16(rec, 16 + r, b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    qe_q4_K_scale_min(b.scales, j, &sc, &m);
    rec[64 + 16 * j + r] = sc;
    put_pair(rec, 192, r, j, m);
  }
}
struct FmtQ4_K : FmtBase<QE_TYPE_Q4_K, Enc4, Family::kK32, 320, 0, 0, true> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) { pack_scales_k32(b, r, rec); }
};
struct FmtQ5_K : FmtBase<QE_TYPE_Q5_K, Enc5, Family::kK32, 320, 0, 0, true> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) { pack_scales_k32(b, r, rec); }
};
struct FmtQ6_K : FmtBase<QE_TYPE_Q6_K, Enc6, Family::kK16, 288, 32, 0, false> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) {
    put_u16(rec, r, b.d);
    for (int j = 0; j < 16; ++j) put_pair(rec, 32, r, j, b.scales[j]);
  }
};
struct FmtQ3_K : FmtBase<QE_TYPE_Q3_K, Enc3, Family::kK16, 288, 4, 4, false> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) {
    put_u16(rec, r, b.d);
    for (int j = 0; j < 16; ++j) put_pair(rec, 32, r, j, qe_q3_K_scale(b.scales, j));
  }
};
struct FmtQ2_K : FmtBase<QE_TYPE_Q2_K, Enc2, Family::kK16, 320, 0, 0, true> {
  static void pack_scales(const Block& b, int r, uint8_t* rec) {
    put_u16(rec, r, b.d);
    put_u16(rec, 16 + r, b.dmin);
    for (int j = 0; j < 16; ++j) put_pair(rec, 64, r, j, b.scales[j]);
  }
};

// Geometry of the packed layout of format F for a given K.
template <class F>
struct Geo {
  int64_t nblk;         // blocks per row
  size_t scale_region;  // bytes of a tile's scale records, padded to 64
  size_t tile_bytes;    // bytes of one tile
  explicit Geo(int64_t K)
      : nblk(K / F::kBlockElems),
        scale_region((static_cast<size_t>(nblk) * F::kScaleBytes + 63) / 64 * 64),
        tile_bytes(scale_region + static_cast<size_t>(nblk) * F::kDataBytes) {}
};

inline int64_t tiles_of(int64_t rows) { return (rows + kTile - 1) / kTile; }

template <class F>
size_t packed_bytes(int64_t rows, int64_t K) {
  return static_cast<size_t>(tiles_of(rows)) * Geo<F>(K).tile_bytes;
}

// GGUF rows -> tiles. Values come from spec::unpack_block (the spec's own decoding), so a kernel
// that reproduces the spec's arithmetic on them reproduces the spec.
template <class F>
void pack(const void* src, int64_t rows, int64_t K, void* dst) {
  const Geo<F> geo(K);
  const size_t row_bytes = qe_row_bytes(F::kType, K);
  constexpr int E = F::kBlockElems;
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, packed_bytes<F>(rows, K));
  uint8_t u[kTile * E];
  int16_t q[256];
  for (int64_t t = 0; t < tiles_of(rows); ++t) {
    uint8_t* tile = out + static_cast<size_t>(t) * geo.tile_bytes;
    for (int64_t b = 0; b < geo.nblk; ++b) {
      std::memset(u, 0, sizeof u);
      uint8_t* rec = tile + static_cast<size_t>(b) * F::kScaleBytes;
      for (int r = 0; r < kTile && t * kTile + r < rows; ++r) {
        const auto* blk = reinterpret_cast<const typename F::Block*>(static_cast<const uint8_t*>(src) +
                                                                     static_cast<size_t>(t * kTile + r) * row_bytes) + b;
        spec::unpack_block(F::kType, blk, q);
        for (int e = 0; e < E; ++e) u[r * E + e] = static_cast<uint8_t>(q[e] + F::kBias);
        typename F::Block copy;  // the source is only byte-aligned
        std::memcpy(&copy, blk, sizeof copy);
        F::pack_scales(copy, r, rec);
      }
      uint8_t* data = tile + geo.scale_region + static_cast<size_t>(b) * F::kDataBytes;
      for (int c = 0; c < F::kChunks; ++c) F::Enc::encode(u + 32 * c, E, data + c * F::Enc::kBytes);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Float formats: a tile is [K][16] elements of the original type (row r of column k at
// 16k + r), so one k is one zmm of 16 rows.
// ---------------------------------------------------------------------------------------------
struct FltF32 {
  static constexpr qe_type kType = QE_TYPE_F32;
  static constexpr int kBytes = 4;
  static inline __m512 load(const uint8_t* p) { return _mm512_loadu_ps(p); }
};
struct FltF16 {
  static constexpr qe_type kType = QE_TYPE_F16;
  static constexpr int kBytes = 2;
  static inline __m512 load(const uint8_t* p) { return load_ph(p); }
};
struct FltBF16 {
  static constexpr qe_type kType = QE_TYPE_BF16;
  static constexpr int kBytes = 2;
  // bf16 is the top half of an fp32: widen to 32 bits and shift into place (exact).
  static inline __m512 load(const uint8_t* p) {
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
  }
};

template <class FF>
size_t packed_bytes_f(int64_t rows, int64_t K) {
  return static_cast<size_t>(tiles_of(rows)) * kTile * static_cast<size_t>(K) * FF::kBytes;
}

template <class FF>
void pack_f(const void* src, int64_t rows, int64_t K, void* dst) {
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, packed_bytes_f<FF>(rows, K));
  for (int64_t row = 0; row < rows; ++row) {
    uint8_t* tile = out + static_cast<size_t>(row / kTile) * kTile * K * FF::kBytes;
    const int r = static_cast<int>(row % kTile);
    for (int64_t k = 0; k < K; ++k)
      std::memcpy(tile + (static_cast<size_t>(k) * kTile + r) * FF::kBytes, in + (static_cast<size_t>(row) * K + k) * FF::kBytes,
                  FF::kBytes);
  }
}

}  // namespace
}  // namespace qe::cpu::avx512
