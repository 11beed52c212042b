// KV cache storage: allocation per (layer, KV head), writes through the cpu codec, truncation.
#include "kv_cache.h"

#include <algorithm>

#include "format/qe_format.h"
#include "status.h"

namespace qe {

KvCache::KvCache(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, int32_t n_ctx, const KvParams& p)
    : n_layer_(n_layer), n_head_kv_(n_head_kv), n_ctx_(n_ctx), p_(p),
      lay_(cpu::kv_layout(p.type, head_dim, p.group, p.k_per_channel)) {
  QE_CHECK(head_dim <= cpu::kAttnMaxDim);
  // Whole blocks, and whole KIVI token groups.
  const int32_t unit = std::max(cpu::kKvBlock, lay_.tgroup);
  cap_ = (n_ctx + unit - 1) / unit * unit;
  const size_t heads = static_cast<size_t>(n_layer) * n_head_kv;
  const size_t blocks = static_cast<size_t>(cap_ / cpu::kKvBlock);
  // Zero-filled: the kernels read whole blocks, and unwritten lanes must hold finite numbers.
  k_.assign(heads * blocks * lay_.k_block_bytes, 0);
  v_.assign(heads * blocks * lay_.v_block_bytes, 0);
  if (lay_.k_per_channel) {
    kc_.assign(heads * static_cast<size_t>(cap_ / lay_.tgroup) * lay_.kc_bytes, 0);
    win_k_.assign(heads * static_cast<size_t>(lay_.win_rows) * lay_.dim, 0);
    win_v_.assign(win_k_.size(), 0);
  }
  if (lay_.type == cpu::KvType::kQ4) {
    sink_ = kSinkPositions;
    sink_lay_ = cpu::kv_layout(cpu::KvType::kF16, head_dim, 32, false);
    const size_t sink_blocks = static_cast<size_t>(sink_ / cpu::kKvBlock);
    sink_k_.assign(heads * sink_blocks * sink_lay_.k_block_bytes, 0);
    sink_v_.assign(heads * sink_blocks * sink_lay_.v_block_bytes, 0);
  }
}

cpu::KvHead KvCache::sink_head(int32_t layer, int32_t h) const {
  QE_CHECK(sink_ > 0);
  const size_t i = head_index(layer, h), blocks = static_cast<size_t>(sink_ / cpu::kKvBlock);
  cpu::KvHead v;  // const_casts as in head()
  v.lay = &sink_lay_;
  v.k = const_cast<uint8_t*>(sink_k_.data()) + i * blocks * sink_lay_.k_block_bytes;
  v.v = const_cast<uint8_t*>(sink_v_.data()) + i * blocks * sink_lay_.v_block_bytes;
  return v;
}

bool KvCache::integer_attention() const {
  const bool quantized = lay_.type == cpu::KvType::kQ8 || lay_.type == cpu::KvType::kQ4;
  return quantized && p_.attn != AttnMode::kFloat;
}

cpu::KvHead KvCache::head(int32_t layer, int32_t h, int32_t n_kv) const {
  const size_t i = head_index(layer, h);
  const size_t blocks = static_cast<size_t>(cap_ / cpu::kKvBlock);
  // The kernels take mutable pointers (the codec writes through the same view); the cache's
  // storage is owned mutable here, so the const_casts only undo this method's const.
  cpu::KvHead v;
  v.lay = &lay_;
  v.k = const_cast<uint8_t*>(k_.data()) + i * blocks * lay_.k_block_bytes;
  v.v = const_cast<uint8_t*>(v_.data()) + i * blocks * lay_.v_block_bytes;
  if (lay_.k_per_channel) {
    v.kc = const_cast<uint8_t*>(kc_.data()) + i * static_cast<size_t>(cap_ / lay_.tgroup) * lay_.kc_bytes;
    const size_t win = i * static_cast<size_t>(lay_.win_rows) * lay_.dim;
    v.win_k = const_cast<uint16_t*>(win_k_.data()) + win;
    v.win_v = const_cast<uint16_t*>(win_v_.data()) + win;
    v.win_rows = lay_.win_rows;
    v.n_q = cpu::kv_window_start(lay_, n_kv);
  }
  return v;
}

void KvCache::stage_batch(int32_t n_past, const float* k, const float* v, int64_t n, int32_t layer) {
  const int32_t dim = lay_.dim, hd = lay_.head_dim, base = cpu::kv_window_start(lay_, n_past);
  const auto rows = static_cast<int32_t>(n_past - base + n);
  if (rows > batch_rows_) {
    batch_rows_ = rows;
    batch_k_.assign(static_cast<size_t>(n_head_kv_) * rows * dim, 0);
    batch_v_.assign(batch_k_.size(), 0);
  }
  for (int32_t h = 0; h < n_head_kv_; ++h) {
    const cpu::KvHead ring = head(layer, h, n_past);
    uint16_t* bk = batch_k_.data() + static_cast<size_t>(h) * batch_rows_ * dim;
    uint16_t* bv = batch_v_.data() + static_cast<size_t>(h) * batch_rows_ * dim;
    for (int32_t p = base; p < n_past; ++p) {
      const size_t from = static_cast<size_t>(p % ring.win_rows) * dim, to = static_cast<size_t>(p - base) * dim;
      std::copy_n(ring.win_k + from, dim, bk + to);
      std::copy_n(ring.win_v + from, dim, bv + to);
    }
    for (int64_t t = 0; t < n; ++t) {
      const size_t to = static_cast<size_t>(n_past - base + t) * dim;
      const float* kr = k + t * n_head_kv_ * hd + h * hd;
      const float* vr = v + t * n_head_kv_ * hd + h * hd;
      for (int32_t i = 0; i < dim; ++i) {
        bk[to + i] = qe_fp32_to_fp16(i < hd ? kr[i] : 0.0f);
        bv[to + i] = qe_fp32_to_fp16(i < hd ? vr[i] : 0.0f);
      }
    }
  }
}

cpu::KvHead KvCache::batch_head(int32_t layer, int32_t h, int32_t n_past, int32_t n_q) const {
  cpu::KvHead v = head(layer, h, n_past);
  const int32_t dim = lay_.dim;
  v.win_k = const_cast<uint16_t*>(batch_k_.data()) + static_cast<size_t>(h) * batch_rows_ * dim;
  v.win_v = const_cast<uint16_t*>(batch_v_.data()) + static_cast<size_t>(h) * batch_rows_ * dim;
  v.win_base = cpu::kv_window_start(lay_, n_past);
  v.win_rows = batch_rows_;
  v.n_q = n_q;
  return v;
}

void KvCache::write(int32_t layer, int32_t pos, const float* k, const float* v) {
  QE_CHECK(pos >= 0 && pos < n_ctx_);
  const int32_t hd = lay_.head_dim;
  for (int32_t h = 0; h < n_head_kv_; ++h) {
    const cpu::KvHead kv = head(layer, h, pos);
    cpu::kv_store(kv, pos, k + h * hd, v + h * hd);
    if (pos < sink_) cpu::kv_store(sink_head(layer, h), pos, k + h * hd, v + h * hd);
    // KIVI: the write that fills the windows quantizes their oldest group.
    if (const int32_t g = cpu::kv_group_to_close(lay_, pos); g >= 0) cpu::kv_close_group(kv, g);
  }
}

void KvCache::truncate(int32_t n_keep, int32_t n_past) {
  if (!lay_.k_per_channel) return;
  const int32_t G = lay_.tgroup;
  const int32_t from = cpu::kv_window_start(lay_, n_keep), to = cpu::kv_window_start(lay_, n_past);
  // Groups [from, to) were quantized; the shorter sequence keeps them in the windows.
  for (int32_t g = from / G; g < to / G; ++g) {
    const int32_t n = std::min(G, n_keep - g * G);
    for (int32_t l = 0; l < n_layer_; ++l)
      for (int32_t h = 0; h < n_head_kv_; ++h) cpu::kv_reopen_group(head(l, h, n_past), g, n);
  }
}

double KvCache::bytes_per_token(int32_t n_layer, int32_t n_head_kv, int32_t head_dim, const KvParams& p) {
  const cpu::KvLayout lay = cpu::kv_layout(p.type, head_dim, p.group, p.k_per_channel);
  return cpu::kv_bytes_per_position(lay) * n_layer * n_head_kv;
}

}  // namespace qe
