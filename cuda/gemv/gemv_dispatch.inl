// gemv_dispatch.inl: the run-time (type, batch, variant) -> template instantiation switch,
// shared by the simulator and device launchers. `launch(kernel, grid_blocks)` starts one launch.
#pragma once

#include <string>
#include <type_traits>

#include "gemv/gemv.h"
#include "gemv/gemv_a16.cuh"
#include "gemv/gemv_a8.cuh"

namespace qe::cuda {

inline int gemv_chunks(qe_type t, int K) {
  return t == QE_TYPE_Q8_0   ? Tiled<Q8_0Tiled>::chunks(K)
         : t == QE_TYPE_Q4_K ? Tiled<Q4_KTiled>::chunks(K)
         : t == QE_TYPE_Q6_K ? Tiled<Q6_KTiled>::chunks(K)
                             : Tiled<Q4_0Tiled>::chunks(K);
}

inline std::string gemv_a16_check(const GemvArgs& a, const GemvVariant& v) {
  if (a.type != QE_TYPE_Q4_0 && a.type != QE_TYPE_Q8_0 && a.type != QE_TYPE_Q4_K && a.type != QE_TYPE_Q6_K)
    return "gemv: no GPU kernel for this weight type yet";
  const std::string what = std::string("gemv ") + qe_type_get(a.type)->name;
  const int block = qe_type_get(a.type)->block_elems;
  if (a.rows <= 0 || a.K <= 0 || a.K % block != 0)
    return what + ": need rows > 0 and K a positive multiple of " + std::to_string(block) +
           " (rows=" + std::to_string(a.rows) + ", K=" + std::to_string(a.K) + ")";
  if (a.chunks != gemv_chunks(a.type, a.K))
    return what + ": chunks=" + std::to_string(a.chunks) + " does not match K=" + std::to_string(a.K);
  if (a.batch < 1 || a.batch > 8) return what + ": batch must be 1..8, got " + std::to_string(a.batch);
  if (a.codes == nullptr || a.scales == nullptr || a.x == nullptr || a.y == nullptr) return what + ": null pointer";
  if ((reinterpret_cast<uintptr_t>(a.codes) | reinterpret_cast<uintptr_t>(a.x)) % 16 != 0)
    return what + ": weights and activations must be 16-byte aligned";
  if (reinterpret_cast<uintptr_t>(a.scales) % 16 != 0) return what + ": scales must be 16-byte aligned";
  if (gemv_variant_compiled(v, a.batch, a.type)) return {};
  return what + ": variant " + gemv_variant_name(v) + " is not compiled for batch " + std::to_string(a.batch);
}

template <class F, int B, int R, int U, class Launch>
void gemv_launch_one(const GemvArgs& a, Launch&& launch) {
  const int blocks = (a.rows + kGemvWarps * R - 1) / (kGemvWarps * R);
  launch(&gemv_a16<F, B, R, U>, blocks);
}

template <class F, int B, int T, class Launch>
void gemv_launch_rowtile(const GemvArgs& a, Launch&& launch) {
  launch(&gemv_a16_rowtile<F, B, T>, (a.rows + T - 1) / T);
}

template <class F, int B, class Launch>
void gemv_by_variant(const GemvArgs& a, const GemvVariant& v, Launch&& launch) {
  constexpr bool kSmall = std::is_same_v<F, Q4_KTiled> || std::is_same_v<F, Q6_KTiled>;  // gemv_variant_too_big
  if constexpr (B > kGemvWideBatch) {
    if (v.rows_per_warp == 1) return gemv_launch_one<F, B, 1, 4>(a, launch);
    return gemv_launch_one<F, B, 2, 2>(a, launch);  // checked: (1, 4) or (2, 2)
  } else {
    if (v.row_tile == 4) return gemv_launch_rowtile<F, B, 4>(a, launch);
    if constexpr (B == 1 && !kSmall) {
      if (v.row_tile == 8) return gemv_launch_rowtile<F, B, 8>(a, launch);
    }
    if constexpr (!kSmall) {
      switch (v.rows_per_warp * 16 + v.chunks_per_round) {
        case 2 * 16 + 4:
          return gemv_launch_one<F, B, 2, 4>(a, launch);
        case 4 * 16 + 2:
          return gemv_launch_one<F, B, 4, 2>(a, launch);
        case 1 * 16 + 8:
          return gemv_launch_one<F, B, 1, 8>(a, launch);
        default:
          break;
      }
    }
    switch (v.rows_per_warp * 16 + v.chunks_per_round) {
      case 1 * 16 + 4:
        return gemv_launch_one<F, B, 1, 4>(a, launch);
      case 2 * 16 + 2:
        return gemv_launch_one<F, B, 2, 2>(a, launch);
      case 1 * 16 + 2:
        return gemv_launch_one<F, B, 1, 2>(a, launch);
      default:
        return gemv_launch_one<F, B, 4, 1>(a, launch);  // checked: (4, 1)
    }
  }
}

template <class F, class Launch>
void gemv_by_batch(const GemvArgs& a, const GemvVariant& v, Launch&& launch) {
  switch (a.batch) {
    case 1:
      return gemv_by_variant<F, 1>(a, v, launch);
    case 2:
      return gemv_by_variant<F, 2>(a, v, launch);
    case 3:
      return gemv_by_variant<F, 3>(a, v, launch);
    case 4:
      return gemv_by_variant<F, 4>(a, v, launch);
    default:
      break;
  }
  // Batches 5-8: not for the K-quants (kGemvKQuantMaxBatch), checked before dispatch.
  if constexpr (!std::is_same_v<F, Q4_KTiled> && !std::is_same_v<F, Q6_KTiled>) {
    switch (a.batch) {
      case 5:
        return gemv_by_variant<F, 5>(a, v, launch);
      case 6:
        return gemv_by_variant<F, 6>(a, v, launch);
      case 7:
        return gemv_by_variant<F, 7>(a, v, launch);
      default:
        return gemv_by_variant<F, 8>(a, v, launch);  // checked: 1..8
    }
  }
}

template <class Launch>
void gemv_dispatch(const GemvArgs& a, const GemvVariant& v, Launch&& launch) {
  if (a.type == QE_TYPE_Q8_0) return gemv_by_batch<Q8_0Tiled>(a, v, launch);
  if (a.type == QE_TYPE_Q4_K) return gemv_by_batch<Q4_KTiled>(a, v, launch);
  if (a.type == QE_TYPE_Q6_K) return gemv_by_batch<Q6_KTiled>(a, v, launch);
  return gemv_by_batch<Q4_0Tiled>(a, v, launch);
}

// ---- W8A8 / W4A8 ------------------------------------------------------------------------------

inline std::string quantize_a8_check(const QuantizeA8Args& a) {
  if (a.K <= 0 || a.K % 32 != 0) return "quantize a8: K must be a positive multiple of 32, got " + std::to_string(a.K);
  if (a.batch < 1 || a.batch > 8) return "quantize a8: batch must be 1..8, got " + std::to_string(a.batch);
  if (a.x == nullptr || a.out.q == nullptr || a.out.d == nullptr || a.out.c == nullptr || a.out.qsum == nullptr)
    return "quantize a8: null pointer";
  if (reinterpret_cast<uintptr_t>(a.out.q) % 16 != 0) return "quantize a8: q must be 16-byte aligned";
  return {};
}

inline std::string gemv_a8_check(const GemvA8Args& a) {
  const std::string what = std::string("gemv a8 ") + (a.type == QE_TYPE_Q8_0 ? "q8_0" : "q4_0");
  if (a.type != QE_TYPE_Q4_0 && a.type != QE_TYPE_Q8_0) return "gemv a8: no GPU kernel for this weight type yet";
  if (a.rows <= 0 || a.K <= 0 || a.K % 32 != 0)
    return what + ": need rows > 0 and K a positive multiple of 32 (rows=" + std::to_string(a.rows) +
           ", K=" + std::to_string(a.K) + ")";
  if (a.chunks != a8_chunks(a.K))
    return what + ": chunks=" + std::to_string(a.chunks) + " does not match K=" + std::to_string(a.K);
  if (a.batch < 1 || a.batch > 2) return what + ": batch must be 1..2, got " + std::to_string(a.batch);
  if (a.codes == nullptr || a.scales == nullptr || a.x.q == nullptr || a.x.d == nullptr || a.x.c == nullptr ||
      a.x.qsum == nullptr || a.y == nullptr)
    return what + ": null pointer";
  if ((reinterpret_cast<uintptr_t>(a.codes) | reinterpret_cast<uintptr_t>(a.x.q)) % 16 != 0)
    return what + ": weights and activations must be 16-byte aligned";
  return {};
}

constexpr int kQuantizeA8Threads = 128;

inline int quantize_a8_blocks(const QuantizeA8Args& a) {
  return (a.batch * (a.K / 16) + kQuantizeA8Threads - 1) / kQuantizeA8Threads;
}

// Batch 1: 8 rows a block; batch 2: 4 (register limit).
template <class Launch>
void gemv_a8_dispatch(const GemvA8Args& a, Launch&& launch) {
  const bool q8 = a.type == QE_TYPE_Q8_0;
  if (a.batch == 1) {
    if (q8) return launch(&gemv_a8_rowtile<A8Q8_0, 1, 8>, (a.rows + 7) / 8);
    return launch(&gemv_a8_rowtile<A8Q4_0, 1, 8>, (a.rows + 7) / 8);
  }
  if (q8) return launch(&gemv_a8_rowtile<A8Q8_0, 2, 4>, (a.rows + 3) / 4);
  return launch(&gemv_a8_rowtile<A8Q4_0, 2, 4>, (a.rows + 3) / 4);
}

}  // namespace qe::cuda
