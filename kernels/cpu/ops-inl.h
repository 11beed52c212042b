// Generic vector ops, written so the compiler vectorizes them for whatever ISA the including
// file is compiled for: independent accumulators instead of one serial sum (no -ffast-math
// needed), branch-free loops, and an exp with a fixed polynomial instead of libm's call.
// Included by ops_generic.cpp, ops_avx2.cpp, ops_avx512.cpp and ops_neon.cpp only.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/ops.h"

namespace qe::cpu::QE_OPS_NS {
namespace {

constexpr int kLanes = 16;  // independent partial sums: wide enough for a zmm of floats

float dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

void add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

float max(const float* x, int64_t n) {
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = x[0];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = acc[l] > x[i + l] ? acc[l] : x[i + l];
  float m = x[0];
  for (; i < n; ++i) m = m > x[i] ? m : x[i];
  for (int l = 0; l < kLanes; ++l) m = m > acc[l] ? m : acc[l];
  return m;
}

void rmsnorm(float* out, const float* x, const float* w, int64_t n, float eps) {
  const float ss = dot(x, x, n);
  const float inv = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * inv * w[i];
}

#include "cpu/fast_exp-inl.h"

float exp_sub_sum(float* x, float mx, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      x[i + l] = fast_exp(x[i + l] - mx);
      acc[l] += x[i + l];
    }
  float s = 0.0f;
  for (; i < n; ++i) {
    x[i] = fast_exp(x[i] - mx);
    s += x[i];
  }
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

void swiglu(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + fast_exp(-gate[i])) * up[i];
}

}  // namespace

const OpsTable kOps = {&dot, &axpy, &scale, &rmsnorm, &swiglu, &exp_sub_sum, &max, &add};

}  // namespace qe::cpu::QE_OPS_NS
