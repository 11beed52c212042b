// KV cache: per-layer keys and values for every position of one sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace qe {

// fp32 storage: the reference path keeps the cache exact (quantized caches come with the
// integer-attention work).
class KvCache {
 public:
  KvCache(int32_t n_layer, int32_t n_ctx, int32_t kv_dim)
      : n_layer_(n_layer), n_ctx_(n_ctx), kv_dim_(kv_dim),
        k_(static_cast<size_t>(n_layer) * n_ctx * kv_dim),
        v_(static_cast<size_t>(n_layer) * n_ctx * kv_dim) {}

  int32_t n_ctx() const { return n_ctx_; }
  int32_t kv_dim() const { return kv_dim_; }
  // (kv_dim) row of position `pos` in `layer`.
  float* k(int32_t layer, int32_t pos) { return k_.data() + offset(layer, pos); }
  float* v(int32_t layer, int32_t pos) { return v_.data() + offset(layer, pos); }
  const float* k(int32_t layer, int32_t pos) const { return k_.data() + offset(layer, pos); }
  const float* v(int32_t layer, int32_t pos) const { return v_.data() + offset(layer, pos); }
  uint64_t bytes() const { return (k_.size() + v_.size()) * sizeof(float); }
  static uint64_t bytes_per_token(int32_t n_layer, int32_t kv_dim) {
    return uint64_t{2} * static_cast<uint64_t>(n_layer) * static_cast<uint64_t>(kv_dim) * sizeof(float);
  }

 private:
  size_t offset(int32_t layer, int32_t pos) const {
    return (static_cast<size_t>(layer) * n_ctx_ + static_cast<size_t>(pos)) * kv_dim_;
  }
  int32_t n_layer_, n_ctx_, kv_dim_;
  std::vector<float> k_;  // (layer, n_ctx, kv_dim)
  std::vector<float> v_;  // (layer, n_ctx, kv_dim)
};

}  // namespace qe
