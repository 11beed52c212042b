// Focused tests of the avx512 / avx512vnni tables beyond the shared harness: full 8-column panels, several tile groups, thread-style row splits, and raw GGUF blocks the reference quantizer never writes.
#include <gtest/gtest.h>

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

constexpr qe_type kQuantTypes[] = {QE_TYPE_Q4_0, QE_TYPE_Q4_1, QE_TYPE_Q5_0, QE_TYPE_Q5_1, QE_TYPE_Q8_0,
                                   QE_TYPE_Q2_K, QE_TYPE_Q3_K, QE_TYPE_Q4_K, QE_TYPE_Q5_K, QE_TYPE_Q6_K};

std::vector<const KernelTable*> avx512_tables() {
  std::vector<const KernelTable*> v;
  for (Isa i : {Isa::kAvx512, Isa::kAvx512Vnni})
    if (const KernelTable* t = isa_table(i)) v.push_back(t);
  return v;
}

std::vector<float> normal_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> v(n);
  for (auto& f : v) f = nd(rng);
  return v;
}

// Random bytes for every block, then the scale fields overwritten with finite fp16 values: covers
// every bit pattern of the quantized values (Q8_0's −128, Q6_K's scale −128, Q3_K's full scale
// range) that ref::quantize_row never produces.
std::vector<uint8_t> raw_blocks(qe_type t, int64_t rows, int64_t K, uint32_t seed) {
  const qe_type_info* info = qe_type_get(t);
  std::vector<uint8_t> w(qe_row_bytes(t, K) * static_cast<size_t>(rows));
  std::mt19937 rng(seed);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> ud(-0.05f, 0.05f);
  auto set_half = [&](uint8_t* p) {
    const uint16_t h = qe_fp32_to_fp16(ud(rng));
    std::memcpy(p, &h, 2);
  };
  for (size_t off = 0; off < w.size(); off += static_cast<size_t>(info->block_bytes)) {
    uint8_t* b = w.data() + off;
    switch (t) {
      case QE_TYPE_Q4_1: case QE_TYPE_Q5_1: set_half(b); set_half(b + 2); break;
      case QE_TYPE_Q2_K: set_half(b + offsetof(qe_block_q2_K, d)); set_half(b + offsetof(qe_block_q2_K, dmin)); break;
      case QE_TYPE_Q3_K: set_half(b + offsetof(qe_block_q3_K, d)); break;
      case QE_TYPE_Q4_K: case QE_TYPE_Q5_K: set_half(b); set_half(b + 2); break;
      case QE_TYPE_Q6_K: set_half(b + offsetof(qe_block_q6_K, d)); break;
      default: set_half(b); break;
    }
  }
  return w;
}

std::vector<uint8_t> quantize_acts(const KernelTable& tbl, qe_type t, const std::vector<float>& x, int64_t batch, int64_t K) {
  const ActLayout layout = a8_layout(t);
  const size_t xb = act_row_bytes(layout, K);
  std::vector<uint8_t> xq(xb * static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    if (layout == ActLayout::kBlock32)
      tbl.quantize_act32(x.data() + b * K, reinterpret_cast<ActBlock32*>(xq.data() + b * xb), K);
    else
      tbl.quantize_act256(x.data() + b * K, reinterpret_cast<qe_block_q8_K*>(xq.data() + b * xb), K);
  }
  return xq;
}

// Runs rows [0, rows) as `parts` threads would: contiguous whole-tile ranges.
template <typename F>
void run_parts(int32_t tile, int64_t rows, int parts, F&& f) {
  const int64_t tiles = (rows + tile - 1) / tile;
  for (int p = 0; p < parts; ++p) {
    const int64_t a = tiles * p / parts * tile, b = std::min(rows, tiles * (p + 1) / parts * tile);
    if (a < b) f(a, b);
  }
}

