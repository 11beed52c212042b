// tiled_layout.h: the repacked weight layouts that the GPU decode GEMVs read (shared by the
// kernels, the host repacker and the tests; no kernel code here).
//
// GGUF blocks interleave an fp16 scale with the codes (18 bytes for Q4_0, 34 for Q8_0), which
// never gives 16-byte loads. The tiled layouts keep codes and scales apart:
//   A row of K elements (K % 32 == 0) is cut into ceil(K / kChunk) chunks; a chunk is what one
//   warp reads in one pass: 16 bytes per lane, 512 bytes in all. Lane l's 16 bytes hold kGroups
//   groups of 8 elements; group g holds k = chunk*kChunk + g*256 + l*8 + e, e = 0..7, so the
//   activations of one group are 8 consecutive halves (one 16-byte load) and contiguous across
//   the warp. The last chunk is padded with code-zero, scale-zero elements.
//   codes:  (rows, chunks, 32 lanes, 4 words) uint32
//   scales: (rows, chunks, 8 lane quads, kGroups) fp16: lane l's scale for group g is entry
//           (l / 4) * kGroups + g (its GGUF block is chunk*kChunk/32 + g*8 + l/4), so a lane
//           reads its kGroups scales with one 8- or 4-byte load shared by the 4 lanes of a block.
#pragma once

namespace qe::cuda {

// Every layout's chunk of scales starts 16-byte aligned (kChunkScales * 2 is a multiple of 16
// or the chunk's rows are; see the kernels' loads).

// Q4_0 (x = d * (q - 8), q in 0..15): 4 groups of one word each. Element e of a group sits in
// nibble kNibblePos[e], so that the pairs (e0,e1) (e2,e3) (e4,e5) (e6,e7) each come out of one
// lop3 (nibble positions 0,4 / 1,5 / 2,6 / 3,7 are the two 16-bit lanes' nibbles).
struct Q4_0Tiled {
  static constexpr int kGroups = 4;
  static constexpr int kNibblePos[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  static constexpr float kScaleMul = 8.0f;  // the kernel's codes are (q - 8) / 8
  static constexpr int kChunkScales = 32;   // fp16 per row and chunk: (8 lane quads, 4 groups)
  static constexpr int kChunkWords = 128;   // code words per row and chunk (512 bytes)
};

// Q8_0 (x = d * q, q in -128..127): 2 groups of two words; byte e of the group's 8 bytes holds
// element e as the unsigned code q + 128.
struct Q8_0Tiled {
  static constexpr int kGroups = 2;
  static constexpr float kScaleMul = 128.0f;  // the kernel's codes are q / 128
  static constexpr int kChunkScales = 16;     // fp16 per row and chunk: (8 lane quads, 2 groups)
  static constexpr int kChunkWords = 128;
};

// Q4_K (x = d sc_j q - dmin m_j, q in 0..15, 6-bit sc_j and m_j per 32-element sub-block j of a
// 256-element super-block): codes as Q4_0 (4 groups of one word, kNibblePos order); a chunk is
// 4 super-blocks, group g of every lane lies in super-block g and in sub-block lane / 4. Scales
// per row and chunk, 80 bytes (64 in GGUF): (8 lane quads, 4 groups) x (sc, m) bytes, then
// (4 groups) x (d, dmin) fp16 — a lane reads 8 bytes of its own and 16 shared ones.
struct Q4_KTiled {
  static constexpr int kGroups = 4;
  static constexpr float kScaleMul = 8.0f;  // the kernel's codes are q / 8
  static constexpr int kChunkScales = 40;   // in uint16 units: 32 for (sc, m), 8 for (d, dmin)
  static constexpr int kChunkWords = 128;
};

// Q6_K (x = d sc_j (v - 32), v in 0..63, int8 sc_j per 16-element sub-block): the low 4 bits
// as Q4_0's codes, then per chunk a second region of 2 words a lane with the high 2 bits of its
// 4 groups: word 0 holds groups 0 and 1 as bytes [A0, A1, B0, B1], word 1 groups 2 and 3; byte A
// holds the high bits of elements (e2, e6, e0, e4) at bits (0-1, 2-3, 4-5, 6-7) and byte B those
// of (e3, e7, e1, e5), so that shifts and masks put them above the low nibbles of each fp16 pair.
// Scales per row and chunk (80 bytes): (16 lane pairs, 4 groups) int8 sc, (4 groups) fp16 d,
// 8 bytes of padding. 848 bytes per 1024 weights (840 in GGUF).
struct Q6_KTiled {
  static constexpr int kGroups = 4;
  static constexpr int kChunkWords = 192;  // 128 low-nibble words + 64 high-bit words
  static constexpr int kChunkScales = 40;  // in uint16 units
};

template <class F>
struct Tiled {
  static constexpr int kChunk = F::kGroups * 256;       // elements per warp pass over a row
  static constexpr int kChunkWords = F::kChunkWords;    // code words per row and chunk
  static constexpr int kChunkScales = F::kChunkScales;  // uint16 units per row and chunk
  static constexpr int chunks(int K) { return (K + kChunk - 1) / kChunk; }
};

}  // namespace qe::cuda
