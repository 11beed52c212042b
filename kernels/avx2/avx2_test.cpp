// avx2_test: the AVX2 table on the cases its tricks are most fragile on (int16 saturation bounds, signed Q8_0, column chunking) and the QE_CPU_ISA=avx2 choice.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
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

constexpr qe_type kQuantTypes[] = {QE_TYPE_Q4_0, QE_TYPE_Q4_1, QE_TYPE_Q5_0, QE_TYPE_Q5_1, QE_TYPE_Q8_0,
                                   QE_TYPE_Q2_K, QE_TYPE_Q3_K, QE_TYPE_Q4_K, QE_TYPE_Q5_K, QE_TYPE_Q6_K};

// Byte offsets of a block's fp16 fields (d, and dmin or m when present; -1 when absent).
struct HalfFields {
  int d, second;
};
HalfFields half_fields(qe_type t) {
  switch (t) {
    case QE_TYPE_Q4_0: return {0, -1};
    case QE_TYPE_Q4_1: return {0, 2};
    case QE_TYPE_Q5_0: return {0, -1};
    case QE_TYPE_Q5_1: return {0, 2};
    case QE_TYPE_Q8_0: return {0, -1};
    case QE_TYPE_Q2_K: return {static_cast<int>(offsetof(qe_block_q2_K, d)), static_cast<int>(offsetof(qe_block_q2_K, dmin))};
    case QE_TYPE_Q3_K: return {static_cast<int>(offsetof(qe_block_q3_K, d)), -1};
    case QE_TYPE_Q4_K: return {0, 2};
    case QE_TYPE_Q5_K: return {0, 2};
    case QE_TYPE_Q6_K: return {static_cast<int>(offsetof(qe_block_q6_K, d)), -1};
    default: return {-1, -1};
  }
}

// Raw blocks: every quant and sub-scale byte random, or all 0xFF (the largest unsigned value
// of every field: nibbles 15, Q5 31, Q6 63, 6-bit scales 63) or all 0x80 (Q8_0's -128) in
// whole rows; the fp16 scales are sane random values so the products stay finite.
std::vector<uint8_t> raw_weights(qe_type t, int64_t rows, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const qe_type_info* info = qe_type_get(t);
  const size_t rb = qe_row_bytes(t, K);
  std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < K / info->block_elems; ++b) {
      uint8_t* blk = w.data() + static_cast<size_t>(r) * rb + static_cast<size_t>(b) * info->block_bytes;
      for (int i = 0; i < info->block_bytes; ++i) {
        blk[i] = r % 4 == 0 ? 0xFF : r % 4 == 1 ? 0x80 : static_cast<uint8_t>(rng());
      }
      const HalfFields f = half_fields(t);
      const uint16_t d = qe_fp32_to_fp16(scale(rng));
      std::memcpy(blk + f.d, &d, 2);
      if (f.second >= 0) {
        const uint16_t m = qe_fp32_to_fp16(scale(rng));
        std::memcpy(blk + f.second, &m, 2);
      }
    }
  }
  return w;
}

// Activations whose quantized blocks are all +127, all -127, alternating, or random.
std::vector<float> extreme_acts(int64_t batch, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * K));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t k = 0; k < K; ++k) {
      float v;
      switch (b % 4) {
        case 0: v = 1.5f; break;
        case 1: v = -2.0f; break;
        case 2: v = (k & 1) ? 3.0f : -3.0f; break;
        default: v = normal(rng); break;
      }
      x[static_cast<size_t>(b * K + k)] = v;
    }
  return x;
}

void quantize_acts(const KernelTable& tbl, qe_type t, const std::vector<float>& x, int64_t batch, int64_t K,
                   std::vector<uint8_t>* xq) {
  const ActLayout layout = a8_layout(t);
  const size_t xb = act_row_bytes(layout, K);
  xq->assign(xb * static_cast<size_t>(batch), 0);
  for (int64_t b = 0; b < batch; ++b) {
    if (layout == ActLayout::kBlock32) tbl.quantize_act32(x.data() + b * K, reinterpret_cast<ActBlock32*>(xq->data() + b * xb), K);
    else tbl.quantize_act256(x.data() + b * K, reinterpret_cast<qe_block_q8_K*>(xq->data() + b * xb), K);
  }
}

// Rows split into three ranges at tile boundaries (as three threads would get them).
template <typename F>
void run_thirds(int32_t tile, int64_t rows, F&& f) {
  const int64_t tiles = (rows + tile - 1) / tile;
  const int64_t a = std::min(rows, tiles / 3 * tile), b = std::min(rows, 2 * tiles / 3 * tile);
  if (a > 0) f(int64_t{0}, a);
  if (b > a) f(a, b);
  f(b, rows);
}

class Avx2 : public ::testing::Test {
 protected:
  void SetUp() override {
    tbl_ = isa_table(Isa::kAvx2);
    if (tbl_ == nullptr) GTEST_SKIP() << "this CPU cannot run AVX2";
  }
  const KernelTable* tbl_ = nullptr;
};

