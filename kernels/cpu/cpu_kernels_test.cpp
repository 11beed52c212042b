// Every kernel table this CPU can run, for every weight type and both modes, against the scalar
// reference (A16, normalized error bound) and the A8 specification (bit for bit).
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

constexpr qe_type kWeightTypes[] = {QE_TYPE_F32,  QE_TYPE_F16,  QE_TYPE_BF16, QE_TYPE_Q4_0, QE_TYPE_Q4_1,
                                    QE_TYPE_Q5_0, QE_TYPE_Q5_1, QE_TYPE_Q8_0, QE_TYPE_Q2_K, QE_TYPE_Q3_K,
                                    QE_TYPE_Q4_K, QE_TYPE_Q5_K, QE_TYPE_Q6_K};

std::vector<Isa> usable_isas() {
  std::vector<Isa> v;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    if (isa_table(static_cast<Isa>(i)) != nullptr) v.push_back(static_cast<Isa>(i));
  }
  return v;
}

enum class Data { kRandom, kZeroBlocks, kExtremeScales };

// Random weights (rows, K) of type t in GGUF layout.
std::vector<uint8_t> make_weights(qe_type t, int64_t rows, int64_t K, Data data, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t rb = qe_row_bytes(t, K);
  std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < K; ++k) {
      float v = normal(rng);
      if (data == Data::kZeroBlocks && (k / 32) % 3 == 1) v = 0.0f;  // whole zero blocks
      // Scales near the fp16 limits (plain F16 itself would overflow to Inf: keep it finite).
      if (data == Data::kExtremeScales) v *= (r % 2 == 0) ? (t == QE_TYPE_F16 ? 1.0e3f : 3.0e4f) : 1.0e-4f;
      row[static_cast<size_t>(k)] = v;
    }
    ref::quantize_row(t, row.data(), w.data() + static_cast<size_t>(r) * rb, K);
  }
  return w;
}

std::vector<float> make_acts(int64_t batch, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(batch * K));
  for (auto& v : x) v = normal(rng);
  for (int64_t k = 0; k < K; k += 97) x[static_cast<size_t>(k)] *= 40.0f;  // outliers, as real activations have
  return x;
}

std::vector<uint8_t> pack(const MatmulKernels& mm, const std::vector<uint8_t>& w, int64_t rows, int64_t K) {
  std::vector<uint8_t> p(mm.packed_bytes(rows, K) + 64);
  mm.pack(w.data(), rows, K, p.data());
  return p;
}

struct Shape {
  int64_t rows, K, batch;
};

std::vector<Shape> shapes_for(qe_type t, int32_t tile) {
  const int64_t blk = qe_type_get(t)->block_elems == 256 ? 256 : 32;
  const int64_t T = tile;
  std::vector<Shape> s = {
      {1, blk, 1},                  // one row, one block
      {T, blk, 1},                  // one full tile
      {T + 1, 2 * blk, 3},          // a tile and a ragged row
      {3 * T - 1, 4 * blk, 2},      // rows not a multiple of the tile
      {37, 8 * blk, 5},             // awkward everything
      {2 * T + 3, 1024, 1},
  };
  if (blk == 32) s.push_back({5, 32 * 7, 4});
  s.push_back({T + 2, (t == QE_TYPE_Q4_0 || t == QE_TYPE_Q8_0 || t == QE_TYPE_Q4_K) ? 14336 : 2048, 2});  // very large K
  return s;
}

// Runs rows [r0, r1) of a kernel in pieces of whole tiles, as the engine's threads do.
template <typename F>
void run_split(int32_t tile, int64_t rows, F&& f) {
  const int64_t tiles = (rows + tile - 1) / tile;
  const int64_t mid = tiles / 2;
  if (mid > 0) f(int64_t{0}, mid * tile);
  f(mid * tile, rows);
}

class IsaKernels : public ::testing::TestWithParam<Isa> {};

