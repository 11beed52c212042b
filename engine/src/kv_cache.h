// KV cache: per-layer keys and values for every position of one sequence, in one storage type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "cpu/attn.h"

namespace qe {

// How attention reads a quantized cache (float caches always take the float path).
enum class AttnMode { kDefault, kFloat, kInt };

struct KvParams {
  cpu::KvType type = cpu::KvType::kF16;
  int32_t group = 32;          // Q4: dimensions per scale group; KIVI: positions per key group
  bool k_per_channel = false;  // Q4 keys per channel (KIVI)
  AttnMode attn = AttnMode::kDefault;
};

// Positions are addressed by (layer, position) as before; inside, each (layer, KV head) owns a
// run of 16-position blocks in the layout of cpu/attn.h. A position is quantized once, when it is
// written; positions >= the sequence length are garbage that later writes overwrite.
class KvCache {
 public:
  KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, int32_t n_ctx, const KvParams& p);

  int32_t n_ctx() const { return n_ctx_; }
  int32_t kv_dim() const { return n_head_kv_ * lay_.head_dim; }
  const cpu::KvLayout& layout() const { return lay_; }
  const KvParams& params() const { return p_; }
  // The integer path reads this cache (a q8/q4 cache, unless attention is forced to float).
  bool integer_attention() const;

  // The kernels' view of (layer, KV head h) when positions [0, n_kv) are written.
  cpu::KvHead head(int32_t layer, int32_t h, int32_t n_kv) const;
  // Q4 keeps the first kSinkPositions positions in fp16 as well ("attention sinks": the first
  // tokens draw a large share of every query's attention, so their 4-bit error weighs most);
  // attention reads positions [0, sink()) from sink_head and the rest from head. 0: no sink.
  static constexpr int32_t kSinkPositions = cpu::kAttnTile;
  int32_t sink() const { return sink_; }
  cpu::KvHead sink_head(int32_t layer, int32_t h) const;
  // KIVI prompt batches. The cache's windows hold the last queries' windows only; earlier
  // queries of a batch must see theirs too (as decode would have). Before a batch of n
  // positions from n_past is written to `layer`, stage_batch copies the windows' rows
  // [kv_window_start(n_past), n_past) and the batch's own rows (k, v: (n, kv_dim)) as fp16 into
  // the batch window; batch_head is then the view for queries whose window starts at n_q.
  void stage_batch(int32_t n_past, const float* k, const float* v, int64_t n, int32_t layer);
  cpu::KvHead batch_head(int32_t layer, int32_t h, int32_t n_past, int32_t n_q) const;
  // Stores position pos of `layer`: k, v are (kv_dim) rows, head after head. Positions must be
  // written in order within a layer (KIVI closes a key group at its last position).
  void write(int32_t layer, int32_t pos, const float* k, const float* v);
  // The sequence shrinks from n_past to n_keep positions: KIVI groups that move back into the
  // fp16 windows (kv_window_start) are decoded there, so the next writes can complete them.
  void truncate(int32_t n_keep, int32_t n_past);

  uint64_t bytes() const {
    return static_cast<uint64_t>(k_.size() + v_.size() + kc_.size() + sink_k_.size() + sink_v_.size()) +
           (win_k_.size() + win_v_.size()) * 2;
  }
  // Cache bytes per position of context over all layers (the fixed parts, the KIVI windows'
  // n_layer · n_head_kv · win_rows and the sink's kSinkPositions fp16 keys and values, are not
  // included).
  static double bytes_per_token(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, const KvParams& p);

 private:
  size_t head_index(int32_t layer, int32_t h) const { return static_cast<size_t>(layer) * n_head_kv_ + h; }
  int32_t n_layer_, n_head_kv_, n_ctx_, cap_;
  KvParams p_;
  cpu::KvLayout lay_;
  std::vector<uint8_t> k_;       // (layer, head_kv, cap / 16, k_block_bytes)
  std::vector<uint8_t> v_;       // (layer, head_kv, cap / 16, v_block_bytes)
  std::vector<uint8_t> kc_;      // KIVI: (layer, head_kv, cap / tgroup, kc_bytes)
  std::vector<uint16_t> win_k_;  // KIVI: (layer, head_kv, win_rows, dim) fp16 keys of recent positions
  std::vector<uint16_t> win_v_;  // KIVI: (layer, head_kv, win_rows, dim) fp16 values of the same
  std::vector<uint16_t> batch_k_, batch_v_;  // KIVI: (head_kv, batch_rows_, dim) staged batch windows
  int32_t sink_ = 0;
  cpu::KvLayout sink_lay_;                   // F16
  std::vector<uint8_t> sink_k_, sink_v_;     // (layer, head_kv, sink_ / 16, block bytes)
  int32_t batch_rows_ = 0;
};

}  // namespace qe
