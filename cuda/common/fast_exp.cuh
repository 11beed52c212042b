// fast_exp.cuh: the CPU's exp (kernels/cpu/fast_exp-inl.h: Cephes' polynomial, no libm call)
// written again for the device, operation for operation: cuda/ sees only the format table, and
// the ops test keeps the two copies equal bit for bit (SwiGLU against the CPU op).
#pragma once

#include "common/simt_api.cuh"

namespace qe::cuda {

QE_DEVICE_FN float cpu_fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  const float k = rintf(x * kLog2e);
  const float r = (x - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * __int_as_float((int(k) + 127) << 23);
}

}  // namespace qe::cuda
