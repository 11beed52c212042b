// ref_test.cpp: reference quantizers within their format's step, vec_dot against dequantized dots, matmul against a naive loop.
#include "ref/ref.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using qe::ref::dequantize_row;
using qe::ref::quantize_row;

std::vector<qe_type> all_types() {
  std::vector<qe_type> v;
  for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id) {
    if (qe_type_get(id) != nullptr) v.push_back(static_cast<qe_type>(id));
  }
  return v;
}

const qe_type_info& tinfo(qe_type t) { return *qe_type_get(t); }

// ---------------------------------------------------------------------------------------------
// Test data: (n) floats, whole blocks of `blk` elements, fixed seeds.
// ---------------------------------------------------------------------------------------------
enum class Dist { kNormal, kSkewed, kZeroAndConstant, kOutlier, kHeavyTail, kHuge, kTiny };
constexpr Dist kAllDists[] = {Dist::kNormal,    Dist::kSkewed, Dist::kZeroAndConstant, Dist::kOutlier,
                              Dist::kHeavyTail, Dist::kHuge,   Dist::kTiny};

const char* dist_name(Dist d) {
  switch (d) {
    case Dist::kNormal: return "normal";
    case Dist::kSkewed: return "skewed";
    case Dist::kZeroAndConstant: return "zero-and-constant";
    case Dist::kOutlier: return "outlier";
    case Dist::kHeavyTail: return "heavy-tail";
    case Dist::kHuge: return "huge";
    case Dist::kTiny: return "tiny";
  }
  return "?";
}

std::vector<float> make_data(Dist dist, int64_t n, int blk, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 3.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  switch (dist) {
    case Dist::kNormal: break;
    case Dist::kSkewed:
      for (float& v : x) v = uniform(rng);
      break;
    case Dist::kZeroAndConstant:  // blocks cycle: zeros, positive constant, negative constant, normal
      for (int64_t b = 0; b < n / blk; ++b) {
        const float c = b % 4 == 0 ? 0.0f : b % 4 == 1 ? 0.75f : b % 4 == 2 ? -2.5f : NAN;
        if (!std::isnan(c)) std::fill(x.begin() + b * blk, x.begin() + (b + 1) * blk, c);
      }
      break;
    case Dist::kOutlier:  // one element per block 50x larger
      for (int64_t b = 0; b < n / blk; ++b) x[static_cast<size_t>(b * blk + rng() % blk)] *= 50.0f;
      break;
    case Dist::kHeavyTail:
      for (float& v : x) v = v * v * v;
      break;
    case Dist::kHuge:
      for (float& v : x) v *= 3000.0f;
      break;
    case Dist::kTiny:
      for (float& v : x) v *= 1e-6f;
      break;
  }
  return x;
}

// ---------------------------------------------------------------------------------------------
// Per-element error bounds, derived from each block's stored scales.
// ---------------------------------------------------------------------------------------------
float h2f(uint16_t h) { return qe_fp16_to_fp32(h); }

// Largest possible |d - h2f(h)| for a real d that rounds to half h: half an fp16 ulp.
float half_rounding(uint16_t h) {
  const int e = (h >> 10) & 31;
  return std::ldexp(1.0f, (e == 0 ? 1 : e) - 26);
}

template <typename B>
B load(const uint8_t* p) {
  B b;
  std::memcpy(&b, p, sizeof b);
  return b;
}

// Symmetric _0 formats quantize with the unrounded d: the nearest code (or the clipped end code
// when x/d lies past qpos + 1/2, as Q4_0/Q5_0 do for the side opposite the block's max) and then
// lose at most |code| half-ulps of d to fp16 rounding.
void bounds_sym0(uint16_t dh, int qneg, int qpos, const float* x, int n, float* bound) {
  const float d = std::fabs(h2f(dh)), dr = half_rounding(dh);
  const bool normal = (dh & 0x7C00) != 0;
  for (int i = 0; i < n; ++i) {
    const float r = d > 0 ? x[i] / d : 0.0f;
    const bool in_range = normal && r >= qneg - 0.49f && r <= qpos + 0.49f;
    bound[i] = (in_range ? 0.5f : 1.0f) * d + static_cast<float>(-qneg + 1) * dr;
  }
}

// _1 formats: codes are nearest over [min, max], then fp16 rounding of d (per code) and of m.
void bounds_min1(uint16_t dh, uint16_t mh, int qmax, int n, float* bound) {
  const float b = 0.5f * std::fabs(h2f(dh)) + static_cast<float>(qmax + 1) * half_rounding(dh) + half_rounding(mh);
  std::fill(bound, bound + n, b);
}

