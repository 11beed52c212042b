// attention_dispatch.inl: checks, scratch layout and the (group, head dim) switch shared by the
// simulator and device launchers. `launch(chunk_kernel, merge_kernel, chunks)` starts both.
#pragma once

#include <string>

#include "attention/attention.h"
#include "attention/decode_f16.cuh"

namespace qe::cuda {

inline int attn_chunks(int n_kv) { return (n_kv + kAttnChunk - 1) / kAttnChunk; }

inline std::string attn_decode_check(const AttnDecodeArgs& a) {
  if (a.n_heads <= 0 || a.n_kv_heads <= 0 || a.n_heads % a.n_kv_heads != 0 || a.n_heads / a.n_kv_heads > 8)
    return "attention: n_heads must be 1-8 times n_kv_heads (n_heads=" + std::to_string(a.n_heads) +
           ", n_kv_heads=" + std::to_string(a.n_kv_heads) + ")";
  if (a.head_dim != 64 && a.head_dim != 128 && a.head_dim != 256)
    return "attention: head_dim must be 64, 128 or 256, got " + std::to_string(a.head_dim);
  if (a.n_kv <= 0 || a.n_kv > a.n_ctx)
    return "attention: need 0 < n_kv <= n_ctx (n_kv=" + std::to_string(a.n_kv) + ", n_ctx=" + std::to_string(a.n_ctx) +
           ")";
  if (a.q == nullptr || a.k == nullptr || a.v == nullptr || a.out == nullptr || a.scratch == nullptr)
    return "attention: null pointer";
  if ((reinterpret_cast<uintptr_t>(a.k) | reinterpret_cast<uintptr_t>(a.v)) % 16 != 0)
    return "attention: the cache must be 16-byte aligned";
  return {};
}

// The scratch's three parts: max and denominator (n_heads, chunks), outputs (n_heads, chunks, D).
struct AttnScratch {
  float *m, *l, *o;
};
inline AttnScratch attn_scratch(const AttnDecodeArgs& a) {
  const size_t states = size_t(a.n_heads) * size_t(attn_chunks(a.n_kv));
  return {a.scratch, a.scratch + states, a.scratch + 2 * states};
}

template <int G, int D, class Launch>
void attn_launch(Launch&& launch) {
  launch(&attn_decode_f16_chunk<G, D>, &attn_decode_merge<D>);
}

template <int D, class Launch>
void attn_by_group(int group, Launch&& launch) {
  switch (group) {
    case 1:
      return attn_launch<1, D>(launch);
    case 2:
      return attn_launch<2, D>(launch);
    case 3:
      return attn_launch<3, D>(launch);
    case 4:
      return attn_launch<4, D>(launch);
    case 5:
      return attn_launch<5, D>(launch);
    case 6:
      return attn_launch<6, D>(launch);
    case 7:
      return attn_launch<7, D>(launch);
    default:
      return attn_launch<8, D>(launch);  // checked: 1..8
  }
}

template <class Launch>
void attn_dispatch(const AttnDecodeArgs& a, Launch&& launch) {
  const int group = a.n_heads / a.n_kv_heads;
  if (a.head_dim == 64) return attn_by_group<64>(group, launch);
  if (a.head_dim == 128) return attn_by_group<128>(group, launch);
  return attn_by_group<256>(group, launch);
}

}  // namespace qe::cuda