TEST_P(IsaKernels, A16MatchesReference) {
  const KernelTable* tbl = isa_table(GetParam());
  ASSERT_NE(tbl, nullptr);
  int tested = 0;
  for (qe_type t : kWeightTypes) {
    const MatmulKernels& mm = tbl->mm[t];
    if (mm.tile == 0) continue;
    ASSERT_NE(mm.gemm_a16, nullptr) << qe_type_get(t)->name;
    for (Data data : {Data::kRandom, Data::kZeroBlocks, Data::kExtremeScales}) {
      for (const Shape& sh : shapes_for(t, mm.tile)) {
        SCOPED_TRACE(std::string(qe_type_get(t)->name) + " rows=" + std::to_string(sh.rows) + " K=" +
                     std::to_string(sh.K) + " batch=" + std::to_string(sh.batch) + " data=" + std::to_string(static_cast<int>(data)));
        const auto w = make_weights(t, sh.rows, sh.K, data, 11 + static_cast<uint32_t>(sh.rows));
        const auto x = make_acts(sh.batch, sh.K, 5);
        const auto p = pack(mm, w, sh.rows, sh.K);
        const int64_t ldy = sh.rows + 3;
        std::vector<float> y(static_cast<size_t>(sh.batch * ldy), -7.0f), yref(static_cast<size_t>(sh.batch * sh.rows));
        run_split(mm.tile, sh.rows, [&](int64_t r0, int64_t r1) {
          mm.gemm_a16(p.data(), sh.rows, sh.K, r0, r1, x.data(), sh.batch, y.data(), ldy);
        });
        ref::matmul(t, w.data(), sh.rows, sh.K, x.data(), sh.batch, yref.data());
        // Normalized bound: 1e-5 of Σ|w·x| (the size of the terms, not of a cancelled sum).
        std::vector<float> wrow(static_cast<size_t>(sh.K));
        for (int64_t r = 0; r < sh.rows; ++r) {
          ref::dequantize_row(t, w.data() + static_cast<size_t>(r) * qe_row_bytes(t, sh.K), wrow.data(), sh.K);
          for (int64_t b = 0; b < sh.batch; ++b) {
            double mag = 0;
            for (int64_t k = 0; k < sh.K; ++k) mag += std::fabs(static_cast<double>(wrow[static_cast<size_t>(k)]) * x[static_cast<size_t>(b * sh.K + k)]);
            const double err = std::fabs(static_cast<double>(y[static_cast<size_t>(b * ldy + r)]) - yref[static_cast<size_t>(b * sh.rows + r)]);
            ASSERT_LE(err, 1e-5 * mag + 1e-30) << "row " << r << " batch " << b;
          }
        }
        for (int64_t b = 0; b < sh.batch; ++b)
          for (int64_t r = sh.rows; r < ldy; ++r) ASSERT_EQ(y[static_cast<size_t>(b * ldy + r)], -7.0f) << "wrote past the rows";
      }
    }
    ++tested;
  }
  EXPECT_GT(tested, 0) << isa_name(GetParam()) << " has no kernels";
}

