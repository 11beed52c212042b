// Attention over the KV cache: writing new keys/values and causal attention for a token batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kv_cache.h"
#include "model.h"

namespace qe {

// Stores the K and V rows (n, kv_dim) of n new tokens at positions n_past .. n_past+n-1,
// quantizing them once in the cache's type.
void kv_write(KvCache& cache, int32_t layer, int32_t n_past, const float* k, const float* v, int64_t n);

// Floats of attention scratch for batches of up to n_batch tokens.
size_t attention_scratch_floats(const HParams& hp, int32_t n_batch);

// out (n, q_dim) = causal attention of q (n, q_dim), token t at position n_past+t attending to
// positions 0 .. n_past+t of `layer`. Query head h reads KV head h / (n_head / n_head_kv); the
// heads of one group are processed together so they share every read of the cache. Tiled
// (flash attention): no score matrix is materialized. Decode splits long contexts into chunks
// over the threads (flash-decoding) and merges them. scratch: attention_scratch_floats().
void attention(const KvCache& cache, const HParams& hp, int32_t layer, int32_t n_past, int64_t n, const float* q,
               float* out, float* scratch);

}  // namespace qe
