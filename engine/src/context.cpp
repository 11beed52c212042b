// Context: chunked evaluation of token sequences against a KV cache.
#include "context.h"

#include <omp.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <new>
#include <vector>

namespace qe {

Context::Context(const Model& model, const ContextParams& p, int32_t n_ctx, int32_t n_threads)
    : model_(model),
      n_threads_(n_threads),
      n_batch_(std::min(p.n_batch, n_ctx)),
      cache_(model.hparams().n_layer, model.hparams().n_head_kv, model.hparams().head_dim, n_ctx, p.kv),
      scratch_(model.hparams(), std::min(p.n_batch, n_ctx), n_ctx, n_threads) {
  scratch_.act = p.act;
  if (p.rope_scaling > 1.0f) scratch_.rope_pos_scale = 1.0f / p.rope_scaling;
}

namespace {

// Binds OpenMP thread i of a team of n to the i-th CPU this process may run on, when there
// are at least n of them; a no-op otherwise.
void pin_threads(int32_t n) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  if (static_cast<int32_t>(cpus.size()) < n) return;
#pragma omp parallel num_threads(n)
  {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[static_cast<size_t>(omp_get_thread_num())], &one);
    pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  }
}

}  // namespace

Result<std::unique_ptr<Context>> Context::create(const Model& model, const ContextParams& p) {
  const HParams& hp = model.hparams();
  int32_t n_ctx = p.n_ctx;
  if (n_ctx < 0) return error(Code::kInvalidArgument, "context size " + std::to_string(n_ctx) + " is negative");
  if (n_ctx == 0) n_ctx = std::min(hp.n_ctx_train, 4096);
  if (!(p.rope_scaling == 0.0f || p.rope_scaling >= 1.0f) || !std::isfinite(p.rope_scaling) || p.rope_scaling > 64.0f) {
    return error(Code::kInvalidArgument, "RoPE scaling factor " + std::to_string(p.rope_scaling) +
                                             " must be 0 (none) or between 1 and 64");
  }
  const double reach = static_cast<double>(hp.n_ctx_train) * std::max(1.0f, p.rope_scaling);
  if (n_ctx > reach) {
    if (p.rope_scaling > 1.0f) {
      return error(Code::kInvalidArgument, "context size " + std::to_string(n_ctx) + " exceeds " +
                                               std::to_string(static_cast<int64_t>(reach)) +
                                               ", the model's trained context length " + std::to_string(hp.n_ctx_train) +
                                               " times the RoPE scaling factor");
    }
    return error(Code::kInvalidArgument, "context size " + std::to_string(n_ctx) +
                                             " exceeds the model's trained context length " +
                                             std::to_string(hp.n_ctx_train) +
                                             " (linear RoPE scaling by a factor of at least " +
                                             std::to_string((n_ctx + hp.n_ctx_train - 1) / hp.n_ctx_train) +
                                             " stretches it, at some cost in quality)");
  }
  if (hp.head_dim > cpu::kAttnMaxDim) {
    return error(Code::kUnsupported, "head dimension " + std::to_string(hp.head_dim) + " exceeds the attention "
                                         "kernels' limit of " + std::to_string(cpu::kAttnMaxDim));
  }
  if (p.n_batch <= 0) return error(Code::kInvalidArgument, "batch size must be positive");
  if (p.n_threads < 0) return error(Code::kInvalidArgument, "thread count must not be negative");
  const int32_t n_threads = p.n_threads > 0 ? p.n_threads : omp_get_num_procs();
  try {
    auto ctx = std::unique_ptr<Context>(new Context(model, p, n_ctx, n_threads));
    if (p.pin_threads) pin_threads(n_threads);
    ctx->tokens_.reserve(static_cast<size_t>(n_ctx));
    return ctx;
  } catch (const std::bad_alloc&) {
    return error(Code::kOutOfMemory,
                 "not enough memory for a context of " + std::to_string(n_ctx) + " tokens (KV cache needs " +
                     std::to_string(static_cast<uint64_t>(KvCache::bytes_per_token(hp.n_layer, hp.n_head_kv,
                                                                                    hp.head_dim, p.kv) * n_ctx) >> 20) +
                     " MiB)");
  }
}

