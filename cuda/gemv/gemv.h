// gemv.h: host entry points of the decode GEMVs, for the simulator build (always) and the
// device build (gemv_device.h, QE_HAVE_CUDA). They take raw pointers and sizes, validate shapes
// first and return a message naming the violated constraint (empty when the launch went ahead).
#pragma once

#include <cstdint>
#include <string>

#include "format/qe_format.h"

namespace qe::cuda {

// y (batch, rows) fp32 = W (rows, K) in a tiled layout  x  x (batch, K) fp16 bits.
struct GemvArgs {
  qe_type type = QE_TYPE_Q4_0;  // Q4_0, Q8_0, Q4_K or Q6_K
  const uint32_t* codes = nullptr;
  const uint16_t* scales = nullptr;
  int rows = 0;
  int K = 0;
  int chunks = 0;
  const uint16_t* x = nullptr;
  float* y = nullptr;
  int batch = 1;
};

// Rows per warp and chunks loaded per round (see gemv_a16.cuh); the benchmark times each
// compiled pair, the engine will use the best one measured.
struct GemvVariant {
  int rows_per_warp = 2;
  int chunks_per_round = 2;
  int row_tile = 0;  // > 0: the row-tiled kernel with this many rows per block (the others unused)
};

// A variant's name for tables: "(R,U)" or "tile T".
inline std::string gemv_variant_name(const GemvVariant& v) {
  return v.row_tile > 0 ? "tile" + std::to_string(v.row_tile)
                        : "(" + std::to_string(v.rows_per_warp) + "," + std::to_string(v.chunks_per_round) + ")";
}

// The compiled variants. Batches above 2 have only the first two, and "tile 8" is batch 1 only:
// the others need more than the 128 registers a thread may use there and would spill.
inline constexpr GemvVariant kGemvVariants[] = {{1, 4, 0}, {2, 2, 0}, {2, 4, 0}, {4, 1, 0}, {4, 2, 0},
                                                {1, 8, 0}, {1, 2, 0}, {0, 0, 4}, {0, 0, 8}};
inline constexpr int kGemvWideBatch = 2;  // the largest batch with every variant

// The K-quants' scales take 5-6 registers a row: their largest variants would spill, so they are
// not built.
constexpr bool gemv_variant_too_big(const GemvVariant& v, qe_type type) {
  return (type == QE_TYPE_Q4_K || type == QE_TYPE_Q6_K) &&
         (v.row_tile == 8 || (v.row_tile == 0 && v.rows_per_warp * v.chunks_per_round >= 8));
}

// The K-quants' largest batch: from 5 columns up their scales and sums spill on sm_80-89.
inline constexpr int kGemvKQuantMaxBatch = 4;
constexpr int gemv_max_batch(qe_type type) {
  return type == QE_TYPE_Q4_K || type == QE_TYPE_Q6_K ? kGemvKQuantMaxBatch : 8;
}

constexpr bool gemv_variant_compiled(const GemvVariant& v, int batch, qe_type type = QE_TYPE_Q4_0) {
  if (v.row_tile == 8 && batch > 1) return false;  // 8 rows x 2 columns spill
  if (batch > gemv_max_batch(type)) return false;
  if (gemv_variant_too_big(v, type)) return false;
  for (int i = 0; i < int(sizeof(kGemvVariants) / sizeof(kGemvVariants[0])); ++i) {
    if (batch > kGemvWideBatch && i >= 2) return false;
    const GemvVariant& c = kGemvVariants[i];
    if (v.row_tile > 0
            ? c.row_tile == v.row_tile
            : c.row_tile == 0 && c.rows_per_warp == v.rows_per_warp && c.chunks_per_round == v.chunks_per_round)
      return true;
  }
  return false;
}

// Empty if `a` and `v` can launch, else what is wrong.
std::string gemv_a16_check(const GemvArgs& a, const GemvVariant& v);

// Runs the kernel on the SIMT simulator (host memory). Returns gemv_a16_check's message.
std::string gemv_a16_sim(const GemvArgs& a, const GemvVariant& v = {});

// ---- W8A8 / W4A8 (gemv_a8.cuh) -------------------------------------------------------------

// Device activations in the act8 layout: q (batch, K) int8; d, c, qsum (batch, K / 16).
struct Act8 {
  int8_t* q = nullptr;
  float* d = nullptr;
  float* c = nullptr;
  int16_t* qsum = nullptr;
};

// x (batch, K) fp32 -> act8, exactly as kernels/cpu/a8_spec.h quantizes (K % 32 == 0).
struct QuantizeA8Args {
  const float* x = nullptr;
  int K = 0;
  int batch = 1;
  Act8 out;
};

// y (batch, rows) fp32 = W (rows, K) a8 tiled (Q4_0 or Q8_0) x act8 activations; batch 1-2.
struct GemvA8Args {
  qe_type type = QE_TYPE_Q4_0;
  const uint32_t* codes = nullptr;
  const uint16_t* scales = nullptr;
  int rows = 0;
  int K = 0;
  int chunks = 0;
  Act8 x;
  float* y = nullptr;
  int batch = 1;
};

std::string quantize_a8_check(const QuantizeA8Args& a);
std::string gemv_a8_check(const GemvA8Args& a);
std::string quantize_a8_sim(const QuantizeA8Args& a);
std::string gemv_a8_sim(const GemvA8Args& a);

}  // namespace qe::cuda