TEST_P(IsaKernels, A8MatchesSpecBitForBit) {
  const KernelTable* tbl = isa_table(GetParam());
  ASSERT_NE(tbl, nullptr);
  for (qe_type t : kWeightTypes) {
    const MatmulKernels& mm = tbl->mm[t];
    const ActLayout layout = a8_layout(t);
    if (mm.tile == 0 || layout == ActLayout::kNone) continue;
    ASSERT_NE(mm.gemm_a8, nullptr) << qe_type_get(t)->name << ": a type with kernels must have both modes";
    for (Data data : {Data::kRandom, Data::kZeroBlocks, Data::kExtremeScales}) {
      for (const Shape& sh : shapes_for(t, mm.tile)) {
        SCOPED_TRACE(std::string(qe_type_get(t)->name) + " rows=" + std::to_string(sh.rows) + " K=" +
                     std::to_string(sh.K) + " batch=" + std::to_string(sh.batch));
        const auto w = make_weights(t, sh.rows, sh.K, data, 23 + static_cast<uint32_t>(sh.K));
        const auto x = make_acts(sh.batch, sh.K, 9);
        const size_t xb = act_row_bytes(layout, sh.K);
        std::vector<uint8_t> xq(xb * static_cast<size_t>(sh.batch)), xq_spec(xq.size());
        for (int64_t b = 0; b < sh.batch; ++b) {
          const float* xr = x.data() + b * sh.K;
          if (layout == ActLayout::kBlock32) {
            tbl->quantize_act32(xr, reinterpret_cast<ActBlock32*>(xq.data() + b * xb), sh.K);
            spec::quantize_act32(xr, reinterpret_cast<ActBlock32*>(xq_spec.data() + b * xb), sh.K);
          } else {
            tbl->quantize_act256(xr, reinterpret_cast<qe_block_q8_K*>(xq.data() + b * xb), sh.K);
            spec::quantize_act256(xr, reinterpret_cast<qe_block_q8_K*>(xq_spec.data() + b * xb), sh.K);
          }
        }
        ASSERT_EQ(0, std::memcmp(xq.data(), xq_spec.data(), xq.size())) << "activation quantization differs from the spec";
        const auto p = pack(mm, w, sh.rows, sh.K);
        const int64_t ldy = sh.rows;
        std::vector<float> y(static_cast<size_t>(sh.batch * ldy), -7.0f);
        run_split(mm.tile, sh.rows, [&](int64_t r0, int64_t r1) {
          mm.gemm_a8(p.data(), sh.rows, sh.K, r0, r1, xq.data(), sh.batch, y.data(), ldy);
        });
        const size_t rb = qe_row_bytes(t, sh.K);
        for (int64_t r = 0; r < sh.rows; ++r) {
          for (int64_t b = 0; b < sh.batch; ++b) {
            const float want = spec::dot_a8(t, w.data() + static_cast<size_t>(r) * rb, xq.data() + b * xb, sh.K);
            const float got = y[static_cast<size_t>(b * ldy + r)];
            uint32_t wb, gb;
            std::memcpy(&wb, &want, 4);
            std::memcpy(&gb, &got, 4);
            ASSERT_EQ(gb, wb) << "row " << r << " batch " << b << ": got " << got << ", spec " << want;
          }
        }
      }
    }
  }
}

// The A8 arithmetic itself stays close to the float result: quantizing activations to int8
// costs at most a small fraction of the terms' magnitude.
TEST(A8Spec, CloseToFloatDot) {
  for (qe_type t : kWeightTypes) {
    if (a8_layout(t) == ActLayout::kNone) continue;
    const int64_t K = 1024;
    const auto w = make_weights(t, 4, K, Data::kRandom, 3);
    const auto x = make_acts(1, K, 4);
    std::vector<uint8_t> xq(act_row_bytes(a8_layout(t), K));
    if (a8_layout(t) == ActLayout::kBlock32) spec::quantize_act32(x.data(), reinterpret_cast<ActBlock32*>(xq.data()), K);
    else spec::quantize_act256(x.data(), reinterpret_cast<qe_block_q8_K*>(xq.data()), K);
    std::vector<float> wrow(K);
    for (int r = 0; r < 4; ++r) {
      const uint8_t* wr = w.data() + static_cast<size_t>(r) * qe_row_bytes(t, K);
      ref::dequantize_row(t, wr, wrow.data(), K);
      double exact = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        exact += static_cast<double>(wrow[k]) * x[k];
        mag += std::fabs(static_cast<double>(wrow[k]) * x[k]);
      }
      EXPECT_NEAR(spec::dot_a8(t, wr, xq.data(), K), exact, 0.01 * mag) << qe_type_get(t)->name;
    }
  }
}

