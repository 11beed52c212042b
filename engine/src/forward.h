// The generic decoder forward pass (scalar reference path), driven by the model description.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kv_cache.h"
#include "model.h"
#include "status.h"

namespace qe {

// How matmuls see activations: fp32 (W*A16), or int8 per block (W8A8 / W4A8) where the
// weight type has an integer path.
enum class ActMode { kF32, kQ8 };

// Activation buffers for up to `n_batch` tokens, allocated once per context so the per-token
// loop never allocates.
struct ForwardScratch {
  ForwardScratch(const HParams& hp, int32_t n_batch, int32_t n_ctx, int32_t n_threads);
  int32_t n_batch;
  ActMode act = ActMode::kF32;
  float rope_pos_scale = 1.0f;  // linear RoPE scaling: positions are multiplied by this (1/factor)
  std::vector<float> x;       // (n_batch, n_embd) residual stream
  std::vector<float> h;       // (n_batch, n_embd) normalized input of a sub-layer
  std::vector<float> q;       // (n_batch, q_dim)
  std::vector<float> k;       // (n_batch, kv_dim)
  std::vector<float> v;       // (n_batch, kv_dim)
  std::vector<float> att;     // (n_batch, q_dim) attention output before wo
  std::vector<float> o;       // (n_batch, max(n_embd, ...)) projection output
  std::vector<float> gate;    // (n_batch, n_ff)
  std::vector<float> up;      // (n_batch, n_ff)
  std::vector<float> scores;  // attention scratch: chunk states (attention_scratch_floats)
  std::vector<float> cos_sin; // (n_batch, n_rot) interleaved cos, sin per rotary pair
  // Quantized copies of the current matmul input, made at most once per layout per input.
  std::vector<uint8_t> xq32;   // (n_batch, max_k / 32) ActBlock32
  std::vector<uint8_t> xq256;  // (n_batch, max_k / 256) qe_block_q8_K
  const float* xq_src = nullptr;  // the input xq32/xq256 were made from
  bool xq32_valid = false, xq256_valid = false;
};

// Runs `tokens` at positions n_past .. n_past+len-1 (len <= scratch.n_batch), writing their K/V
// into `cache`. Writes logits for every token into `logits` (len, n_vocab) when all_logits,
// else only the last token's (n_vocab); nullptr skips the logits.
void forward(const Model& model, KvCache& cache, ForwardScratch& scratch, std::span<const int32_t> tokens,
             int32_t n_past, bool all_logits, float* logits);

}  // namespace qe
