// ops_dispatch.inl: argument checks and grid sizes shared by the simulator and device launchers.
#pragma once

#include <string>

#include "ops/ops.cuh"
#include "ops/ops.h"

namespace qe::cuda {

inline std::string rmsnorm_check(const RmsNormArgs& a) {
  if (a.n <= 0 || a.batch < 1) return "rmsnorm: need n > 0 and batch >= 1";
  if (a.x == nullptr || a.w == nullptr || a.out == nullptr) return "rmsnorm: null pointer";
  return {};
}

inline std::string swiglu_check(const SwigluArgs& a) {
  if (a.n <= 0 || a.batch < 1) return "swiglu: need n > 0 and batch >= 1";
  if (a.gu == nullptr || a.out == nullptr) return "swiglu: null pointer";
  return {};
}

inline std::string add_check(const float* y, const float* x, int n) {
  if (n <= 0) return "add: need n > 0";
  if (y == nullptr || x == nullptr) return "add: null pointer";
  return {};
}

inline std::string argmax_check(const ArgmaxArgs& a) {
  if (a.V <= 0 || a.batch < 1) return "argmax: need V > 0 and batch >= 1";
  if (a.logits == nullptr || a.ids == nullptr) return "argmax: null pointer";
  return {};
}

inline int ops_blocks(long long elements) { return int((elements + kOpsThreads - 1) / kOpsThreads); }

}  // namespace qe::cuda