// ActBlock32 quantizes each 16-element half around its own midrange: a constant half is exact,
// a half with a one-sided outlier gets the step (max − min) / 254 (half of what a scale of
// max|x| / 127 gives), every value is within half a step, and s is Σ of the represented values.
TEST(A8Spec, Act32HalvesAreCentredOnTheirOwnRange) {
  std::vector<float> x(64);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u01(0.0f, 1.0f), wide(-40.0f, 25.0f);
  for (int i = 0; i < 16; ++i) x[i] = u01(rng);
  x[5] = 50.0f;                                        // one-sided outlier
  for (int i = 16; i < 32; ++i) x[i] = 3.25f;          // constant half
  for (int i = 32; i < 64; ++i) x[i] = wide(rng);      // a second block, random
  ActBlock32 q[2];
  spec::quantize_act32(x.data(), q, 64);
  EXPECT_EQ(q[0].d[1], 0.0f);
  EXPECT_EQ(q[0].c[1], 3.25f);
  const float lo0 = *std::min_element(x.begin(), x.begin() + 16);
  EXPECT_FLOAT_EQ(q[0].c[0], 0.5f * (lo0 + 50.0f));
  EXPECT_FLOAT_EQ(q[0].d[0], (50.0f - lo0) / 254.0f);
  for (int b = 0; b < 2; ++b) {
    double s = 0;
    for (int i = 0; i < 32; ++i) {
      const int h = i / 16;
      const double rep = static_cast<double>(q[b].c[h]) + static_cast<double>(q[b].d[h]) * q[b].qs[i];
      EXPECT_LE(std::fabs(rep - x[32 * b + i]), 0.5 * q[b].d[h] * (1 + 1e-5) + 1e-6 * std::fabs(q[b].c[h]))
          << "block " << b << " element " << i;
      s += rep;
    }
    int32_t qs0 = 0, qs1 = 0;
    for (int i = 0; i < 16; ++i) qs0 += q[b].qs[i], qs1 += q[b].qs[16 + i];
    EXPECT_EQ(q[b].qsum[0], qs0);
    EXPECT_EQ(q[b].qsum[1], qs1);
    EXPECT_NEAR(q[b].s, s, 1e-5 * (1 + std::fabs(s)));
  }
}

TEST(Dispatch, EveryWeightTypeHasAKernelAndAnActivationQuantizer) {
  const KernelTable& k = kernels();
  for (qe_type t : kWeightTypes) {
    EXPECT_GT(k.mm[t].tile, 0) << qe_type_get(t)->name;
    EXPECT_NE(k.mm[t].gemm_a16, nullptr) << qe_type_get(t)->name;
    if (a8_layout(t) != ActLayout::kNone) {
      EXPECT_NE(k.mm[t].gemm_a8, nullptr) << qe_type_get(t)->name;
    }
  }
  EXPECT_NE(k.quantize_act32, nullptr);
  EXPECT_NE(k.quantize_act256, nullptr);
  EXPECT_TRUE(isa_usable(Isa::kScalar));
  EXPECT_TRUE(isa_usable(active_isa()));
}

TEST(Dispatch, ParsesIsaNames) {
  Isa i;
  EXPECT_TRUE(parse_isa("avx2", &i));
  EXPECT_EQ(i, Isa::kAvx2);
  EXPECT_TRUE(parse_isa("neon-i8mm", &i));
  EXPECT_EQ(i, Isa::kNeonI8mm);
  EXPECT_FALSE(parse_isa("sse9", &i));
}

INSTANTIATE_TEST_SUITE_P(AllUsable, IsaKernels, ::testing::ValuesIn(usable_isas()),
                         [](const ::testing::TestParamInfo<Isa>& p) {
                           std::string n = isa_name(p.param);
                           for (auto& c : n) if (c == '-') c = '_';
                           return n;
                         });

}  // namespace
}  // namespace qe::cpu
