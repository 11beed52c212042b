// Every compiled ops table against plain double-precision loops.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cpu/dispatch.h"
#include "cpu/ops.h"

namespace qe::cpu {
namespace {

std::vector<const OpsTable*> tables() {
  std::vector<const OpsTable*> v = {ops_generic()};
  if (isa_usable(Isa::kAvx2) && ops_avx2() != nullptr) v.push_back(ops_avx2());
  if (isa_usable(Isa::kAvx512) && ops_avx512() != nullptr) v.push_back(ops_avx512());
  if (isa_usable(Isa::kNeon) && ops_neon() != nullptr) v.push_back(ops_neon());
  return v;
}

std::vector<float> randv(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Ops, MatchDoubleLoops) {
  for (const OpsTable* t : tables()) {
    for (int64_t n : {1, 3, 15, 16, 17, 64, 100, 576, 2048, 5000}) {
      SCOPED_TRACE("n=" + std::to_string(n));
      const auto a = randv(n, 1), b = randv(n, 2), w = randv(n, 3);
      double dot = 0, mag = 0, ss = 0;
      for (int64_t i = 0; i < n; ++i) {
        dot += static_cast<double>(a[i]) * b[i];
        mag += std::fabs(static_cast<double>(a[i]) * b[i]);
        ss += static_cast<double>(a[i]) * a[i];
      }
      EXPECT_NEAR(t->dot(a.data(), b.data(), n), dot, 1e-6 * mag + 1e-30);

      std::vector<float> out(static_cast<size_t>(n));
      t->rmsnorm(out.data(), a.data(), w.data(), n, 1e-5f);
      const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + 1e-5);
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(out[i], a[i] * inv * w[i], 1e-5 * (std::fabs(a[i] * inv * w[i]) + 1e-3));

      std::vector<float> g = a;
      t->swiglu(g.data(), b.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = a[i] / (1.0 + std::exp(-static_cast<double>(a[i]))) * b[i];
        ASSERT_NEAR(g[i], want, 2e-6 * std::fabs(want) + 1e-7);
      }

      std::vector<float> e = randv(n, 4, 10.0f);
      const float mx = t->max(e.data(), n);
      double want_mx = e[0], sum = 0;
      for (float x : e) want_mx = std::max(want_mx, static_cast<double>(x));
      EXPECT_EQ(mx, static_cast<float>(want_mx));
      std::vector<float> e0 = e;
      const float s = t->exp_sub_sum(e.data(), mx, n);
      for (int64_t i = 0; i < n; ++i) {
        const double want = std::exp(static_cast<double>(e0[i] - mx));  // the float difference is the input
        ASSERT_NEAR(e[i], want, 3e-7 * want + 1e-38);
        sum += want;
      }
      EXPECT_NEAR(s, sum, 1e-6 * sum);

      std::vector<float> y = b;
      t->axpy(0.5f, a.data(), y.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y[i], b[i] + 0.5f * a[i]);
      t->scale(2.0f, y.data(), n);
      t->add(y.data(), a.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_FLOAT_EQ(y[i], 2.0f * (b[i] + 0.5f * a[i]) + a[i]);
    }
  }
}

TEST(Ops, ExpHandlesTheRangeEnds) {
  for (const OpsTable* t : tables()) {
    std::vector<float> x = {-1000.0f, -100.0f, -87.5f, 0.0f, 1e-8f};
    t->exp_sub_sum(x.data(), 0.0f, static_cast<int64_t>(x.size()));
    EXPECT_LT(x[0], 1e-37f);
    EXPECT_LT(x[1], 1e-37f);
    EXPECT_GE(x[0], 0.0f);
    EXPECT_FLOAT_EQ(x[3], 1.0f);
    EXPECT_NEAR(x[4], 1.0f, 1e-7f);
  }
}

}  // namespace
}  // namespace qe::cpu