// Saturation bounds of vpmaddubsw sums and Q8_0's sign trick, bit for bit against the spec.
TEST_F(Avx2, A8ExtremeValuesMatchSpec) {
  for (qe_type t : kQuantTypes) {
    const MatmulKernels& mm = tbl_->mm[t];
    ASSERT_GT(mm.tile, 0);
    const int64_t blk = qe_type_get(t)->block_elems, rows = 21, K = 4 * std::max<int64_t>(blk, 64), batch = 6;
    SCOPED_TRACE(qe_type_get(t)->name);
    const auto w = raw_weights(t, rows, K, 7);
    const auto x = extreme_acts(batch, K, 3);
    std::vector<uint8_t> xq;
    quantize_acts(*tbl_, t, x, batch, K, &xq);
    std::vector<uint8_t> p(mm.packed_bytes(rows, K));
    mm.pack(w.data(), rows, K, p.data());
    std::vector<float> y(static_cast<size_t>(batch * rows));
    run_thirds(mm.tile, rows, [&](int64_t r0, int64_t r1) { mm.gemm_a8(p.data(), rows, K, r0, r1, xq.data(), batch, y.data(), rows); });
    const size_t rb = qe_row_bytes(t, K), xb = act_row_bytes(a8_layout(t), K);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < batch; ++b) {
        const float want = spec::dot_a8(t, w.data() + r * rb, xq.data() + b * xb, K);
        const float got = y[static_cast<size_t>(b * rows + r)];
        ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "row " << r << " col " << b << ": " << got << " vs " << want;
      }
  }
}

// Batches larger than a column chunk (and than every register-pass width), both modes.
TEST_F(Avx2, LargeBatchBothModes) {
  for (qe_type t : {QE_TYPE_Q4_0, QE_TYPE_Q8_0, QE_TYPE_Q4_K, QE_TYPE_Q6_K, QE_TYPE_F16}) {
    const MatmulKernels& mm = tbl_->mm[t];
    const int64_t rows = 19, K = 256, batch = 141;
    SCOPED_TRACE(qe_type_get(t)->name);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> wf(static_cast<size_t>(rows * K));
    for (auto& v : wf) v = normal(rng);
    std::vector<uint8_t> w(qe_row_bytes(t, K) * rows);
    for (int64_t r = 0; r < rows; ++r) ref::quantize_row(t, wf.data() + r * K, w.data() + r * qe_row_bytes(t, K), K);
    std::vector<float> x(static_cast<size_t>(batch * K));
    for (auto& v : x) v = normal(rng);
    std::vector<uint8_t> p(mm.packed_bytes(rows, K));
    mm.pack(w.data(), rows, K, p.data());
    const int64_t ldy = rows + 1;
    std::vector<float> y(static_cast<size_t>(batch * ldy), -1.0f), yref(static_cast<size_t>(batch * rows));
    run_thirds(mm.tile, rows, [&](int64_t r0, int64_t r1) { mm.gemm_a16(p.data(), rows, K, r0, r1, x.data(), batch, y.data(), ldy); });
    ref::matmul(t, w.data(), rows, K, x.data(), batch, yref.data());
    std::vector<float> wrow(K);
    for (int64_t r = 0; r < rows; ++r) {
      ref::dequantize_row(t, w.data() + r * qe_row_bytes(t, K), wrow.data(), K);
      for (int64_t b = 0; b < batch; ++b) {
        double mag = 0;
        for (int64_t k = 0; k < K; ++k) mag += std::fabs(static_cast<double>(wrow[k]) * x[b * K + k]);
        ASSERT_LE(std::fabs(y[b * ldy + r] - yref[b * rows + r]), 1e-5 * mag + 1e-30) << "A16 row " << r << " col " << b;
      }
    }
    for (int64_t b = 0; b < batch; ++b) ASSERT_EQ(y[b * ldy + rows], -1.0f) << "wrote past the rows";
    if (a8_layout(t) == ActLayout::kNone) continue;
    std::vector<uint8_t> xq;
    quantize_acts(*tbl_, t, x, batch, K, &xq);
    run_thirds(mm.tile, rows, [&](int64_t r0, int64_t r1) { mm.gemm_a8(p.data(), rows, K, r0, r1, xq.data(), batch, y.data(), ldy); });
    const size_t rb = qe_row_bytes(t, K), xb = act_row_bytes(a8_layout(t), K);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t b = 0; b < batch; ++b) {
        const float want = spec::dot_a8(t, w.data() + r * rb, xq.data() + b * xb, K);
        const float got = y[static_cast<size_t>(b * ldy + r)];
        ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "A8 row " << r << " col " << b;
      }
  }
}

// Run as `QE_CPU_ISA=avx2 kernels_tests --gtest_filter=Avx2.ForcedByEnvironment`: the
// dispatcher must then hand out the AVX2 kernels for every type. Skipped without the variable.
TEST_F(Avx2, ForcedByEnvironment) {
  const char* env = std::getenv("QE_CPU_ISA");
  if (env == nullptr || std::string(env) != "avx2") GTEST_SKIP() << "QE_CPU_ISA is not avx2";
  EXPECT_EQ(active_isa(), Isa::kAvx2);
  for (qe_type t : kQuantTypes) {
    EXPECT_EQ(kernels().mm[t].gemm_a8, tbl_->mm[t].gemm_a8) << qe_type_get(t)->name;
    EXPECT_EQ(kernels().mm[t].pack, tbl_->mm[t].pack) << qe_type_get(t)->name;
  }
  EXPECT_EQ(kernels().quantize_act32, tbl_->quantize_act32);
}

}  // namespace
}  // namespace qe::cpu
