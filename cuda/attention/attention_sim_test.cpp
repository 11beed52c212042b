// attention_sim_test.cpp: decode attention over an fp16 cache on the SIMT simulator against a
// double-precision reference (softmax(q K^T scale) V with the cache's fp16 values).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "attention/attention.h"
#include "format/qe_format.h"

namespace qe::cuda {
namespace {

struct Case {
  int n_heads, n_kv_heads, head_dim, n_kv;
};

// Keys with a few large channels (scores far apart: the softmax is sharp) and values of mixed
// sign; positions past n_kv hold NaN, which a kernel that reads them would propagate.
void run_case(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int D = c.head_dim, n_ctx = c.n_kv + 17;
  std::vector<float> q(size_t(c.n_heads) * D);
  for (float& x : q) x = nd(rng);
  std::vector<uint16_t> k(size_t(c.n_kv_heads) * n_ctx * D, 0x7E00), v(k.size(), 0x7E00);  // NaN beyond n_kv
  for (int h = 0; h < c.n_kv_heads; ++h)
    for (int p = 0; p < c.n_kv; ++p)
      for (int d = 0; d < D; ++d) {
        const size_t i = (size_t(h) * n_ctx + size_t(p)) * D + size_t(d);
        k[i] = qe_fp32_to_fp16(nd(rng) * (d % 17 == 0 ? 4.0f : 1.0f));
        v[i] = qe_fp32_to_fp16(nd(rng));
      }
  const float scale = 1.0f / std::sqrt(float(D));
  std::vector<float> out(size_t(c.n_heads) * D, std::nanf("")),
      scratch(attn_decode_scratch_floats(c.n_heads, D, c.n_kv));
  AttnDecodeArgs a;
  a.q = q.data();
  a.k = k.data();
  a.v = v.data();
  a.n_heads = c.n_heads;
  a.n_kv_heads = c.n_kv_heads;
  a.head_dim = D;
  a.n_ctx = n_ctx;
  a.n_kv = c.n_kv;
  a.scale = scale;
  a.out = out.data();
  a.scratch = scratch.data();
  ASSERT_EQ(attn_decode_sim(a), "");
  const int group = c.n_heads / c.n_kv_heads;
  for (int h = 0; h < c.n_heads; ++h) {
    const int kvh = h / group;
    std::vector<double> s(size_t(c.n_kv));
    double mx = -1e300;
    for (int p = 0; p < c.n_kv; ++p) {
      double dot = 0;
      for (int d = 0; d < D; ++d)
        dot += double(q[size_t(h) * D + size_t(d)]) *
               qe_fp16_to_fp32(k[(size_t(kvh) * n_ctx + size_t(p)) * D + size_t(d)]);
      s[size_t(p)] = dot * scale;
      mx = std::max(mx, s[size_t(p)]);
    }
    double l = 0;
    for (double& x : s) l += (x = std::exp(x - mx));
    for (int d = 0; d < D; ++d) {
      double o = 0, mag = 0;
      for (int p = 0; p < c.n_kv; ++p) {
        const double vv = qe_fp16_to_fp32(v[(size_t(kvh) * n_ctx + size_t(p)) * D + size_t(d)]);
        o += s[size_t(p)] * vv;
        mag += s[size_t(p)] * std::fabs(vv);
      }
      const float got = out[size_t(h) * D + size_t(d)];
      ASSERT_TRUE(std::isfinite(got)) << "head " << h << " dim " << d;
      ASSERT_NEAR(got, o / l, 2e-5 * mag / l + 1e-6) << "heads " << c.n_heads << "/" << c.n_kv_heads << " D " << D
                                                     << " n_kv " << c.n_kv << " head " << h << " dim " << d;
    }
  }
}

// Contexts around the chunk (128) and warp (32) edges, every head dimension, MHA and GQA groups
// 3 (SmolLM2), 4 (Llama 3), 7 (Qwen2 0.5B) and 8.
TEST(AttentionSim, DecodeF16MatchesTheReference) {
  const Case cases[] = {{3, 1, 64, 1},   {9, 3, 64, 31},   {4, 4, 128, 33},   {8, 2, 128, 129},
                        {7, 1, 64, 257}, {8, 1, 256, 100}, {32, 8, 128, 300}, {2, 1, 128, 4097}};
  uint32_t seed = 1;
  for (const Case& c : cases) run_case(c, seed++);
}

TEST(AttentionSim, RejectsBadShapesWithAMessage) {
  AttnDecodeArgs a;
  EXPECT_NE(attn_decode_sim(a).find("n_heads"), std::string::npos);
  a.n_heads = 4;
  a.n_kv_heads = 2;
  a.head_dim = 96;
  EXPECT_NE(attn_decode_sim(a).find("head_dim"), std::string::npos);
  a.head_dim = 64;
  a.n_ctx = 10;
  a.n_kv = 11;
  EXPECT_NE(attn_decode_sim(a).find("n_kv"), std::string::npos);
  a.n_heads = 18;
  EXPECT_NE(attn_decode_sim(a).find("1-8 times"), std::string::npos);
}

}  // namespace
}  // namespace qe::cuda
