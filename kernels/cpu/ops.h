// Vector ops around the matmuls (norms, activations, attention pieces), one table per ISA.
#pragma once

#include <cstdint>

#include "cpu/cpu_kernels.h"

namespace qe::cpu {

struct OpsTable {
  // Σ a[i]·b[i] over n.
  float (*dot)(const float* a, const float* b, int64_t n);
  // y[i] += a · x[i].
  void (*axpy)(float a, const float* x, float* y, int64_t n);
  // y[i] *= a.
  void (*scale)(float a, float* y, int64_t n);
  // out[i] = x[i] / sqrt(mean(x²) + eps) · w[i].
  void (*rmsnorm)(float* out, const float* x, const float* w, int64_t n, float eps);
  // gate[i] = silu(gate[i]) · up[i].
  void (*swiglu)(float* gate, const float* up, int64_t n);
  // x[i] = exp(x[i] - max) in place; returns Σ of the results.
  float (*exp_sub_sum)(float* x, float max, int64_t n);
  // max over n (n ≥ 1).
  float (*max)(const float* x, int64_t n);
  // y[i] += x[i].
  void (*add)(float* y, const float* x, int64_t n);
};

// The table of the active ISA (see dispatch.h); the generic build otherwise.
const OpsTable& ops();

// Per-ISA builds of the same generic source (ops-inl.h), each compiled with its own flags.
const OpsTable* ops_generic();
const OpsTable* ops_avx2();    // nullptr where not compiled
const OpsTable* ops_avx512();
const OpsTable* ops_neon();

}  // namespace qe::cpu
