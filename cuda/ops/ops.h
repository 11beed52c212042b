// ops.h: host entry points of the small decode-step kernels (ops.cuh), for the simulator build
// (always) and the device build (ops_device.h). Raw pointers and sizes; shapes are validated
// first and a message names the violated constraint (empty when the launch went ahead).
#pragma once

#include <cstdint>
#include <string>

namespace qe::cuda {

// out (batch, n) fp16 bits = rmsnorm(x (batch, n) fp32) * w (n) fp32.
struct RmsNormArgs {
  const float* x = nullptr;
  const float* w = nullptr;
  int n = 0;
  int batch = 1;
  float eps = 1e-5f;
  uint16_t* out = nullptr;
};

// out (batch, n) = silu(gate) * up, gate|up = gu (batch, 2n) fp32; out fp16 bits or fp32.
struct SwigluArgs {
  const float* gu = nullptr;
  int n = 0;
  int batch = 1;
  bool half_out = true;
  void* out = nullptr;
};

// ids (batch) = argmax of logits (batch, V), the CPU sampler's tie and NaN rules.
struct ArgmaxArgs {
  const float* logits = nullptr;
  int V = 0;
  int batch = 1;
  int32_t* ids = nullptr;
};

std::string rmsnorm_sim(const RmsNormArgs& a);
std::string swiglu_sim(const SwigluArgs& a);
std::string add_sim(float* y, const float* x, int n);
std::string argmax_sim(const ArgmaxArgs& a);

}  // namespace qe::cuda
