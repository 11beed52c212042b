// ref.h: scalar reference kernels (the CPU oracle) for every format in format/qe_format.h.
#pragma once

#include <cstdint>

#include "format/qe_format.h"

namespace qe::ref {

// Rows are contiguous arrays of blocks; every `n` below is an element count that must be a
// multiple of the type's block_elems, and a bad type or `n` is a caller bug (always-on check).

// src: (n / block_elems) blocks of `t` -> dst: (n) floats. Bit-exact with gguf-py's dequantize.
void dequantize_row(qe_type t, const void* src, float* dst, int64_t n);

// src: (n) floats -> dst: (n / block_elems) blocks of `t`. Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 and the
// float types match gguf-py's quantizers bit for bit. K-quants use a min/max range per
// sub-block and pick the best of the floor/ceil roundings of each integer sub-scale (lowest
// squared error); every block is valid and its error is bounded by its own steps (see ref.cpp).
// Values beyond an fp16 scale's range saturate instead of producing Inf.
void quantize_row(qe_type t, const float* src, void* dst, int64_t n);

// sum_i x[i] * y[i] over n elements. x: blocks of `t`; y: blocks of type_ops(t)->vec_dot_type
// (quantize activations with quantize_row first). Integer products are summed in int32 per
// block and scaled once per block; blocks are summed in double.
float vec_dot(qe_type t, int64_t n, const void* x, const void* y);

// Y[b*rows + r] = sum_k dequant(W row r)[k] * X[b*K + k]
//   W: (rows, K) in `t`, row stride qe_row_bytes(t, K); X: (batch, K) floats; Y: (batch, rows).
// OpenMP over rows (static schedule); each thread dequantizes a row once and reuses it for the
// whole batch. Dots accumulate in double, so Y is within an ulp or two of the exact product.
void matmul(qe_type t, const void* W, int64_t rows, int64_t K, const float* X, int64_t batch, float* Y);

using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);
using VecDotFn = float (*)(int64_t n, const void* x, const void* y);

// Per-type entry points, one row per format of QE_FORMAT_LIST.
struct TypeOps {
  qe_type type;
  ToFloatFn to_float;      // dequantize a row
  FromFloatFn from_float;  // quantize a row
  VecDotFn vec_dot;        // dot of a row of `type` with a row of `vec_dot_type`
  qe_type vec_dot_type;
};

// The ops for `t`, or nullptr when `t` is not a supported format.
const TypeOps* type_ops(qe_type t);

}  // namespace qe::ref
