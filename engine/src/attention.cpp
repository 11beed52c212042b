// Attention over the fp32 KV cache through the vector ops.
#include "attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "cpu/ops.h"

namespace qe {

void kv_write(KvCache& cache, int32_t layer, int32_t n_past, const float* k, const float* v, int64_t n) {
  const int64_t kvd = cache.kv_dim();
  for (int64_t t = 0; t < n; ++t) {
    std::copy_n(k + t * kvd, kvd, cache.k(layer, n_past + static_cast<int32_t>(t)));
    std::copy_n(v + t * kvd, kvd, cache.v(layer, n_past + static_cast<int32_t>(t)));
  }
}

void attention(const KvCache& cache, const HParams& hp, int32_t layer, int32_t n_past, int64_t n, const float* q,
               float* out, float* scores) {
  const cpu::OpsTable& ops = cpu::ops();
  const int64_t hd = hp.head_dim, qd = hp.q_dim();
  const int32_t group = hp.n_head / hp.n_head_kv;  // query heads per KV head
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // One (token, head) pair per iteration: softmax(q·Kᵀ · scale) · V over the visible positions.
  const int64_t pairs = n * hp.n_head;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < pairs; ++p) {
    const int64_t t = p / hp.n_head;
    const int32_t hq = static_cast<int32_t>(p % hp.n_head);
    const int32_t hk = hq / group;
    const int32_t n_kv = n_past + static_cast<int32_t>(t) + 1;
    float* sc = scores + static_cast<size_t>(omp_get_thread_num()) * static_cast<size_t>(cache.n_ctx());
    const float* qh = q + t * qd + hq * hd;
    for (int32_t j = 0; j < n_kv; ++j) sc[j] = ops.dot(qh, cache.k(layer, j) + hk * hd, hd) * scale;
    const float mx = ops.max(sc, n_kv);
    const float inv = 1.0f / ops.exp_sub_sum(sc, mx, n_kv);
    float* o = out + t * qd + hq * hd;
    std::fill_n(o, hd, 0.0f);
    for (int32_t j = 0; j < n_kv; ++j) ops.axpy(sc[j] * inv, cache.v(layer, j) + hk * hd, o, hd);
  }
}

}  // namespace qe