void check_a8(const KernelTable& tbl, qe_type t, const std::vector<uint8_t>& w, int64_t rows, int64_t K, int64_t batch,
              const std::vector<float>& x, int parts) {
  const MatmulKernels& mm = tbl.mm[t];
  std::vector<uint8_t> p(mm.packed_bytes(rows, K));
  mm.pack(w.data(), rows, K, p.data());
  const auto xq = quantize_acts(tbl, t, x, batch, K);
  const size_t xb = act_row_bytes(a8_layout(t), K), rb = qe_row_bytes(t, K);
  const int64_t ldy = rows + 5;
  std::vector<float> y(static_cast<size_t>(batch * ldy), -7.0f);
  run_parts(mm.tile, rows, parts, [&](int64_t r0, int64_t r1) {
    mm.gemm_a8(p.data(), rows, K, r0, r1, xq.data(), batch, y.data(), ldy);
  });
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      const float want = spec::dot_a8(t, w.data() + r * rb, xq.data() + b * xb, K);
      const float got = y[static_cast<size_t>(b * ldy + r)];
      ASSERT_EQ(std::memcmp(&want, &got, 4), 0) << "row " << r << " col " << b << ": got " << got << ", spec " << want;
    }
    for (int64_t r = rows; r < ldy; ++r) ASSERT_EQ(y[static_cast<size_t>(b * ldy + r)], -7.0f) << "wrote past the rows";
  }
}

void check_a16(const KernelTable& tbl, qe_type t, const std::vector<uint8_t>& w, int64_t rows, int64_t K, int64_t batch,
               const std::vector<float>& x, int parts) {
  const MatmulKernels& mm = tbl.mm[t];
  std::vector<uint8_t> p(mm.packed_bytes(rows, K));
  mm.pack(w.data(), rows, K, p.data());
  const int64_t ldy = rows + 5;
  std::vector<float> y(static_cast<size_t>(batch * ldy), -7.0f), yref(static_cast<size_t>(batch * rows));
  run_parts(mm.tile, rows, parts, [&](int64_t r0, int64_t r1) {
    mm.gemm_a16(p.data(), rows, K, r0, r1, x.data(), batch, y.data(), ldy);
  });
  ref::matmul(t, w.data(), rows, K, x.data(), batch, yref.data());
  std::vector<float> wrow(static_cast<size_t>(K));
  for (int64_t r = 0; r < rows; ++r) {
    ref::dequantize_row(t, w.data() + static_cast<size_t>(r) * qe_row_bytes(t, K), wrow.data(), K);
    for (int64_t b = 0; b < batch; ++b) {
      double mag = 0;
      for (int64_t k = 0; k < K; ++k) mag += std::fabs(static_cast<double>(wrow[k]) * x[b * K + k]);
      const double err = std::fabs(static_cast<double>(y[static_cast<size_t>(b * ldy + r)]) - yref[static_cast<size_t>(b * rows + r)]);
      ASSERT_LE(err, 1e-5 * mag + 1e-30) << "row " << r << " col " << b;
    }
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t rr = rows; rr < ldy; ++rr) ASSERT_EQ(y[static_cast<size_t>(b * ldy + rr)], -7.0f);
  }
}

// 8 + 8 + 1 columns exercise the full panel and a remainder; 600 rows of K = 4096 (Q4_0: 36 KiB
// per tile) span several tile groups; three "threads" split the rows.
TEST(Avx512Kernels, A8WidePanelsAndTileGroups) {
  for (const KernelTable* tbl : avx512_tables()) {
    for (qe_type t : kQuantTypes) {
      SCOPED_TRACE(std::string(isa_name(tbl->isa)) + " " + qe_type_get(t)->name);
      const int64_t rows = 600, K = 4096, batch = 17;
      const auto wf = normal_floats(static_cast<size_t>(rows * K), 1);
      std::vector<uint8_t> w(qe_row_bytes(t, K) * rows);
      for (int64_t r = 0; r < rows; ++r) ref::quantize_row(t, wf.data() + r * K, w.data() + r * qe_row_bytes(t, K), K);
      check_a8(*tbl, t, w, rows, K, batch, normal_floats(static_cast<size_t>(batch * K), 2), 3);
    }
  }
}