// K-quant search (see ref.cpp): asymmetric |err| <= s/2 + qmax*d + dmin, symmetric
// |err| <= |s| + |qneg|*d, with s = d * sub-scale.
void bounds_k_asym(float d, float dmin, const int* sc, int len, int qmax, float* bound) {
  for (int e = 0; e < QE_QK_K; ++e) bound[e] = 0.5f * d * static_cast<float>(sc[e / len]) + qmax * d + dmin;
}
void bounds_k_sym(float d, const int* sc, int len, int qneg, float* bound) {
  for (int e = 0; e < QE_QK_K; ++e) bound[e] = d * std::abs(sc[e / len]) + static_cast<float>(-qneg) * d;
}

void element_bounds(qe_type t, const uint8_t* p, const float* x, float* bound) {
  int sc[16];
  switch (t) {
    case QE_TYPE_F32: bound[0] = 0.0f; return;
    case QE_TYPE_F16: bound[0] = std::fabs(x[0]) * 0x1p-11f + 0x1p-25f; return;
    case QE_TYPE_BF16: bound[0] = std::fabs(x[0]) * 0x1p-8f + 0x1p-134f; return;
    case QE_TYPE_Q4_0: return bounds_sym0(load<qe_block_q4_0>(p).d, -8, 7, x, 32, bound);
    case QE_TYPE_Q5_0: return bounds_sym0(load<qe_block_q5_0>(p).d, -16, 15, x, 32, bound);
    case QE_TYPE_Q8_0: return bounds_sym0(load<qe_block_q8_0>(p).d, -127, 127, x, 32, bound);
    case QE_TYPE_Q8_1: return bounds_sym0(load<qe_block_q8_1>(p).d, -127, 127, x, 32, bound);
    case QE_TYPE_Q4_1: {
      const auto b = load<qe_block_q4_1>(p);
      return bounds_min1(b.d, b.m, 15, 32, bound);
    }
    case QE_TYPE_Q5_1: {
      const auto b = load<qe_block_q5_1>(p);
      return bounds_min1(b.d, b.m, 31, 32, bound);
    }
    case QE_TYPE_Q2_K: {
      const auto b = load<qe_block_q2_K>(p);
      for (int j = 0; j < 16; ++j) sc[j] = b.scales[j] & 15;
      return bounds_k_asym(h2f(b.d), h2f(b.dmin), sc, 16, 3, bound);
    }
    case QE_TYPE_Q4_K:
    case QE_TYPE_Q5_K: {
      const auto b = load<qe_block_q4_K>(p);  // Q5_K starts with the same d, dmin, scales
      for (int j = 0; j < 8; ++j) {
        uint8_t s, m;
        qe_q4_K_scale_min(b.scales, j, &s, &m);
        sc[j] = s;
      }
      return bounds_k_asym(h2f(b.d), h2f(b.dmin), sc, 32, t == QE_TYPE_Q4_K ? 15 : 31, bound);
    }
    case QE_TYPE_Q3_K: {
      const auto b = load<qe_block_q3_K>(p);
      for (int j = 0; j < 16; ++j) sc[j] = qe_q3_K_scale(b.scales, j);
      return bounds_k_sym(h2f(b.d), sc, 16, -4, bound);
    }
    case QE_TYPE_Q6_K: {
      const auto b = load<qe_block_q6_K>(p);
      for (int j = 0; j < 16; ++j) sc[j] = b.scales[j];
      return bounds_k_sym(h2f(b.d), sc, 16, -32, bound);
    }
    case QE_TYPE_Q8_K: {
      const auto b = load<qe_block_q8_K>(p);
      std::fill(bound, bound + QE_QK_K, 0.5f * b.d);
      return;
    }
    default: FAIL() << "no error bound for " << tinfo(t).name;
  }
}

