// repack.h: GGUF weight blocks -> the GPU kernels' layouts (host side, run once at load).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "format/qe_format.h"

namespace qe::cuda {

// A matrix in a tiled layout of tiled_layout.h (host copy).
struct TiledHost {
  qe_type type = QE_TYPE_Q4_0;
  int rows = 0;
  int K = 0;
  int chunks = 0;
  std::vector<uint32_t> codes;   // (rows, chunks, 32, 4)
  std::vector<uint16_t> scales;  // (rows, chunks, 8 * groups)
};

// True for the types that have a tiled layout (Q4_0, Q8_0, Q4_K, Q6_K).
bool has_tiled_layout(qe_type t);

// src: (rows, K / block elements) GGUF blocks of `t`, row-major. Throws std::invalid_argument
// for a type without a tiled layout or K not a positive multiple of the block.
TiledHost repack_tiled(qe_type t, const void* src, int rows, int K);

// A matrix in the a8 tiled layout of gemv_a8.cuh (one GGUF block per lane; host copy).
struct A8TiledHost {
  qe_type type = QE_TYPE_Q4_0;
  int rows = 0;
  int K = 0;
  int chunks = 0;
  std::vector<uint32_t> codes;   // (rows, chunks, words per block / 4 parts, 32 lanes, 4 words)
  std::vector<uint16_t> scales;  // (rows, chunks, 32 lanes)
};

// Same contract as repack_tiled, for the W8A8 / W4A8 kernels (Q4_0, Q8_0).
A8TiledHost repack_a8(qe_type t, const void* src, int rows, int K);

}  // namespace qe::cuda
