// gemv_a8_sim_test.cpp: the W8A8 / W4A8 kernels on the SIMT simulator against the CPU's A8
// specification (kernels/cpu/a8_spec.h): the quantized activations bit for bit, one-block rows
// bit for bit, longer rows up to the order in which block terms are added.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/a8_spec.h"
#include "gemv/gemv.h"
#include "gemv/repack.h"
#include "ref/ref.h"

namespace qe::cuda {
namespace {

// Host buffers for one act8 activation set.
struct Act8Host {
  std::vector<int8_t> q;
  std::vector<float> d, c;
  std::vector<int16_t> qsum;
  Act8Host(int batch, int K)
      : q(size_t(batch) * size_t(K)), d(size_t(batch) * size_t(K / 16)), c(d.size()), qsum(d.size()) {}
  Act8 view() { return {q.data(), d.data(), c.data(), qsum.data()}; }
};

// Activations with what trips quantizers: constant halves, zeros of both signs, one-sided
// outliers, a huge channel.
std::vector<float> awkward_activations(int batch, int K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(size_t(batch) * size_t(K));
  for (size_t i = 0; i < x.size(); ++i) {
    const size_t half = i / 16;
    switch (half % 7) {
      case 0:
        x[i] = 0.75f;
        break;  // constant half: d = 0
      case 1:
        x[i] = (i % 2) ? 0.0f : -0.0f;
        break;  // signed zeros
      case 2:
        x[i] = i % 16 == 3 ? 40.0f : nd(rng);
        break;  // one-sided outlier
      case 3:
        x[i] = 1000.0f * nd(rng);
        break;  // a loud channel
      default:
        x[i] = nd(rng);
    }
  }
  return x;
}

Act8Host quantize(const std::vector<float>& x, int batch, int K) {
  Act8Host a(batch, K);
  QuantizeA8Args args;
  args.x = x.data();
  args.K = K;
  args.batch = batch;
  args.out = a.view();
  EXPECT_EQ(quantize_a8_sim(args), "");
  return a;
}

TEST(A8Sim, QuantizedActivationsAreTheSpecificationsBits) {
  const int batch = 3, K = 1056;
  const std::vector<float> x = awkward_activations(batch, K, 3);
  Act8Host a = quantize(x, batch, K);
  std::vector<cpu::ActBlock32> spec(size_t(K / 32));
  for (int b = 0; b < batch; ++b) {
    cpu::spec::quantize_act32(x.data() + size_t(b) * size_t(K), spec.data(), K);
    for (int blk = 0; blk < K / 32; ++blk)
      for (int h = 0; h < 2; ++h) {
        const size_t hh = size_t(b) * size_t(K / 16) + size_t(blk) * 2 + size_t(h);
        ASSERT_EQ(std::memcmp(&a.d[hh], &spec[size_t(blk)].d[h], 4), 0) << "d, batch " << b << " half " << blk * 2 + h;
        ASSERT_EQ(std::memcmp(&a.c[hh], &spec[size_t(blk)].c[h], 4), 0) << "c, batch " << b << " half " << blk * 2 + h;
        ASSERT_EQ(a.qsum[hh], spec[size_t(blk)].qsum[h]) << "qsum, batch " << b << " half " << blk * 2 + h;
        for (int i = 0; i < 16; ++i)
          ASSERT_EQ(a.q[size_t(b) * size_t(K) + size_t(blk) * 32 + size_t(h) * 16 + size_t(i)],
                    spec[size_t(blk)].qs[h * 16 + i])
              << "q, batch " << b << " element " << blk * 32 + h * 16 + i;
      }
  }
}

struct WeightRows {
  qe_type type;
  int rows, K;
  std::vector<uint8_t> w;
  size_t row_bytes() const { return qe_row_bytes(type, K); }
  const uint8_t* row(int r) const { return w.data() + size_t(r) * row_bytes(); }
};

WeightRows random_weights(qe_type t, int rows, int K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  WeightRows m{t, rows, K, {}};
  m.w.resize(size_t(rows) * m.row_bytes());
  std::vector<float> row(static_cast<size_t>(K));
  for (int r = 0; r < rows; ++r) {
    for (float& v : row) v = 0.02f * float(1 + r % 5) * nd(rng);
    ref::quantize_row(t, row.data(), m.w.data() + size_t(r) * m.row_bytes(), K);
  }
  return m;
}

std::vector<float> run_gemv(const WeightRows& m, Act8Host& a, int batch) {
  const A8TiledHost t = repack_a8(m.type, m.w.data(), m.rows, m.K);
  std::vector<float> y(size_t(batch) * size_t(m.rows), std::nanf(""));
  GemvA8Args g;
  g.type = m.type;
  g.codes = t.codes.data();
  g.scales = t.scales.data();
  g.rows = m.rows;
  g.K = m.K;
  g.chunks = t.chunks;
  g.x = a.view();
  g.y = y.data();
  g.batch = batch;
  EXPECT_EQ(gemv_a8_sim(g), "");
  return y;
}

class A8GemvSim : public ::testing::TestWithParam<qe_type> {};

// A one-block row has a single block term: the kernel's result is the specification's, bit for
// bit, which pins P_h and U_h (exact int32 from dp4a), the block formula and the layout.
TEST_P(A8GemvSim, OneBlockRowsEqualTheSpecification) {
  for (int batch = 1; batch <= 2; ++batch) {
    const int rows = 300, K = 32;
    const WeightRows m = random_weights(GetParam(), rows, K, 21 + uint32_t(batch));
    const std::vector<float> x = awkward_activations(batch, K, 5 + uint32_t(batch));
    Act8Host a = quantize(x, batch, K);
    const std::vector<float> y = run_gemv(m, a, batch);
    std::vector<cpu::ActBlock32> spec(1);
    for (int b = 0; b < batch; ++b) {
      cpu::spec::quantize_act32(x.data() + size_t(b) * size_t(K), spec.data(), K);
      for (int r = 0; r < rows; ++r)
        ASSERT_EQ(y[size_t(b) * size_t(rows) + size_t(r)], cpu::spec::dot_a8(m.type, m.row(r), spec.data(), K))
            << "batch " << b << " row " << r;
    }
  }
}

// Longer rows on awkward shapes: equal to the specification up to the order of the fp32 sum of
// block terms (within 1e-6 of sum |w x|), every output written.
TEST_P(A8GemvSim, MatchesTheSpecificationOnAwkwardShapes) {
  struct Shape {
    int rows, K, batch;
  };
  const Shape shapes[] = {{1, 64, 1}, {9, 1056, 2}, {33, 1024, 1}, {70, 2080, 2}, {16, 4096, 1}, {5, 4128, 1}};
  uint32_t seed = 40;
  for (const Shape& s : shapes) {
    const WeightRows m = random_weights(GetParam(), s.rows, s.K, seed++);
    const std::vector<float> x = awkward_activations(s.batch, s.K, seed++);
    Act8Host a = quantize(x, s.batch, s.K);
    const std::vector<float> y = run_gemv(m, a, s.batch);
    std::vector<cpu::ActBlock32> spec(size_t(s.K / 32));
    std::vector<float> wrow(static_cast<size_t>(s.K));
    for (int b = 0; b < s.batch; ++b) {
      const float* xb = x.data() + size_t(b) * size_t(s.K);
      cpu::spec::quantize_act32(xb, spec.data(), s.K);
      for (int r = 0; r < s.rows; ++r) {
        ref::dequantize_row(m.type, m.row(r), wrow.data(), s.K);
        double mag = 0;
        for (int k = 0; k < s.K; ++k) mag += std::fabs(double(wrow[size_t(k)]) * double(xb[k]));
        const float got = y[size_t(b) * size_t(s.rows) + size_t(r)];
        ASSERT_FALSE(std::isnan(got)) << "row " << r << " not written";
        EXPECT_NEAR(got, cpu::spec::dot_a8(m.type, m.row(r), spec.data(), s.K), 1e-6 * mag)
            << "rows " << s.rows << " K " << s.K << " batch " << b << " row " << r;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, A8GemvSim, ::testing::Values(QE_TYPE_Q4_0, QE_TYPE_Q8_0),
                         [](const ::testing::TestParamInfo<qe_type>& i) {
                           return std::string(qe_type_get(i.param)->name);
                         });

TEST(A8SimArgs, RejectsBadArgumentsWithAMessage) {
  QuantizeA8Args q;
  EXPECT_NE(quantize_a8_sim(q).find("multiple of 32"), std::string::npos);
  GemvA8Args g;
  EXPECT_NE(gemv_a8_sim(g).find("multiple of 32"), std::string::npos);
  g.rows = 1;
  g.K = 64;
  g.chunks = 1;
  g.batch = 3;
  EXPECT_NE(gemv_a8_sim(g).find("batch must be 1..2"), std::string::npos);
  g.type = QE_TYPE_Q6_K;
  EXPECT_NE(gemv_a8_sim(g).find("no GPU kernel"), std::string::npos);
  EXPECT_THROW(repack_a8(QE_TYPE_Q4_K, nullptr, 1, 256), std::invalid_argument);
}

}  // namespace
}  // namespace qe::cuda