std::vector<uint8_t> quantize(qe_type t, const std::vector<float>& x) {
  std::vector<uint8_t> q(qe_row_bytes(t, static_cast<int64_t>(x.size())));
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> dequantize(qe_type t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  dequantize_row(t, q.data(), y.data(), n);
  return y;
}

int64_t test_len(qe_type t) { return tinfo(t).block_elems == 1 ? 1000 : 16 * tinfo(t).block_elems; }

class PerType : public ::testing::TestWithParam<qe_type> {};

TEST_P(PerType, QuantizeErrorWithinStep) {
  const qe_type t = GetParam();
  const qe_type_info& ti = tinfo(t);
  const int64_t n = test_len(t);
  for (Dist dist : kAllDists) {
    SCOPED_TRACE(dist_name(dist));
    const std::vector<float> x = make_data(dist, n, ti.block_elems, 1234 + static_cast<uint32_t>(dist));
    const std::vector<uint8_t> q = quantize(t, x);
    const std::vector<float> y = dequantize(t, q, n);
    std::vector<float> bound(static_cast<size_t>(ti.block_elems));
    for (int64_t b = 0; b < n / ti.block_elems; ++b) {
      const float* xb = &x[static_cast<size_t>(b * ti.block_elems)];
      element_bounds(t, &q[static_cast<size_t>(b * ti.block_bytes)], xb, bound.data());
      float amax = 0.0f;
      for (int i = 0; i < ti.block_elems; ++i) amax = std::max(amax, std::fabs(xb[i]));
      for (int i = 0; i < ti.block_elems; ++i) {
        const size_t k = static_cast<size_t>(b * ti.block_elems + i);
        ASSERT_TRUE(std::isfinite(y[k]));
        // 1e-6 relative slack covers the float rounding of the quantizer's own arithmetic.
        ASSERT_LE(std::fabs(y[k] - x[k]), bound[static_cast<size_t>(i)] + 1e-6f * amax)
            << "block " << b << " element " << i << " x=" << x[k] << " y=" << y[k];
      }
    }
  }
}

TEST_P(PerType, QuantizeQualityOnNormalData) {
  // Relative RMS error on N(0,1) data: a regression guard for the scale search (values measured
  // with margin; the theoretical uniform-noise floor is range/(levels*sqrt(12))).
  const qe_type t = GetParam();
  const int64_t n = 64 * QE_QK_K;
  const std::vector<float> x = make_data(Dist::kNormal, n, tinfo(t).block_elems, 99);
  const std::vector<float> y = dequantize(t, quantize(t, x), n);
  double se = 0.0, sx = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    se += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    sx += double(x[i]) * x[i];
  }
  const double rel = std::sqrt(se / sx);
  struct Limit {
    qe_type t;
    double rel;
  };
  constexpr Limit kLimits[] = {
      {QE_TYPE_F32, 0.0},    {QE_TYPE_F16, 2.5e-4},  {QE_TYPE_BF16, 2e-3},   {QE_TYPE_Q4_0, 0.10},
      {QE_TYPE_Q4_1, 0.095}, {QE_TYPE_Q5_0, 0.05},   {QE_TYPE_Q5_1, 0.046},  {QE_TYPE_Q8_0, 0.0065},
      {QE_TYPE_Q8_1, 0.0065}, {QE_TYPE_Q2_K, 0.35},  {QE_TYPE_Q3_K, 0.18},   {QE_TYPE_Q4_K, 0.088},
      {QE_TYPE_Q5_K, 0.043}, {QE_TYPE_Q6_K, 0.022},  {QE_TYPE_Q8_K, 0.0083},
  };
  const auto* lim = std::find_if(std::begin(kLimits), std::end(kLimits), [&](const Limit& l) { return l.t == t; });
  ASSERT_NE(lim, std::end(kLimits)) << "no quality limit for " << tinfo(t).name;
  EXPECT_LE(rel, lim->rel) << tinfo(t).name << " relative RMS error " << rel;
  std::printf("%-5s relative RMS error on N(0,1): %.5f\n", tinfo(t).name, rel);
}

TEST_P(PerType, SaturatesInsteadOfOverflowing) {
  // Magnitudes past what an fp16 scale can express must still give finite blocks. Plain F16
  // follows IEEE instead: overflow is Inf, as numpy's astype(float16) gives.
  const qe_type t = GetParam();
  const int64_t n = test_len(t);
  std::vector<float> x = make_data(Dist::kNormal, n, tinfo(t).block_elems, 5);
  for (float& v : x) v *= 1e12f;
  for (float v : dequantize(t, quantize(t, x), n)) {
    if (t == QE_TYPE_F16) {
      ASSERT_TRUE(std::isinf(v));
    } else {
      ASSERT_TRUE(std::isfinite(v));
    }
  }
}

TEST_P(PerType, VecDotMatchesDequantizedDot) {
  const qe_type t = GetParam();
  const qe_type vdt = tinfo(t).vec_dot_type;
  const int64_t n = 8 * QE_QK_K;
  for (Dist dist : {Dist::kNormal, Dist::kSkewed, Dist::kOutlier, Dist::kZeroAndConstant}) {
    SCOPED_TRACE(dist_name(dist));
    const std::vector<uint8_t> qx = quantize(t, make_data(dist, n, tinfo(t).block_elems, 11));
    const std::vector<uint8_t> qy = quantize(vdt, make_data(Dist::kSkewed, n, tinfo(t).block_elems, 12));
    const std::vector<float> dx = dequantize(t, qx, n), dy = dequantize(vdt, qy, n);
    double want = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      want += double(dx[i]) * dy[i];
      mag += std::fabs(double(dx[i]) * dy[i]);
    }
    const float got = qe::ref::vec_dot(t, n, qx.data(), qy.data());
    // Dequantized values are rounded to float and vec_dot's block sums are (nearly) exact.
    EXPECT_NEAR(got, want, 1e-6 * mag + 1e-30) << tinfo(t).name << " . " << tinfo(vdt).name;
  }
}

