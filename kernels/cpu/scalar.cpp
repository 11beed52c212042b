// Scalar kernel table: GGUF layout (no repacking), A16 through the reference codecs and A8
// through the specification itself. Always present; every other table falls back to it.
#include <cstring>
#include <vector>

#include "cpu/a8_spec.h"
#include "cpu/cpu_kernels.h"
#include "ref/ref.h"

namespace qe::cpu {
namespace {

template <qe_type T>
size_t packed_bytes(int64_t rows, int64_t K) {
  return static_cast<size_t>(rows) * qe_row_bytes(T, K);
}

template <qe_type T>
void pack(const void* src, int64_t rows, int64_t K, void* dst) {
  std::memcpy(dst, src, packed_bytes<T>(rows, K));
}

template <qe_type T>
void gemm_a16(const void* w, int64_t rows, int64_t K, int64_t r0, int64_t r1, const float* x, int64_t batch,
              float* y, int64_t ldy) {
  const size_t rb = qe_row_bytes(T, K);
  thread_local std::vector<float> row;  // (K) one dequantized weight row
  row.resize(static_cast<size_t>(K));
  for (int64_t r = r0; r < r1; ++r) {
    ref::dequantize_row(T, static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * rb, row.data(), K);
    for (int64_t b = 0; b < batch; ++b) {
      double acc = 0.0;
      const float* xb = x + b * K;
      for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(row[static_cast<size_t>(k)]) * xb[k];
      y[b * ldy + r] = static_cast<float>(acc);
    }
  }
  (void)rows;
}

template <qe_type T>
void gemm_a8(const void* w, int64_t rows, int64_t K, int64_t r0, int64_t r1, const void* xq, int64_t batch,
             float* y, int64_t ldy) {
  const size_t rb = qe_row_bytes(T, K);
  const size_t xb = act_row_bytes(a8_layout(T), K);
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t b = 0; b < batch; ++b) {
      y[b * ldy + r] = spec::dot_a8(T, static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * rb,
                                    static_cast<const uint8_t*>(xq) + static_cast<size_t>(b) * xb, K);
    }
  }
  (void)rows;
}

template <qe_type T>
MatmulKernels make(bool a8) {
  MatmulKernels m;
  m.tile = 1;
  m.packed_bytes = &packed_bytes<T>;
  m.pack = &pack<T>;
  m.gemm_a16 = &gemm_a16<T>;
  m.gemm_a8 = a8 ? &gemm_a8<T> : nullptr;
  return m;
}

KernelTable build() {
  KernelTable t;
  t.isa = Isa::kScalar;
  t.mm[QE_TYPE_F32] = make<QE_TYPE_F32>(false);
  t.mm[QE_TYPE_F16] = make<QE_TYPE_F16>(false);
  t.mm[QE_TYPE_BF16] = make<QE_TYPE_BF16>(false);
  t.mm[QE_TYPE_Q4_0] = make<QE_TYPE_Q4_0>(true);
  t.mm[QE_TYPE_Q4_1] = make<QE_TYPE_Q4_1>(true);
  t.mm[QE_TYPE_Q5_0] = make<QE_TYPE_Q5_0>(true);
  t.mm[QE_TYPE_Q5_1] = make<QE_TYPE_Q5_1>(true);
  t.mm[QE_TYPE_Q8_0] = make<QE_TYPE_Q8_0>(true);
  t.mm[QE_TYPE_Q2_K] = make<QE_TYPE_Q2_K>(true);
  t.mm[QE_TYPE_Q3_K] = make<QE_TYPE_Q3_K>(true);
  t.mm[QE_TYPE_Q4_K] = make<QE_TYPE_Q4_K>(true);
  t.mm[QE_TYPE_Q5_K] = make<QE_TYPE_Q5_K>(true);
  t.mm[QE_TYPE_Q6_K] = make<QE_TYPE_Q6_K>(true);
  t.quantize_act32 = &spec::quantize_act32;
  t.quantize_act256 = &spec::quantize_act256;
  return t;
}

}  // namespace

ActLayout a8_layout(qe_type t) {
  switch (t) {
    case QE_TYPE_Q4_0: case QE_TYPE_Q4_1: case QE_TYPE_Q5_0: case QE_TYPE_Q5_1: case QE_TYPE_Q8_0:
      return ActLayout::kBlock32;
    case QE_TYPE_Q2_K: case QE_TYPE_Q3_K: case QE_TYPE_Q4_K: case QE_TYPE_Q5_K: case QE_TYPE_Q6_K:
      return ActLayout::kBlock256;
    default:
      return ActLayout::kNone;
  }
}

size_t act_row_bytes(ActLayout layout, int64_t K) {
  switch (layout) {
    case ActLayout::kBlock32: return static_cast<size_t>(K / 32) * sizeof(ActBlock32);
    case ActLayout::kBlock256: return static_cast<size_t>(K / 256) * sizeof(qe_block_q8_K);
    case ActLayout::kNone: return 0;
  }
  return 0;
}

const KernelTable* scalar_table() {
  static const KernelTable t = build();
  return &t;
}

}  // namespace qe::cpu
