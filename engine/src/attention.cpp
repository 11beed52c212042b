// Attention over the KV cache: work split over (KV head, token block, position chunk) and the
// merge of chunk states; the tiles themselves run in the dispatched cpu attention kernels.
#include "attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/attn.h"

namespace qe {
namespace {

constexpr int32_t kMaxChunks = 64;       // position chunks of one decode row
constexpr int32_t kMinChunk = 256;       // positions per chunk at least (a multiple of kAttnTile)

// Floats of one row's chunk state: m, l, then o (dim).
int32_t state_floats(int32_t dim) { return dim + 2; }

}  // namespace

void kv_write(KvCache& cache, int32_t layer, int32_t n_past, const float* k, const float* v, int64_t n) {
  const int64_t kvd = cache.kv_dim();
  // KIVI batches: keep every query's fp16 window, which the writes below move past.
  if (cache.layout().k_per_channel && n > 1) cache.stage_batch(n_past, k, v, n, layer);
  for (int64_t t = 0; t < n; ++t) cache.write(layer, n_past + static_cast<int32_t>(t), k + t * kvd, v + t * kvd);
}

size_t attention_scratch_floats(const HParams& hp, int32_t n_batch) {
  const int32_t dim = cpu::kv_layout(cpu::KvType::kQ4, hp.head_dim, 32, false).dim;  // the widest padding
  // Twice: a q4 cache's sink adds one chunk state per row to the at most max(n_batch, 64) rows' worth.
  return 2 * static_cast<size_t>(std::max(n_batch, kMaxChunks)) * hp.n_head * state_floats(dim);
}

void attention(const KvCache& cache, const HParams& hp, int32_t layer, int32_t n_past, int64_t n, const float* q,
               float* out, float* scratch) {
  const cpu::AttnTable& tbl = cpu::attn();
  const auto kernel = cache.integer_attention() ? tbl.attend_int : tbl.attend_float;
  const int32_t hd = hp.head_dim, dim = cache.layout().dim, sf = state_floats(dim);
  const int64_t qd = hp.q_dim();
  const int32_t group = hp.n_head / hp.n_head_kv;  // query heads per KV head
  const int32_t n_kv = n_past + static_cast<int32_t>(n);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // One kernel call: up to kAttnMaxRows rows = `hpc` heads of one group × up to `tpc` tokens.
  // KIVI: a call's tokens share one window start (kv_window_start of their visible length), so
  // token blocks also end where it moves (every tgroup positions).
  const int32_t hpc = std::min(group, cpu::kAttnMaxRows);
  const int32_t tpc = std::max(1, cpu::kAttnMaxRows / hpc);
  const int32_t head_blocks = (group + hpc - 1) / hpc;
  const bool kivi = cache.layout().k_per_channel;
  const int32_t tg = cache.layout().tgroup;
  std::vector<int32_t> tok_start = {0};  // token blocks [tok_start[i], tok_start[i + 1])
  for (int32_t t = 1; t < n; ++t) {
    const bool full = t - tok_start.back() == tpc;
    const bool moves = kivi && (n_past + t + 1) % tg == 0;  // token t sees one more group quantized
    if (full || moves) tok_start.push_back(t);
  }
  tok_start.push_back(static_cast<int32_t>(n));
  const auto tok_blocks = static_cast<int32_t>(tok_start.size() - 1);
  const int64_t base_items = static_cast<int64_t>(hp.n_head_kv) * head_blocks * tok_blocks;
  // Split positions into chunks when there are too few items to keep every thread busy.
  const int32_t threads = omp_get_max_threads();
  int32_t chunks = 1;
  if (base_items < 2 * threads) {
    const int32_t by_len = std::max(1, n_kv / kMinChunk);
    const auto by_room = static_cast<int32_t>(std::max<int64_t>(1, kMaxChunks / n));  // scratch holds 64 rows' worth
    chunks = std::min({static_cast<int32_t>((2 * threads + base_items - 1) / base_items), by_len, by_room, kMaxChunks});
  }
  const int32_t chunk_len = (n_kv + chunks - 1) / chunks;
  const int32_t step = (chunk_len + cpu::kAttnTile - 1) / cpu::kAttnTile * cpu::kAttnTile;
  const int32_t cache_chunks = (n_kv + step - 1) / step;
  // A q4 cache's sink: positions [0, sink) come from its fp16 copy as one more chunk (the last),
  // and the cache chunks start at sink (a multiple of kAttnTile, as the kernels need).
  const int32_t sink = cache.sink();
  chunks = cache_chunks + (sink > 0 ? 1 : 0);
  // State of (token t, query head h, chunk c) at scratch + ((t·n_head + h)·chunks + c)·sf.
  auto state_at = [&](int64_t t, int32_t h, int32_t c) {
    return scratch + ((t * hp.n_head + h) * chunks + c) * static_cast<int64_t>(sf);
  };

  const int64_t items = base_items * chunks;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t it = 0; it < items; ++it) {
    const auto c = static_cast<int32_t>(it % chunks);
    int64_t rest = it / chunks;
    const auto tb = static_cast<int32_t>(rest % tok_blocks);
    rest /= tok_blocks;
    const auto hb = static_cast<int32_t>(rest % head_blocks);
    const auto hk = static_cast<int32_t>(rest / head_blocks);
    const int32_t t0 = tok_start[static_cast<size_t>(tb)], t1 = tok_start[static_cast<size_t>(tb) + 1];
    cpu::AttnRow rows[cpu::kAttnMaxRows];
    cpu::AttnState st[cpu::kAttnMaxRows];
    int32_t nr = 0;
    const int32_t h0 = hk * group + hb * hpc, h1 = std::min(hk * group + group, h0 + hpc);
    for (int32_t t = t0; t < t1; ++t)
      for (int32_t h = h0; h < h1; ++h) {
        rows[nr] = {q + t * qd + static_cast<int64_t>(h) * hd, n_past + t + 1};
        st[nr].o = state_at(t, h, c) + 2;
        ++nr;
      }
    // Decode finds its window in the cache; a batch's queries in the staged copy.
    if (c == cache_chunks) {  // the sink (float path on its fp16 copy)
      tbl.attend_float(cache.sink_head(layer, hk), rows, nr, 0, sink, scale, st);
    } else {
      const cpu::KvHead kv = kivi && n > 1
                                 ? cache.batch_head(layer, hk, n_past, cpu::kv_window_start(cache.layout(), n_past + t1))
                                 : cache.head(layer, hk, n_kv);
      kernel(kv, rows, nr, std::max(c * step, sink), (c + 1) * step, scale, st);
    }
    nr = 0;
    for (int32_t t = t0; t < t1; ++t)
      for (int32_t h = h0; h < h1; ++h) {
        float* s = state_at(t, h, c);
        s[0] = st[nr].m;
        s[1] = st[nr].l;
        ++nr;
      }
  }

  // Merge the chunks of every (token, head): o = Σ_c o_c·e^(m_c − m), l likewise; out = o / l.
#pragma omp parallel for schedule(static) if (n > 1)
  for (int64_t t = 0; t < n; ++t) {
    for (int32_t h = 0; h < hp.n_head; ++h) {
      float m = -INFINITY;
      for (int32_t c = 0; c < chunks; ++c) {
        const float* s = state_at(t, h, c);
        if (s[1] > 0.0f) m = std::max(m, s[0]);
      }
      float* o = out + t * qd + static_cast<int64_t>(h) * hd;
      std::fill_n(o, hd, 0.0f);
      float l = 0.0f;
      for (int32_t c = 0; c < chunks; ++c) {
        const float* s = state_at(t, h, c);
        if (!(s[1] > 0.0f)) continue;
        const float w = chunks == 1 ? 1.0f : std::exp(s[0] - m);
        l += s[1] * w;
        for (int32_t e = 0; e < hd; ++e) o[e] += s[2 + e] * w;
      }
      const float inv = 1.0f / l;
      for (int32_t e = 0; e < hd; ++e) o[e] *= inv;
    }
  }
}

}  // namespace qe