Status Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  const HParams& hp = model_.hparams();
  if (tokens.empty()) return error(Code::kInvalidArgument, "no tokens to evaluate");
  for (int32_t t : tokens) {
    if (t < 0 || t >= hp.n_vocab) {
      return error(Code::kInvalidArgument,
                   "token id " + std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(hp.n_vocab) + ")");
    }
  }
  if (static_cast<int64_t>(n_past_) + static_cast<int64_t>(tokens.size()) > n_ctx()) {
    return error(Code::kContextFull, std::to_string(tokens.size()) + " tokens do not fit: " + std::to_string(n_past_) +
                                         " of the " + std::to_string(n_ctx()) +
                                         "-token context are used (raise it with -c)");
  }
  const auto n = static_cast<int32_t>(tokens.size());
  n_logits_ = all_logits ? n : 1;
  logits_.resize(static_cast<size_t>(n_logits_) * hp.n_vocab);
  omp_set_num_threads(n_threads_);
  for (int32_t i = 0; i < n; i += n_batch_) {
    const int32_t len = std::min(n_batch_, n - i);
    const bool last_chunk = i + len == n;
    // Logits go straight to their rows; chunks before the last need none when !all_logits.
    float* out = all_logits ? &logits_[static_cast<size_t>(i) * hp.n_vocab] : (last_chunk ? logits_.data() : nullptr);
    forward(model_, cache_, scratch_, tokens.subspan(i, len), n_past_, all_logits, out);
    n_past_ += len;
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  return {};
}

const float* Context::logits(int32_t i) const {
  if (n_logits_ == 0) return nullptr;
  if (i < 0) i = n_logits_ - 1;
  if (i >= n_logits_) return nullptr;
  return &logits_[static_cast<size_t>(i) * model_.hparams().n_vocab];
}

Status Context::fill_synthetic(int32_t n, uint64_t seed) {
  if (n < 0 || static_cast<int64_t>(n_past_) + n > n_ctx()) {
    return error(Code::kContextFull, std::to_string(n) + " synthetic positions do not fit: " + std::to_string(n_past_) +
                                         " of the " + std::to_string(n_ctx()) + "-token context are used");
  }
  const HParams& hp = model_.hparams();
  const int32_t kvd = hp.kv_dim();
  omp_set_num_threads(n_threads_);
#pragma omp parallel for schedule(static)
  for (int32_t l = 0; l < hp.n_layer; ++l) {
    std::vector<float> k(static_cast<size_t>(kvd)), v(static_cast<size_t>(kvd));
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(l) + 1;
    // Uniform on [-√3, √3] (unit variance) from a 64-bit xorshift: cheap, and values are all a
    // timing run needs.
    auto next = [&x] {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      return static_cast<float>(static_cast<double>(x >> 11) * 0x1p-53 * 3.4641016151377544 - 1.7320508075688772);
    };
    for (int32_t p = n_past_; p < n_past_ + n; ++p) {
      for (int32_t i = 0; i < kvd; ++i) {
        k[static_cast<size_t>(i)] = next();
        v[static_cast<size_t>(i)] = next();
      }
      cache_.write(l, p, k.data(), v.data());
    }
  }
  n_past_ += n;
  tokens_.insert(tokens_.end(), static_cast<size_t>(n), -1);
  n_logits_ = 0;
  return {};
}

Status Context::truncate(int32_t n_keep) {
  if (n_keep < 0 || n_keep > n_past_) {
    return error(Code::kInvalidArgument, "cannot keep " + std::to_string(n_keep) + " of " + std::to_string(n_past_) + " positions");
  }
  cache_.truncate(n_keep, n_past_);
  n_past_ = n_keep;
  tokens_.resize(static_cast<size_t>(n_keep));
  n_logits_ = 0;
  return {};
}

}  // namespace qe