TEST(Avx512Kernels, A8RawBlocks) {
  for (const KernelTable* tbl : avx512_tables()) {
    for (qe_type t : kQuantTypes) {
      SCOPED_TRACE(std::string(isa_name(tbl->isa)) + " " + qe_type_get(t)->name);
      const int64_t rows = 45, K = 1024, batch = 9;
      auto x = normal_floats(static_cast<size_t>(batch * K), 4);
      for (int64_t k = 0; k < 256; ++k) x[k] = 0.0f;  // an all-zero activation block (d = 0)
      check_a8(*tbl, t, raw_blocks(t, rows, K, 3), rows, K, batch, x, 2);
    }
  }
}

TEST(Avx512Kernels, A16WidePanels) {
  for (const KernelTable* tbl : avx512_tables()) {
    for (qe_type t : {QE_TYPE_F32, QE_TYPE_F16, QE_TYPE_BF16, QE_TYPE_Q4_0, QE_TYPE_Q4_1, QE_TYPE_Q5_0, QE_TYPE_Q5_1,
                      QE_TYPE_Q8_0, QE_TYPE_Q2_K, QE_TYPE_Q3_K, QE_TYPE_Q4_K, QE_TYPE_Q5_K, QE_TYPE_Q6_K}) {
      SCOPED_TRACE(std::string(isa_name(tbl->isa)) + " " + qe_type_get(t)->name);
      const int64_t rows = 70, K = 1536, batch = 19;
      const auto wf = normal_floats(static_cast<size_t>(rows * K), 5);
      std::vector<uint8_t> w(qe_row_bytes(t, K) * rows);
      for (int64_t r = 0; r < rows; ++r) ref::quantize_row(t, wf.data() + r * K, w.data() + r * qe_row_bytes(t, K), K);
      check_a16(*tbl, t, w, rows, K, batch, normal_floats(static_cast<size_t>(batch * K), 6), 3);
    }
  }
}

TEST(Avx512Kernels, A16RawBlocks) {
  for (const KernelTable* tbl : avx512_tables()) {
    for (qe_type t : kQuantTypes) {
      SCOPED_TRACE(std::string(isa_name(tbl->isa)) + " " + qe_type_get(t)->name);
      const int64_t rows = 33, K = 512, batch = 3;
      check_a16(*tbl, t, raw_blocks(t, rows, K, 7), rows, K, batch, normal_floats(static_cast<size_t>(batch * K), 8), 2);
    }
  }
}

// One and two columns run the A16 "digits" kernel (activations split into int8 levels): blocks
// with 1000x outliers next to small values are its worst case and must stay within the bound.
TEST(Avx512Kernels, A16LevelsWithLargeOutliers) {
  for (const KernelTable* tbl : avx512_tables()) {
    for (qe_type t : kQuantTypes) {
      SCOPED_TRACE(std::string(isa_name(tbl->isa)) + " " + qe_type_get(t)->name);
      const int64_t rows = 40, K = 2048;
      const auto wf = normal_floats(static_cast<size_t>(rows * K), 9);
      std::vector<uint8_t> w(qe_row_bytes(t, K) * rows);
      for (int64_t r = 0; r < rows; ++r) ref::quantize_row(t, wf.data() + r * K, w.data() + r * qe_row_bytes(t, K), K);
      for (int64_t batch : {1, 3}) {
        auto x = normal_floats(static_cast<size_t>(batch * K), 10);
        for (size_t k = 0; k < x.size(); k += 37) x[k] *= 1000.0f;
        check_a16(*tbl, t, w, rows, K, batch, x, 1);
      }
    }
  }
}

}  // namespace
}  // namespace qe::cpu