TEST_P(PerType, MatmulMatchesNaiveLoop) {
  const qe_type t = GetParam();
  const int blk = tinfo(t).block_elems;
  const int64_t K = blk == 1 ? 37 : 2 * std::max(blk, 64);
  for (int64_t rows : {1, 5, 33, 67}) {
    const std::vector<float> wf = make_data(Dist::kNormal, rows * K, blk, 21);
    const std::vector<uint8_t> W = quantize(t, wf);
    const std::vector<float> wd = dequantize(t, W, rows * K);  // (rows, K)
    for (int64_t batch : {1, 3, 17}) {
      SCOPED_TRACE("rows " + std::to_string(rows) + " batch " + std::to_string(batch));
      const std::vector<float> X = make_data(Dist::kSkewed, batch * K, 1, 22);  // (batch, K)
      std::vector<float> Y(static_cast<size_t>(batch * rows), NAN);           // (batch, rows)
      qe::ref::matmul(t, W.data(), rows, K, X.data(), batch, Y.data());
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t r = 0; r < rows; ++r) {
          double want = 0.0, mag = 0.0;
          for (int64_t k = 0; k < K; ++k) {
            want += double(wd[r * K + k]) * X[b * K + k];
            mag += std::fabs(double(wd[r * K + k]) * X[b * K + k]);
          }
          ASSERT_NEAR(Y[b * rows + r], want, 0x1p-23 * mag + 1e-30) << "b " << b << " r " << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllFormats, PerType, ::testing::ValuesIn(all_types()),
                         [](const ::testing::TestParamInfo<qe_type>& p) { return std::string(tinfo(p.param).name); });

TEST(Ref, MatmulLongRowsStayAccurate) {
  // K = 14336 (a Llama-3-8B FFN row): the dot is accumulated well enough that the result is within
  // an ulp or so of the exact sum, far inside what a plain float loop achieves.
  const int64_t K = 14336, rows = 6, batch = 2;
  const std::vector<float> W = make_data(Dist::kNormal, rows * K, 1, 31);
  const std::vector<float> X = make_data(Dist::kSkewed, batch * K, 1, 32);
  std::vector<float> Y(static_cast<size_t>(rows * batch));
  qe::ref::matmul(QE_TYPE_F32, W.data(), rows, K, X.data(), batch, Y.data());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      long double want = 0;
      for (int64_t k = 0; k < K; ++k) want += static_cast<long double>(W[r * K + k]) * X[b * K + k];
      EXPECT_NEAR(Y[b * rows + r], static_cast<double>(want), 2.0 * std::ldexp(std::fabs(double(want)), -24) + 1e-9);
    }
  }
}

TEST(Ref, ActivationSideFields) {
  // Q8_1's s is d * sum(q) in fp16; Q8_K's bsums are exact group sums.
  const std::vector<float> x = make_data(Dist::kSkewed, 2 * QE_QK_K, 1, 41);
  const std::vector<uint8_t> q1 = quantize(QE_TYPE_Q8_1, x);
  for (size_t b = 0; b < q1.size() / sizeof(qe_block_q8_1); ++b) {
    const auto blk = load<qe_block_q8_1>(&q1[b * sizeof(qe_block_q8_1)]);
    int sum = 0;
    for (int8_t v : blk.qs) sum += v;
    EXPECT_NEAR(h2f(blk.s), h2f(blk.d) * sum, std::fabs(h2f(blk.d) * sum) * 0x1p-10f + 1e-6f);
  }
  const std::vector<uint8_t> qk = quantize(QE_TYPE_Q8_K, x);
  for (size_t b = 0; b < qk.size() / sizeof(qe_block_q8_K); ++b) {
    const auto blk = load<qe_block_q8_K>(&qk[b * sizeof(qe_block_q8_K)]);
    for (int g = 0; g < 16; ++g) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += blk.qs[16 * g + i];
      EXPECT_EQ(blk.bsums[g], sum);
    }
  }
}

TEST(Ref, ZeroBlocksAreExact) {
  for (qe_type t : all_types()) {
    const int64_t n = test_len(t);
    const std::vector<float> y = dequantize(t, quantize(t, std::vector<float>(static_cast<size_t>(n), 0.0f)), n);
    for (float v : y) ASSERT_EQ(v, 0.0f) << tinfo(t).name;
  }
}

}  // namespace
