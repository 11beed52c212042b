// Context: one sequence's KV cache, scratch buffers and logits over a shared Model.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "forward.h"
#include "kv_cache.h"
#include "model.h"
#include "status.h"

namespace qe {

struct ContextParams {
  int32_t n_ctx = 0;      // 0: min(model's trained length, 4096)
  int32_t n_batch = 512;  // tokens per forward call during prefill
  int32_t n_threads = 0;  // 0: all cores
  ActMode act = ActMode::kF32;
  KvParams kv;               // cache storage type and attention mode (default fp16, float path)
  // Linear RoPE scaling: positions are divided by this factor, and n_ctx may reach the trained
  // length times it. 0 or 1: none, and n_ctx is capped at the trained length.
  float rope_scaling = 0.0f;
  // Pin the OpenMP threads to distinct CPUs (the calling thread included) so the scheduler
  // does not migrate them between matmuls; off by default in the library.
  bool pin_threads = false;
};

class Context {
 public:
  static Result<std::unique_ptr<Context>> create(const Model& model, const ContextParams& params);

  // Appends `tokens` to the sequence. With all_logits, logits(i) is valid for every token of
  // this call; otherwise only logits(-1). Fails (and changes nothing) when a token id is out of
  // range or the tokens do not fit in the context.
  Status eval(std::span<const int32_t> tokens, bool all_logits = false);

  // (n_vocab) logits of token i of the last eval; i = -1 for the last token.
  const float* logits(int32_t i = -1) const;
  int32_t n_logits() const { return n_logits_; }

  const Model& model() const { return model_; }
  int32_t n_ctx() const { return cache_.n_ctx(); }
  int32_t n_past() const { return n_past_; }
  int32_t n_threads() const { return n_threads_; }
  int32_t n_batch() const { return n_batch_; }
  uint64_t kv_bytes() const { return cache_.bytes(); }
  const KvCache& cache() const { return cache_; }
  // Benchmarks: appends n positions of pseudo-random keys and values (unit variance) to every
  // layer without evaluating the model, so decode speed can be measured at a context depth
  // without a long prefill. Their token ids read -1, which no prompt matches.
  Status fill_synthetic(int32_t n, uint64_t seed);
  // Forget every position >= n_keep (0 clears the sequence).
  Status truncate(int32_t n_keep);
  // The tokens whose K/V the cache holds, in order (n_past of them).
  std::span<const int32_t> tokens() const { return tokens_; }

 private:
  Context(const Model& model, const ContextParams& p, int32_t n_ctx, int32_t n_threads);
  const Model& model_;
  int32_t n_threads_;
  int32_t n_batch_;
  KvCache cache_;
  ForwardScratch scratch_;
  std::vector<float> logits_;  // (n_logits, n_vocab)
  int32_t n_logits_ = 0;
  int32_t n_past_ = 0;
  std::vector<int32_t> tokens_;  // (n_past)
};

}  // namespace qe
