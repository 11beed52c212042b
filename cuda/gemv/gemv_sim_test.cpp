// gemv_sim_test.cpp: the decode GEMV kernels on the SIMT simulator against the scalar reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gemv/gemv.h"
#include "gemv/repack.h"
#include "ref/ref.h"

namespace qe::cuda {
namespace {

struct Problem {
  qe_type type;
  int rows, K, batch;
  std::vector<uint8_t> w;   // (rows, K / 32) GGUF blocks
  std::vector<uint16_t> x;  // (batch, K) fp16
  size_t row_bytes() const { return qe_row_bytes(type, K); }
  const void* row(int r) const { return w.data() + size_t(r) * row_bytes(); }
};

Problem make_problem(qe_type t, int rows, int K, int batch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  Problem p{t, rows, K, batch, {}, std::vector<uint16_t>(size_t(batch) * size_t(K))};
  p.w.resize(size_t(rows) * p.row_bytes());
  std::vector<float> row(static_cast<size_t>(K));
  for (int r = 0; r < rows; ++r) {
    const float mag = 0.01f * float(1 + r % 7);  // rows differ in magnitude, as trained ones do
    for (float& v : row) v = mag * nd(rng);
    ref::quantize_row(t, row.data(), p.w.data() + size_t(r) * p.row_bytes(), K);
  }
  for (uint16_t& h : p.x) h = qe_fp32_to_fp16(2.0f * nd(rng));
  return p;
}

// y_ref (batch, rows) in double from the reference dequantizer and the fp16 activations; with
// `mag`, also sum |w x| per output (the scale at which the kernel's fp16 partial sums round).
std::vector<double> reference(const Problem& p, std::vector<double>* mag = nullptr) {
  std::vector<double> y(size_t(p.batch) * size_t(p.rows));
  if (mag != nullptr) mag->assign(y.size(), 0.0);
  std::vector<float> wrow(size_t(p.K));
  for (int r = 0; r < p.rows; ++r) {
    ref::dequantize_row(p.type, p.row(r), wrow.data(), p.K);
    for (int b = 0; b < p.batch; ++b) {
      double s = 0, m = 0;
      for (int k = 0; k < p.K; ++k) {
        const double t = double(wrow[size_t(k)]) * double(qe_fp16_to_fp32(p.x[size_t(b) * size_t(p.K) + size_t(k)]));
        s += t;
        m += std::fabs(t);
      }
      y[size_t(b) * size_t(p.rows) + size_t(r)] = s;
      if (mag != nullptr) (*mag)[size_t(b) * size_t(p.rows) + size_t(r)] = m;
    }
  }
  return y;
}

std::vector<float> run_sim(const TiledHost& t, const std::vector<uint16_t>& x, int batch, GemvVariant v) {
  std::vector<float> y(size_t(batch) * size_t(t.rows), std::nanf(""));  // poison: every output is written
  const GemvArgs a{t.type, t.codes.data(), t.scales.data(), t.rows, t.K, t.chunks, x.data(), y.data(), batch};
  EXPECT_EQ(gemv_a16_sim(a, v), "");
  return y;
}

class GemvSim : public ::testing::TestWithParam<qe_type> {};

// One-hot activations pick single weights: the kernel's result must be the reference
// dequantization bit for bit (the scaled codes are exact in fp16 and d * 8 or d * 128 in fp32),
// which pins the tiled layout, the code order and the scale placement element by element.
// K rounded up to a whole number of the type's blocks (256 for Q4_K).
int round_k(qe_type t, int K) {
  const int b = qe_type_get(t)->block_elems;
  return (K + b - 1) / b * b;
}

TEST_P(GemvSim, OneHotActivationsReadEveryWeightExactly) {
  // Q4_0: two chunks, the second mostly padding; Q8_0: three; Q4_K (1280): two, the second 1/4 full.
  const int rows = 5, K = round_k(GetParam(), 1088);
  const Problem p = make_problem(GetParam(), rows, K, 1, 11);
  const TiledHost t = repack_tiled(p.type, p.w.data(), rows, K);
  std::vector<std::vector<float>> wref(rows, std::vector<float>(size_t(K)));
  for (int r = 0; r < rows; ++r) ref::dequantize_row(p.type, p.row(r), wref[size_t(r)].data(), K);
  // One-hot columns, as many per launch as the type's largest batch (8, K-quants 4).
  const int cols = gemv_max_batch(p.type);
  for (int k0 = 0; k0 < K; k0 += cols) {
    std::vector<uint16_t> x(size_t(cols) * size_t(K), 0);
    for (int b = 0; b < cols; ++b) x[size_t(b) * size_t(K) + size_t(k0 + b)] = 0x3C00;  // 1.0
    const std::vector<float> y = run_sim(t, x, cols, {1, 4});
    for (int b = 0; b < cols; ++b)
      for (int r = 0; r < rows; ++r)
        ASSERT_EQ(y[size_t(b) * rows + size_t(r)], wref[size_t(r)][size_t(k0 + b)]) << "row " << r << " k " << k0 + b;
  }
}

// Random weights and activations on awkward shapes (rows not a multiple of a block's rows, K
// not a multiple of the chunk), every compiled variant and batch 1-8: the normalized error
// against the double-precision reference, measured against sum |w x| (8-element partial sums
// are fp16 and round at the size of their terms), stays at fp16 rounding level, and every
// output is written.
TEST_P(GemvSim, MatchesReferenceOnAwkwardShapes) {
  struct Shape {
    int rows, K, batch;
  };
  const Shape shapes[] = {{1, 32, 1},    {7, 96, 3},    {33, 1024, 1}, {9, 1056, 8},
                          {70, 2080, 2}, {16, 4096, 5}, {5, 544, 6}};
  uint32_t seed = 100;
  for (Shape s : shapes) {
    s.K = round_k(GetParam(), s.K);
    s.batch = std::min(s.batch, gemv_max_batch(GetParam()));  // K-quants: batch 1-4
    const Problem p = make_problem(GetParam(), s.rows, s.K, s.batch, seed++);
    const TiledHost t = repack_tiled(p.type, p.w.data(), s.rows, s.K);
    std::vector<double> ymag;
    const std::vector<double> yref = reference(p, &ymag);
    for (const GemvVariant& v : kGemvVariants) {
      if (!gemv_variant_compiled(v, s.batch, GetParam())) continue;
      const std::vector<float> y = run_sim(t, p.x, s.batch, v);
      double err2 = 0, ref2 = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_FALSE(std::isnan(y[i])) << "output " << i << " not written";
        err2 += (double(y[i]) - yref[i]) * (double(y[i]) - yref[i]);
        ref2 += ymag[i] * ymag[i];
      }
      EXPECT_LT(std::sqrt(err2 / ref2), 2e-3)
          << "rows " << s.rows << " K " << s.K << " batch " << s.batch << " variant " << gemv_variant_name(v);
    }
  }
}

// Large activations (|x| up to 4000) must not overflow the fp16 partial sums. The error bound
// is relative to sum |w x| (the partial sums round at their own magnitude; y itself can cancel).
TEST_P(GemvSim, LargeActivationsStayFinite) {
  Problem p = make_problem(GetParam(), 8, 256, 1, 5);
  for (size_t i = 0; i < p.x.size(); ++i) p.x[i] = qe_fp32_to_fp16(i % 2 ? 4000.0f : -3000.0f);
  const TiledHost t = repack_tiled(p.type, p.w.data(), p.rows, p.K);
  std::vector<double> mag;
  const std::vector<double> yref = reference(p, &mag);
  const std::vector<float> y = run_sim(t, p.x, 1, {2, 2});
  for (size_t r = 0; r < y.size(); ++r) {
    ASSERT_TRUE(std::isfinite(y[r])) << "row " << r;
    EXPECT_NEAR(y[r], yref[r], 2e-3 * mag[r]) << "row " << r;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, GemvSim, ::testing::Values(QE_TYPE_Q4_0, QE_TYPE_Q8_0, QE_TYPE_Q4_K, QE_TYPE_Q6_K),
                         [](const ::testing::TestParamInfo<qe_type>& i) {
                           return std::string(qe_type_get(i.param)->name);
                         });

TEST(GemvSimArgs, RejectsBadShapesWithAMessage) {
  GemvArgs a;
  EXPECT_NE(gemv_a16_sim(a).find("multiple of 32"), std::string::npos);
  std::vector<uint32_t> codes(256);
  std::vector<uint16_t> sc(64), x(64);
  std::vector<float> y(1);
  a = {QE_TYPE_Q4_0, codes.data(), sc.data(), 1, 64, 1, x.data(), y.data(), 9};
  EXPECT_NE(gemv_a16_sim(a).find("batch must be 1..8"), std::string::npos);
  a.batch = 1;
  a.chunks = 2;
  EXPECT_NE(gemv_a16_sim(a).find("does not match"), std::string::npos);
  a.chunks = 1;
  EXPECT_NE(gemv_a16_sim(a, {3, 3}).find("not compiled"), std::string::npos);
  a.batch = 3;
  EXPECT_NE(gemv_a16_sim(a, {4, 2}).find("not compiled for batch 3"), std::string::npos);
  a.batch = 1;
  std::vector<uint32_t> kcodes(256);
  std::vector<uint16_t> ksc(64), kx(256 * 5);
  std::vector<float> ky(5);
  const GemvArgs k5{QE_TYPE_Q4_K, kcodes.data(), ksc.data(), 1, 256, 1, kx.data(), ky.data(), 5};
  EXPECT_NE(gemv_a16_sim(k5, {1, 4}).find("not compiled for batch 5"), std::string::npos);
  a.type = QE_TYPE_Q4_K;
  EXPECT_NE(gemv_a16_sim(a).find("multiple of 256"), std::string::npos);
  a.type = QE_TYPE_Q5_K;
  EXPECT_NE(gemv_a16_sim(a).find("no GPU kernel"), std::string::npos);
  EXPECT_THROW(repack_tiled(QE_TYPE_Q4_0, nullptr, 1, 48), std::invalid_argument);
  EXPECT_THROW(repack_tiled(QE_TYPE_Q5_K, nullptr, 1, 256), std::invalid_argument);
}

}  // namespace
}  // namespace qe::cuda
