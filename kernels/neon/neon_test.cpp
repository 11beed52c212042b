// neon_test.cpp: what the shared harness (cpu/cpu_kernels_test.cpp) does not reach in the Arm
// tables: batches large enough to span several column chunks of the GEMM driver, the column-pair
// (smmla) path on many pairs, and row ranges split as several threads would split them.
// Built everywhere (kernels/*/*_test.cpp), it only has content on AArch64.
#if defined(__aarch64__)

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/a8_spec.h"
#include "cpu/cpu_kernels.h"
#include "cpu/dispatch.h"
#include "ref/ref.h"

namespace qe::cpu {
namespace {

struct Case {
  qe_type type;
  int64_t rows, K, batch;
};

// K large enough that one activation column takes > 1/8 of the driver's 192 KiB chunk, so a
// batch of 19 crosses chunk boundaries (chunks of 4 or 8 columns plus a ragged one).
constexpr Case kCases[] = {
    {QE_TYPE_Q4_0, 9, 14336, 19}, {QE_TYPE_Q8_0, 6, 14336, 19}, {QE_TYPE_Q4_1, 5, 14336, 19},
    {QE_TYPE_Q4_K, 7, 14336, 19}, {QE_TYPE_Q6_K, 5, 14336, 19}, {QE_TYPE_Q2_K, 5, 14336, 11},
    {QE_TYPE_F16, 6, 14336, 19},  {QE_TYPE_F32, 5, 14337, 9},  // F32: a K that is not a multiple of 4
};

class NeonLargeBatch : public ::testing::TestWithParam<Isa> {};

TEST_P(NeonLargeBatch, ChunkedBatchesAndSplitRowsMatch) {
  const KernelTable* tbl = isa_table(GetParam());
  if (tbl == nullptr) GTEST_SKIP() << isa_name(GetParam()) << " is not usable on this CPU";
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case& cs : kCases) {
    SCOPED_TRACE(qe_type_get(cs.type)->name);
    const MatmulKernels& mm = tbl->mm[cs.type];
    ASSERT_GT(mm.tile, 0);
    // Weights (rows, K) in GGUF layout, activations (batch, K).
    const size_t rb = qe_row_bytes(cs.type, cs.K);
    std::vector<float> wf(static_cast<size_t>(cs.rows * cs.K)), x(static_cast<size_t>(cs.batch * cs.K));
    for (auto& v : wf) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    std::vector<uint8_t> w(rb * static_cast<size_t>(cs.rows));
    for (int64_t r = 0; r < cs.rows; ++r) ref::quantize_row(cs.type, wf.data() + r * cs.K, w.data() + r * rb, cs.K);
    std::vector<uint8_t> p(mm.packed_bytes(cs.rows, cs.K));
    mm.pack(w.data(), cs.rows, cs.K, p.data());
    // Rows in three pieces of whole tiles, as three threads would run them.
    const auto split = [&](auto&& f) {
      const int64_t T = mm.tile;
      const int64_t a = T, b = std::min(cs.rows, 2 * T);
      f(0, std::min(a, cs.rows));
      if (a < cs.rows) f(a, b);
      if (b < cs.rows) f(b, cs.rows);
    };

    // A16 against the reference, within 1e-5 of sum |w*x|.
    std::vector<float> y(static_cast<size_t>(cs.batch * cs.rows)), yref(y.size());
    split([&](int64_t r0, int64_t r1) { mm.gemm_a16(p.data(), cs.rows, cs.K, r0, r1, x.data(), cs.batch, y.data(), cs.rows); });
    ref::matmul(cs.type, w.data(), cs.rows, cs.K, x.data(), cs.batch, yref.data());
    std::vector<float> row(static_cast<size_t>(cs.K));
    for (int64_t r = 0; r < cs.rows; ++r) {
      ref::dequantize_row(cs.type, w.data() + r * rb, row.data(), cs.K);
      for (int64_t b = 0; b < cs.batch; ++b) {
        double mag = 0;
        for (int64_t k = 0; k < cs.K; ++k) mag += std::fabs(static_cast<double>(row[k]) * x[b * cs.K + k]);
        ASSERT_LE(std::fabs(static_cast<double>(y[b * cs.rows + r]) - yref[b * cs.rows + r]), 1e-5 * mag)
            << "A16 row " << r << " batch " << b;
      }
    }

    // A8 against the specification, bit for bit.
    const ActLayout layout = a8_layout(cs.type);
    if (layout == ActLayout::kNone) continue;
    const size_t xb = act_row_bytes(layout, cs.K);
    std::vector<uint8_t> xq(xb * static_cast<size_t>(cs.batch));
    for (int64_t b = 0; b < cs.batch; ++b) {
      if (layout == ActLayout::kBlock32) tbl->quantize_act32(x.data() + b * cs.K, reinterpret_cast<ActBlock32*>(xq.data() + b * xb), cs.K);
      else tbl->quantize_act256(x.data() + b * cs.K, reinterpret_cast<qe_block_q8_K*>(xq.data() + b * xb), cs.K);
    }
    split([&](int64_t r0, int64_t r1) { mm.gemm_a8(p.data(), cs.rows, cs.K, r0, r1, xq.data(), cs.batch, y.data(), cs.rows); });
    for (int64_t r = 0; r < cs.rows; ++r) {
      for (int64_t b = 0; b < cs.batch; ++b) {
        const float want = spec::dot_a8(cs.type, w.data() + r * rb, xq.data() + b * xb, cs.K);
        const float got = y[b * cs.rows + r];
        ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "A8 row " << r << " batch " << b << ": got " << got << ", spec " << want;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Arm, NeonLargeBatch, ::testing::Values(Isa::kNeon, Isa::kNeonDotprod, Isa::kNeonI8mm),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           std::string n = isa_name(p.param);
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace qe::cpu

#endif  // __aarch64__
