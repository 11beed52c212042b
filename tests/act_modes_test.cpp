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

TEST(ActModes, Q8StaysCloseToF32OnSmolLM2) {
  const std::string path = qe::test::default_model();
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "missing default model " << path << " (scripts/fetch-model.sh)";
  qengine::Model m(path);
  std::vector<int32_t> toks = m.tokenize(english_text(), true);
  ASSERT_GE(toks.size(), 513u);
  toks.resize(513);  // 512 predicted positions
  const int32_t n_vocab = m.describe().n_vocab;

  qe_context_params pf = qe_context_default_params();
  pf.n_ctx = 1024;
  pf.act = QE_ACT_F32;
  qe_context_params pq = pf;
  pq.act = QE_ACT_Q8;
  qengine::Context cf(m, pf), cq(m, pq);
  cf.eval(toks, true);
  cq.eval(toks, true);

  double kld_sum = 0;
  int agree = 0;
  const int n = 512;
  for (int i = 0; i < n; ++i) {
    const std::vector<double> lp = log_softmax(cf.logits(i), n_vocab), lq = log_softmax(cq.logits(i), n_vocab);
    double kld = 0;
    for (int32_t v = 0; v < n_vocab; ++v) kld += std::exp(lp[static_cast<size_t>(v)]) * (lp[static_cast<size_t>(v)] - lq[static_cast<size_t>(v)]);
    kld_sum += kld;
    const int32_t af = argmax(cf.logits(i), n_vocab), aq = argmax(cq.logits(i), n_vocab);
    agree += af == aq;
  }
  const double mean_kld = kld_sum / n, top1 = static_cast<double>(agree) / n;
  std::printf("q8 vs f32 over %d tokens: mean KLD %.6f, top-1 agreement %.2f%%\n", n, mean_kld, 100.0 * top1);
  EXPECT_LE(mean_kld, 0.01);
  // Top-1 agreement is reported, not asserted: the disagreements sit at near-ties (top-2 logit
  // gaps of 0.01-0.2) and the count moves by several points with which matmul stays in fp32
  // while the KL-divergence barely changes, so it is too noisy at 512 tokens to gate on.
  RecordProperty("top1_agreement", std::to_string(top1));
}

}  // namespace
