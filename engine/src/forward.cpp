// Generic decoder forward pass: reads top to bottom like llama2.c's run.c; the arithmetic goes
// through the dispatched CPU kernels (matmuls) and vector ops (everything around them).
#include "forward.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>

#include "attention.h"
#include "cpu/dispatch.h"
#include "cpu/ops.h"
#include "ref/ref.h"

namespace qe {
namespace {

// Rotary position embedding on one head of `head_dim`, rotating the first n_rot dims.
// cs holds (cos, sin) per rotary pair for this position.
void rope_head(float* x, const float* cs, int32_t n_rot, models::RopeStyle style) {
  const int32_t half = n_rot / 2;
  for (int32_t i = 0; i < half; ++i) {
    // Normal style pairs neighbours (2i, 2i+1); NeoX pairs i with i + n_rot/2.
    const int32_t a = style == models::RopeStyle::kNormal ? 2 * i : i;
    const int32_t b = style == models::RopeStyle::kNormal ? 2 * i + 1 : i + half;
    const float c = cs[2 * i], s = cs[2 * i + 1];
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

// The matmul input changed: quantized copies are stale.
void new_input(ForwardScratch& s) {
  s.xq32_valid = s.xq256_valid = false;
  s.xq_src = nullptr;
}

// Int8 copy of x (batch, K) in `layout`, quantized once per input and layout.
const uint8_t* quantized(ForwardScratch& s, cpu::ActLayout layout, const float* x, int64_t batch, int64_t K) {
  if (s.xq_src != x) new_input(s);
  s.xq_src = x;
  const bool b32 = layout == cpu::ActLayout::kBlock32;
  uint8_t* buf = b32 ? s.xq32.data() : s.xq256.data();
  bool& valid = b32 ? s.xq32_valid : s.xq256_valid;
  if (!valid) {
    const cpu::KernelTable& k = cpu::kernels();
    const size_t rb = cpu::act_row_bytes(layout, K);
#pragma omp parallel for schedule(static) if (batch > 1)
    for (int64_t b = 0; b < batch; ++b) {
      if (b32) k.quantize_act32(x + b * K, reinterpret_cast<cpu::ActBlock32*>(buf + static_cast<size_t>(b) * rb), K);
      else k.quantize_act256(x + b * K, reinterpret_cast<qe_block_q8_K*>(buf + static_cast<size_t>(b) * rb), K);
    }
    valid = true;
  }
  return buf;
}

// One product of a matmul group: y (batch, w.rows) = x · wᵀ.
struct MatmulJob {
  const Matrix* w;
  float* y;
};

// The products of several matrices that read the same input x (batch, cols) -- q/k/v, gate/up --
// in one parallel region: the tiles of all of them are split over the threads by bytes read
// (static, balanced), so decode pays one fork/join per group instead of one per matrix.
void matmul(ForwardScratch& s, std::initializer_list<MatmulJob> jobs, const float* x, int64_t batch) {
  struct Part {
    const Matrix* w;
    float* y;
    const uint8_t* xq;  // quantized input for gemm_a8; nullptr: gemm_a16
    int64_t tiles, cost, first_tile, base;  // cost: bytes per tile; base: cost before this part
  };
  Part parts[4];
  int n_parts = 0;
  int64_t total = 0, total_tiles = 0;
  for (const MatmulJob& j : jobs) {
    QE_CHECK(n_parts < 4);
    const Matrix& w = *j.w;
    const cpu::MatmulKernels& k = w.kernels;
    const cpu::ActLayout layout = cpu::a8_layout(w.type);
    const bool a8 = s.act == ActMode::kQ8 && k.gemm_a8 != nullptr && layout != cpu::ActLayout::kNone;
    Part& p = parts[n_parts++];
    p = {&w, j.y, a8 ? quantized(s, layout, x, batch, w.cols) : nullptr, (w.rows + k.tile - 1) / k.tile,
         static_cast<int64_t>(k.tile) * static_cast<int64_t>(w.row_bytes), total_tiles, total};
    total += p.tiles * p.cost;
    total_tiles += p.tiles;
  }
  // Global index of the first tile that starts at or after cost position `pos`.
  auto tile_at = [&](int64_t pos) {
    for (int i = 0; i < n_parts; ++i) {
      const Part& p = parts[i];
      if (pos <= p.base + (p.tiles - 1) * p.cost) return p.first_tile + std::max<int64_t>(0, (pos - p.base + p.cost - 1) / p.cost);
    }
    return total_tiles;
  };
#pragma omp parallel
  {
    const int64_t n = omp_get_num_threads(), i = omp_get_thread_num();
    const int64_t g0 = tile_at(total * i / n), g1 = tile_at(total * (i + 1) / n);
    for (int j = 0; j < n_parts; ++j) {
      const Part& p = parts[j];
      const int64_t t0 = std::max(g0, p.first_tile) - p.first_tile, t1 = std::min(g1, p.first_tile + p.tiles) - p.first_tile;
      if (t0 >= t1) continue;
      const Matrix& w = *p.w;
      const cpu::MatmulKernels& k = w.kernels;
      const int64_t r0 = t0 * k.tile, r1 = std::min(w.rows, t1 * k.tile);
      if (p.xq != nullptr) k.gemm_a8(w.packed, w.rows, w.cols, r0, r1, p.xq, batch, p.y, w.rows);
      else k.gemm_a16(w.packed, w.rows, w.cols, r0, r1, x, batch, p.y, w.rows);
    }
  }
}

void add_bias(float* y, const std::vector<float>& b, int64_t batch) {
  if (b.empty()) return;
  const auto n = static_cast<int64_t>(b.size());
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < n; ++i) y[t * n + i] += b[static_cast<size_t>(i)];
}

}  // namespace

ForwardScratch::ForwardScratch(const HParams& hp, int32_t n_batch_, int32_t n_ctx, int32_t n_threads)
    : n_batch(n_batch_) {
  const auto b = static_cast<size_t>(n_batch_);
  x.resize(b * hp.n_embd);
  h.resize(b * hp.n_embd);
  q.resize(b * hp.q_dim());
  k.resize(b * hp.kv_dim());
  v.resize(b * hp.kv_dim());
  att.resize(b * hp.q_dim());
  o.resize(b * hp.n_embd);
  gate.resize(b * hp.n_ff);
  up.resize(b * hp.n_ff);
  scores.resize(attention_scratch_floats(hp, n_batch_));
  cos_sin.resize(b * hp.n_rot);
  const int64_t max_k = std::max({hp.n_embd, hp.q_dim(), hp.n_ff});
  xq32.resize(b * cpu::act_row_bytes(cpu::ActLayout::kBlock32, max_k / 32 * 32));
  xq256.resize(b * cpu::act_row_bytes(cpu::ActLayout::kBlock256, max_k / 256 * 256));
}

void forward(const Model& model, KvCache& cache, ForwardScratch& s, std::span<const int32_t> tokens,
             int32_t n_past, bool all_logits, float* logits) {
  const HParams& hp = model.hparams();
  const ModelWeights& w = model.weights();
  const auto n = static_cast<int64_t>(tokens.size());
  QE_CHECK(n > 0 && n <= s.n_batch && n_past + n <= cache.n_ctx());
  const int64_t d = hp.n_embd, hd = hp.head_dim, qd = hp.q_dim(), kvd = hp.kv_dim(), ff = hp.n_ff;

  // Token embeddings: x[t] = dequant(tok_embd row tokens[t]).
  for (int64_t t = 0; t < n; ++t) {
    const Matrix& e = w.tok_embd;
    ref::dequantize_row(e.type, e.data + static_cast<size_t>(tokens[t]) * e.row_bytes, &s.x[t * d], d);
  }

  // Rotary angles, computed in double: theta_i = pos * base^(-2i/n_rot) / freq_factor_i.
  const int32_t half = hp.n_rot / 2;
  for (int64_t t = 0; t < n; ++t) {
    const double pos = static_cast<double>(n_past + t) * s.rope_pos_scale;
    for (int32_t i = 0; i < half; ++i) {
      double theta = pos * std::pow(static_cast<double>(hp.rope_base), -2.0 * i / hp.n_rot);
      if (!w.rope_freqs.empty()) theta /= w.rope_freqs[static_cast<size_t>(i)];
      s.cos_sin[t * hp.n_rot + 2 * i] = static_cast<float>(std::cos(theta));
      s.cos_sin[t * hp.n_rot + 2 * i + 1] = static_cast<float>(std::sin(theta));
    }
  }

  const cpu::OpsTable& ops = cpu::ops();
  // out (n, d) = rmsnorm of each row of x (n, d) with weight wn (d).
  auto rmsnorm_rows = [&](float* out, const float* x, const std::vector<float>& wn, int64_t rows) {
#pragma omp parallel for schedule(static) if (rows > 1)
    for (int64_t t = 0; t < rows; ++t) ops.rmsnorm(out + t * d, x + t * d, wn.data(), d, hp.rms_eps);
  };

  for (int32_t l = 0; l < hp.n_layer; ++l) {
    const LayerWeights& lw = w.layers[static_cast<size_t>(l)];

    // Attention block: h = rmsnorm(x); q, k, v projections (+ bias); RoPE; cache write.
    rmsnorm_rows(s.h.data(), s.x.data(), lw.attn_norm, n);
    new_input(s);
    matmul(s, {{&lw.wq, s.q.data()}, {&lw.wk, s.k.data()}, {&lw.wv, s.v.data()}}, s.h.data(), n);
    add_bias(s.q.data(), lw.bq, n);
    add_bias(s.k.data(), lw.bk, n);
    add_bias(s.v.data(), lw.bv, n);
    for (int64_t t = 0; t < n; ++t) {
      const float* cs = &s.cos_sin[t * hp.n_rot];
      for (int32_t hq = 0; hq < hp.n_head; ++hq) rope_head(&s.q[t * qd + hq * hd], cs, hp.n_rot, model.arch().rope);
      for (int32_t hk = 0; hk < hp.n_head_kv; ++hk) rope_head(&s.k[t * kvd + hk * hd], cs, hp.n_rot, model.arch().rope);
    }
    kv_write(cache, l, n_past, s.k.data(), s.v.data(), n);

    attention(cache, hp, l, n_past, n, s.q.data(), s.att.data(), s.scores.data());
    new_input(s);
    matmul(s, {{&lw.wo, s.o.data()}}, s.att.data(), n);
    ops.add(s.x.data(), s.o.data(), n * d);

    // Feed-forward block: x += down(silu(gate(h)) * up(h)), h = rmsnorm(x).
    rmsnorm_rows(s.h.data(), s.x.data(), lw.ffn_norm, n);
    new_input(s);
    matmul(s, {{&lw.w_gate, s.gate.data()}, {&lw.w_up, s.up.data()}}, s.h.data(), n);
#pragma omp parallel for schedule(static) if (n > 1)
    for (int64_t t = 0; t < n; ++t) ops.swiglu(&s.gate[t * ff], &s.up[t * ff], ff);
    new_input(s);
    matmul(s, {{&lw.w_down, s.o.data()}}, s.gate.data(), n);
    ops.add(s.x.data(), s.o.data(), n * d);
  }

  // Logits for every token, or only the last (none when the caller passes no buffer).
  if (logits == nullptr) return;
  const int64_t first = all_logits ? 0 : n - 1;
  const int64_t m = n - first;
  rmsnorm_rows(s.h.data(), s.x.data() + first * d, w.output_norm, m);
  new_input(s);
  matmul(s, {{&w.output, logits}}, s.h.data(), m);
}

}  // namespace qe
