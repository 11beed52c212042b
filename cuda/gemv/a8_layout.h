// a8_layout.h: the a8 tiled weight layout's constants (see gemv_a8.cuh; no kernel code here).
#pragma once

namespace qe::cuda {

// A row of the a8 tiled layout is cut into chunks of 32 GGUF blocks, one per lane.
constexpr int kA8ChunkBlocks = 32;
constexpr int a8_chunks(int K) { return (K / 32 + kA8ChunkBlocks - 1) / kA8ChunkBlocks; }

}  // namespace qe::cuda
