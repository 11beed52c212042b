// ops_sim_test.cpp: the small decode-step kernels on the SIMT simulator against the CPU ops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "cpu/ops.h"
#include "format/qe_format.h"
#include "ops/ops.h"

namespace qe::cuda {
namespace {

std::vector<float> randoms(size_t n, float scale, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = scale * nd(rng);
  return v;
}

// SwiGLU is elementwise: the kernel equals the CPU op bit for bit (the same exp polynomial and
// operations), including gates where the exp clamps (|g| > 87).
TEST(OpsSim, SwigluEqualsTheCpuOpBitForBit) {
  const int n = 1000, batch = 2;
  std::vector<float> gu = randoms(size_t(2 * n * batch), 6.0f, 1);
  gu[3] = 120.0f;
  gu[4] = -120.0f;
  gu[5] = 0.0f;
  std::vector<float> out(size_t(n * batch), std::nanf("")), half_f(out.size());
  std::vector<uint16_t> out16(out.size());
  ASSERT_EQ(swiglu_sim({gu.data(), n, batch, false, out.data()}), "");
  ASSERT_EQ(swiglu_sim({gu.data(), n, batch, true, out16.data()}), "");
  for (int b = 0; b < batch; ++b) {
    std::vector<float> gate(gu.begin() + 2L * n * b, gu.begin() + 2L * n * b + n);
    const float* up = gu.data() + 2L * n * b + n;
    cpu::ops_generic()->swiglu(gate.data(), up, n);
    for (int i = 0; i < n; ++i) {
      const float got = out[size_t(b * n + i)];
      ASSERT_EQ(std::memcmp(&got, &gate[size_t(i)], 4), 0)
          << "batch " << b << " i " << i << ": " << got << " vs " << gate[size_t(i)];
      ASSERT_EQ(out16[size_t(b * n + i)], qe_fp32_to_fp16(gate[size_t(i)])) << "fp16 out, i " << i;
    }
  }
}

// RMSNorm: the CPU's formula; only the sum of squares runs in another order, so the fp16
// outputs agree within one fp16 ulp (and nearly all exactly).
TEST(OpsSim, RmsNormMatchesTheCpuOp) {
  for (int n : {576, 4096, 37}) {
    const int batch = 3;
    const std::vector<float> x = randoms(size_t(n * batch), 3.0f, 2 + uint32_t(n));
    const std::vector<float> w = randoms(size_t(n), 1.0f, 3);
    std::vector<uint16_t> out(x.size(), 0xFFFF);
    ASSERT_EQ(rmsnorm_sim({x.data(), w.data(), n, batch, 1e-5f, out.data()}), "");
    int exact = 0;
    std::vector<float> ref(static_cast<size_t>(n));
    for (int b = 0; b < batch; ++b) {
      cpu::ops_generic()->rmsnorm(ref.data(), x.data() + size_t(b * n), w.data(), n, 1e-5f);
      for (int i = 0; i < n; ++i) {
        const uint16_t want = qe_fp32_to_fp16(ref[size_t(i)]), got = out[size_t(b * n + i)];
        exact += want == got;
        const float ulp = std::fabs(qe_fp16_to_fp32(uint16_t(want + 1)) - qe_fp16_to_fp32(want));
        ASSERT_LE(std::fabs(qe_fp16_to_fp32(got) - qe_fp16_to_fp32(want)), ulp)
            << "n " << n << " batch " << b << " i " << i;
      }
    }
    EXPECT_GT(exact, n * batch * 95 / 100) << "n " << n;
  }
}

TEST(OpsSim, AddIsExact) {
  std::vector<float> y = randoms(1000, 1.0f, 4), x = randoms(1000, 1.0f, 5), want = y;
  ASSERT_EQ(add_sim(y.data(), x.data(), 1000), "");
  for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], want[i] + x[i]);
}

// The CPU sampler's greedy rule, written out: lowest id among the largest; comparisons with NaN
// are false, so a NaN first logit is never beaten and later NaNs never win.
int32_t cpu_argmax(const float* l, int V) {
  int best = 0;
  for (int i = 1; i < V; ++i)
    if (l[i] > l[best]) best = i;
  return best;
}

TEST(OpsSim, ArgmaxFollowsTheSamplersRule) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<std::vector<float>> rows;
  rows.push_back(randoms(32000, 5.0f, 6));
  rows.push_back(randoms(1, 1.0f, 7));
  rows.push_back(randoms(257, 1.0f, 8));
  std::vector<float> ties = randoms(5000, 1.0f, 9);
  ties[4000] = ties[1234] = ties[3000] = 50.0f;  // three equal maxima: the lowest id wins
  rows.push_back(ties);
  std::vector<float> first_nan = randoms(3000, 1.0f, 10);
  first_nan[0] = nan;
  rows.push_back(first_nan);
  std::vector<float> later_nan = randoms(3000, 1.0f, 11);
  later_nan[77] = nan;
  later_nan[2999] = 9.0f;
  rows.push_back(later_nan);
  rows.push_back(std::vector<float>(600, -inf));
  for (size_t r = 0; r < rows.size(); ++r) {
    const int V = int(rows[r].size());
    int32_t id = -1;
    ASSERT_EQ(argmax_sim({rows[r].data(), V, 1, &id}), "");
    EXPECT_EQ(id, cpu_argmax(rows[r].data(), V)) << "row " << r;
  }
  // Batched: each row its own answer.
  std::vector<float> two(2 * 300);
  for (int i = 0; i < 600; ++i) two[size_t(i)] = float(i % 300 == (i < 300 ? 7 : 250));
  int32_t ids[2] = {-1, -1};
  ASSERT_EQ(argmax_sim({two.data(), 300, 2, ids}), "");
  EXPECT_EQ(ids[0], 7);
  EXPECT_EQ(ids[1], 250);
}

TEST(OpsSim, RejectsBadArgumentsWithAMessage) {
  EXPECT_NE(rmsnorm_sim({}).find("rmsnorm"), std::string::npos);
  EXPECT_NE(swiglu_sim({}).find("swiglu"), std::string::npos);
  EXPECT_NE(add_sim(nullptr, nullptr, 0).find("add"), std::string::npos);
  EXPECT_NE(argmax_sim({}).find("argmax"), std::string::npos);
}

}  // namespace
}  // namespace qe::cuda
