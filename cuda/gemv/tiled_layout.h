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

// Q4_0 (x = d * (q - 8), q in 0..15): 4 groups of one word each. Element e of a group sits in
// nibble kNibblePos[e], so that the pairs (e0,e1) (e2,e3) (e4,e5) (e6,e7) each come out of one
// lop3 (nibble positions 0,4 / 1,5 / 2,6 / 3,7 are the two 16-bit lanes' nibbles).
struct Q4_0Tiled {
  static constexpr int kGroups = 4;
  static constexpr int kNibblePos[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  static constexpr float kScaleMul = 8.0f;  // the kernel's codes are (q - 8) / 8
};

// Q8_0 (x = d * q, q in -128..127): 2 groups of two words; byte e of the group's 8 bytes holds
// element e as the unsigned code q + 128.
struct Q8_0Tiled {
  static constexpr int kGroups = 2;
  static constexpr float kScaleMul = 128.0f;  // the kernel's codes are q / 128
};

template <class F>
struct Tiled {
  static constexpr int kChunk = F::kGroups * 256;      // elements per warp pass over a row
  static constexpr int kChunkWords = 128;             // code words per row and chunk (512 bytes)
  static constexpr int kChunkScales = 8 * F::kGroups;  // fp16 scales per row and chunk
  static constexpr int chunks(int K) { return (K + kChunk - 1) / kChunk; }
};

}  // namespace qe::cuda
