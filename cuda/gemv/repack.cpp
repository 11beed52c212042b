// repack.cpp: GGUF blocks -> the GPU layouts. The layouts are specified in tiled_layout.h; this
// file only moves codes and scales, it never changes a value.
#include "gemv/repack.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "gemv/a8_layout.h"
#include "gemv/tiled_layout.h"

namespace qe::cuda {

namespace {

// Element i (0..31) of a GGUF block as the tiled layout's code (4 or 8 bits).
uint32_t code_of(const qe_block_q4_0& b, int i) { return i < 16 ? (b.qs[i] & 0xFu) : (b.qs[i - 16] >> 4); }
uint32_t code_of(const qe_block_q8_0& b, int i) { return uint32_t(uint8_t(b.qs[i])) ^ 0x80u; }  // q + 128

// One group's word(s): 8 elements starting at element i0 of block b.
void pack_group(const qe_block_q4_0& b, int i0, uint32_t* words) {
  uint32_t w = 0;
  for (int e = 0; e < 8; ++e) w |= code_of(b, i0 + e) << (4 * Q4_0Tiled::kNibblePos[e]);
  words[0] = w;
}
void pack_group(const qe_block_q8_0& b, int i0, uint32_t* words) {
  for (int half = 0; half < 2; ++half) {
    uint32_t w = 0;
    for (int e = 0; e < 4; ++e) w |= code_of(b, i0 + 4 * half + e) << (8 * e);
    words[half] = w;
  }
}

// A tiled matrix of `rows` x K with every code word `pad_word` (the code of 0) and every scale 0,
// so the padding past K reads as zeros.
template <class F>
TiledHost empty_tiled(qe_type t, int rows, int K, uint32_t pad_word) {
  using L = Tiled<F>;
  TiledHost h;
  h.type = t;
  h.rows = rows;
  h.K = K;
  h.chunks = L::chunks(K);
  h.codes.assign(size_t(rows) * size_t(h.chunks) * L::kChunkWords, pad_word);
  h.scales.assign(size_t(rows) * size_t(h.chunks) * L::kChunkScales, 0);
  return h;
}

// Q4_K: element n (0..255) of a super-block is nibble (n % 64) / 32 of qs[32 (n / 64) + n % 32].
uint32_t code_of(const qe_block_q4_K& b, int n) {
  const uint8_t byte = b.qs[32 * (n / 64) + n % 32];
  return (n % 64) < 32 ? (byte & 0xFu) : (byte >> 4);
}

TiledHost repack_q4_k(const qe_block_q4_K* src, int rows, int K) {
  using L = Tiled<Q4_KTiled>;
  TiledHost h = empty_tiled<Q4_KTiled>(QE_TYPE_Q4_K, rows, K, 0);
  const size_t row_words = size_t(h.chunks) * L::kChunkWords, row_scales = size_t(h.chunks) * L::kChunkScales;
  const int supers = K / 256;
  for (int r = 0; r < rows; ++r)
    for (int sb = 0; sb < supers; ++sb) {
      const qe_block_q4_K& b = src[size_t(r) * size_t(supers) + size_t(sb)];
      const int c = sb / 4, g = sb % 4;
      uint16_t* sc = &h.scales[size_t(r) * row_scales + size_t(c) * L::kChunkScales];
      sc[32 + 2 * g] = b.d;
      sc[33 + 2 * g] = b.dmin;
      for (int lane = 0; lane < 32; ++lane) {
        uint8_t s6, m6;
        qe_q4_K_scale_min(b.scales, lane / 4, &s6, &m6);
        sc[(lane >> 2) * 4 + g] = uint16_t(s6 | (m6 << 8));
        uint32_t w = 0;
        for (int e = 0; e < 8; ++e) w |= code_of(b, lane * 8 + e) << (4 * Q4_0Tiled::kNibblePos[e]);
        h.codes[size_t(r) * row_words + size_t(c) * L::kChunkWords + size_t(lane) * 4 + size_t(g)] = w;
      }
    }
  return h;
}

// Q6_K: element n (0..255) = 128 h + 64 k + t: low 4 bits nibble k of ql[64 h + t], high 2
// bits bits 2s..2s+1 of qh[32 h + t % 32], s = 2k + t / 32 (qe_format.h).
uint32_t low_of(const qe_block_q6_K& b, int n) {
  const int h = n / 128, k = (n % 128) / 64, t = n % 64;
  return (b.ql[64 * h + t] >> (4 * k)) & 0xFu;
}
uint32_t high_of(const qe_block_q6_K& b, int n) {
  const int h = n / 128, k = (n % 128) / 64, t = n % 64;
  return (b.qh[32 * h + t % 32] >> (2 * (2 * k + t / 32))) & 3u;
}

TiledHost repack_q6_k(const qe_block_q6_K* src, int rows, int K) {
  using L = Tiled<Q6_KTiled>;
  TiledHost h = empty_tiled<Q6_KTiled>(QE_TYPE_Q6_K, rows, K, 0);
  const size_t row_words = size_t(h.chunks) * L::kChunkWords, row_scales = size_t(h.chunks) * L::kChunkScales;
  // Where each element's high bits go in bytes A (even elements) and B (odd): e2/e3 at bit 0,
  // e6/e7 at 2, e0/e1 at 4, e4/e5 at 6 (see tiled_layout.h).
  constexpr int kHighShift[8] = {4, 4, 0, 0, 6, 6, 2, 2};
  const int supers = K / 256;
  for (int r = 0; r < rows; ++r)
    for (int sb = 0; sb < supers; ++sb) {
      const qe_block_q6_K& b = src[size_t(r) * size_t(supers) + size_t(sb)];
      const int c = sb / 4, g = sb % 4;
      uint16_t* sc = &h.scales[size_t(r) * row_scales + size_t(c) * L::kChunkScales];
      sc[32 + g] = b.d;
      uint32_t* chunk = &h.codes[size_t(r) * row_words + size_t(c) * L::kChunkWords];
      for (int lane = 0; lane < 32; ++lane) {
        // int8 sc of sub-block lane / 2 at byte (lane / 2) * 4 + g of the scales.
        reinterpret_cast<uint8_t*>(sc)[(lane >> 1) * 4 + g] = uint8_t(b.scales[lane / 2]);
        uint32_t w = 0, a = 0, bb = 0;
        for (int e = 0; e < 8; ++e) {
          w |= low_of(b, lane * 8 + e) << (4 * Q4_0Tiled::kNibblePos[e]);
          (e % 2 ? bb : a) |= high_of(b, lane * 8 + e) << kHighShift[e];
        }
        chunk[lane * 4 + g] = w;
        // High-bit word g / 2 of the lane: bytes [A_even, A_odd, B_even, B_odd] of its two groups.
        uint32_t& hw = chunk[128 + lane * 2 + g / 2];
        hw |= (a << (8 * (g & 1))) | (bb << (16 + 8 * (g & 1)));
      }
    }
  return h;
}

template <class F, class Block>
TiledHost repack(qe_type t, const Block* src, int rows, int K, uint32_t pad_word) {
  using L = Tiled<F>;
  constexpr int G = F::kGroups, kWordsPerGroup = 4 / G;
  TiledHost h = empty_tiled<F>(t, rows, K, pad_word);
  const size_t row_words = size_t(h.chunks) * L::kChunkWords, row_scales = size_t(h.chunks) * L::kChunkScales;
  const int blocks_per_row = K / 32;
  for (int r = 0; r < rows; ++r) {
    const Block* row = src + size_t(r) * size_t(blocks_per_row);
    for (int c = 0; c < h.chunks; ++c)
      for (int lane = 0; lane < 32; ++lane)
        for (int g = 0; g < G; ++g) {
          const int k0 = c * L::kChunk + g * 256 + lane * 8;
          if (k0 >= K) continue;
          const Block& blk = row[k0 / 32];
          pack_group(blk, k0 % 32,
                     &h.codes[size_t(r) * row_words + size_t(c) * L::kChunkWords + size_t(lane) * 4 +
                              size_t(g * kWordsPerGroup)]);
          h.scales[size_t(r) * row_scales + size_t(c) * L::kChunkScales + size_t(lane >> 2) * size_t(G) + size_t(g)] =
              blk.d;
        }
  }
  return h;
}

}  // namespace

bool has_tiled_layout(qe_type t) {
  return t == QE_TYPE_Q4_0 || t == QE_TYPE_Q8_0 || t == QE_TYPE_Q4_K || t == QE_TYPE_Q6_K;
}

TiledHost repack_tiled(qe_type t, const void* src, int rows, int K) {
  if (!has_tiled_layout(t)) throw std::invalid_argument("repack_tiled: no GPU layout for this weight type yet");
  const int block_elems = qe_type_get(t)->block_elems;
  if (rows <= 0 || K <= 0 || K % block_elems != 0) {
    throw std::invalid_argument("repack_tiled: need rows > 0 and K a positive multiple of " +
                                std::to_string(block_elems) + ", got rows=" + std::to_string(rows) +
                                " K=" + std::to_string(K));
  }
  if (t == QE_TYPE_Q4_K) return repack_q4_k(static_cast<const qe_block_q4_K*>(src), rows, K);
  if (t == QE_TYPE_Q6_K) return repack_q6_k(static_cast<const qe_block_q6_K*>(src), rows, K);
  if (t == QE_TYPE_Q4_0) return repack<Q4_0Tiled>(t, static_cast<const qe_block_q4_0*>(src), rows, K, 0x88888888u);
  return repack<Q8_0Tiled>(t, static_cast<const qe_block_q8_0*>(src), rows, K, 0x80808080u);
}

A8TiledHost repack_a8(qe_type t, const void* src, int rows, int K) {
  if (t != QE_TYPE_Q4_0 && t != QE_TYPE_Q8_0)
    throw std::invalid_argument("repack_a8: no GPU A8 layout for this weight type yet");
  if (rows <= 0 || K <= 0 || K % 32 != 0) {
    throw std::invalid_argument("repack_a8: need rows > 0 and K a positive multiple of 32, got rows=" +
                                std::to_string(rows) + " K=" + std::to_string(K));
  }
  A8TiledHost h;
  h.type = t;
  h.rows = rows;
  h.K = K;
  h.chunks = a8_chunks(K);
  const int code_bytes = t == QE_TYPE_Q4_0 ? 16 : 32, parts = code_bytes / 16;
  const size_t chunk_words = size_t(parts) * 128;
  h.codes.assign(size_t(rows) * size_t(h.chunks) * chunk_words, 0);
  h.scales.assign(size_t(rows) * size_t(h.chunks) * kA8ChunkBlocks, 0);
  const qe_type_info* info = qe_type_get(t);
  const int blocks_per_row = K / 32;
  for (int r = 0; r < rows; ++r)
    for (int b = 0; b < blocks_per_row; ++b) {
      const uint8_t* blk = static_cast<const uint8_t*>(src) +
                           (size_t(r) * size_t(blocks_per_row) + size_t(b)) * size_t(info->block_bytes);
      const int ch = b / kA8ChunkBlocks, lane = b % kA8ChunkBlocks;
      const size_t rc = size_t(r) * size_t(h.chunks) + size_t(ch);
      uint16_t d;
      std::memcpy(&d, blk, 2);  // both block types start with the fp16 scale
      h.scales[rc * kA8ChunkBlocks + size_t(lane)] = d;
      for (int p = 0; p < parts; ++p)
        std::memcpy(&h.codes[rc * chunk_words + size_t(p) * 128 + size_t(lane) * 4], blk + 2 + 16 * p, 16);
    }
  return h;
}

}  // namespace qe::cuda
