// The int8-activation mode against the fp32-activation mode on a real model: next-token
// distributions over English text must stay close (mean KL-divergence, top-1 agreement).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qengine/qengine.hpp"
#include "test_env.h"

namespace {

// log-softmax of one row, in double.
std::vector<double> log_softmax(const float* x, int32_t n) {
  double mx = x[0];
  for (int32_t i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  const double lse = mx + std::log(sum);
  std::vector<double> out(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = x[i] - lse;
  return out;
}

int32_t argmax(const float* x, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  return best;
}

std::string english_text() {
  // WikiText-2 when present (the standard text), else a fixed paragraph.
  const std::string wiki = qe::test::testdata_dir() + "/text/wikitext-2-test.raw";
  std::ifstream in(wiki);
  if (in) {
    std::string s(16384, '\0');
    in.read(s.data(), static_cast<std::streamsize>(s.size()));
    s.resize(static_cast<size_t>(in.gcount()));
    return s;
  }
  std::string s;
  for (int i = 0; i < 40; ++i) {
    s += "The river carried water from the mountains to the sea, shaping the valleys and feeding the towns that "
         "grew along its banks. Farmers relied on its floods, traders on its currents, and children on its quiet "
         "pools in the long summer afternoons. ";
  }
  return s;
}

struct Agreement {
  double mean_kld = 0, top1 = 0;
};

// Next-token distributions of mode `b` against mode `a` over 512 positions of English text.
Agreement compare_modes(const qengine::Model& m, const qe_context_params& a, const qe_context_params& b) {
  std::vector<int32_t> toks = m.tokenize(english_text(), true);
  EXPECT_GE(toks.size(), 513u);
  toks.resize(513);  // 512 predicted positions
  const int32_t n_vocab = m.describe().n_vocab;
  qengine::Context ca(m, a), cb(m, b);
  ca.eval(toks, true);
  cb.eval(toks, true);
  double kld_sum = 0;
  int agree = 0;
  const int n = 512;
  for (int i = 0; i < n; ++i) {
    const std::vector<double> la = log_softmax(ca.logits(i), n_vocab), lb = log_softmax(cb.logits(i), n_vocab);
    double kld = 0;
    for (int32_t v = 0; v < n_vocab; ++v) kld += std::exp(la[static_cast<size_t>(v)]) * (la[static_cast<size_t>(v)] - lb[static_cast<size_t>(v)]);
    kld_sum += kld;
    agree += argmax(ca.logits(i), n_vocab) == argmax(cb.logits(i), n_vocab);
  }
  return {kld_sum / n, static_cast<double>(agree) / n};
}

qe_context_params base_params() {
  qe_context_params p = qe_context_default_params();
  p.n_ctx = 1024;
  p.act = QE_ACT_F32;
  p.kv = QE_KV_F16;
  p.attn = QE_ATTN_FLOAT;
  return p;
}

TEST(ActModes, Q8StaysCloseToF32OnSmolLM2) {
  const std::string path = qe::test::default_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing default model " << path << " (scripts/fetch-model.sh)";
  qengine::Model m(path);
  qe_context_params pq = base_params();
  pq.act = QE_ACT_Q8;
  const Agreement r = compare_modes(m, base_params(), pq);
  std::printf("q8 vs f32 over 512 tokens: mean KLD %.6f, top-1 agreement %.2f%%\n", r.mean_kld, 100.0 * r.top1);
  EXPECT_LE(r.mean_kld, 0.01);
  EXPECT_GE(r.top1, 0.98);
  RecordProperty("top1_agreement", std::to_string(r.top1));
}

// The quantized KV caches (integer attention) against f16 with float attention: the issue's
// bounds on mean KL-divergence, measured here over 512 tokens.
TEST(KvModes, QuantizedCachesStayCloseToF16OnSmolLM2) {
  const std::string path = qe::test::default_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing default model " << path << " (scripts/fetch-model.sh)";
  qengine::Model m(path);
  qe_context_params p8 = base_params(), p4 = base_params();
  p8.kv = QE_KV_Q8;
  p8.attn = QE_ATTN_INT;
  p4.kv = QE_KV_Q4;
  p4.attn = QE_ATTN_INT;
  const Agreement r8 = compare_modes(m, base_params(), p8), r4 = compare_modes(m, base_params(), p4);
  std::printf("kv q8 vs f16: mean KLD %.6f, top-1 %.2f%%; kv q4: mean KLD %.6f, top-1 %.2f%%\n", r8.mean_kld,
              100.0 * r8.top1, r4.mean_kld, 100.0 * r4.top1);
  EXPECT_LE(r8.mean_kld, 0.002);
  EXPECT_LE(r4.mean_kld, 0.03);
  EXPECT_GE(r8.top1, 0.97);
  EXPECT_GE(r4.top1, 0.95);
}

}  // namespace
