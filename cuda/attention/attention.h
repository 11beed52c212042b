// attention.h: host entry points of decode attention (decode_f16.cuh), for the simulator build
// (always) and the device build (attention_device.h). Shapes are validated first and a message
// names the violated constraint (empty when the launch went ahead).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qe::cuda {

// out (n_heads, head_dim) = softmax(q K^T * scale) V over positions [0, n_kv) of an fp16 cache.
//   q (n_heads, head_dim) fp32, heads h of KV head h / (n_heads / n_kv_heads);
//   k, v (n_kv_heads, n_ctx, head_dim) fp16 bits; scratch: attn_decode_scratch_floats() floats.
struct AttnDecodeArgs {
  const float* q = nullptr;
  const uint16_t* k = nullptr;
  const uint16_t* v = nullptr;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // 64, 128 or 256
  int n_ctx = 0;
  int n_kv = 0;
  float scale = 1.0f;
  float* out = nullptr;
  float* scratch = nullptr;
};

// Positions per stage-1 block; the scratch holds (max, denominator, head_dim outputs) per head
// and chunk.
constexpr int kAttnChunk = 128;
inline size_t attn_decode_scratch_floats(int n_heads, int head_dim, int n_kv) {
  return size_t(n_heads) * size_t((n_kv + kAttnChunk - 1) / kAttnChunk) * size_t(head_dim + 2);
}
std::string attn_decode_check(const AttnDecodeArgs& a);
std::string attn_decode_sim(const AttnDecodeArgs& a);

}  // namespace qe::cuda
