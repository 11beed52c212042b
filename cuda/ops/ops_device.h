// ops_device.h: device launchers of the small decode-step kernels (QE_HAVE_CUDA builds only).
// Same contract as ops.h, on `stream`, with programmatic dependent launch when `overlap`.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "ops/ops.h"

namespace qe::cuda {

std::string rmsnorm_device(const RmsNormArgs& a, cudaStream_t stream, bool overlap = true);
std::string swiglu_device(const SwigluArgs& a, cudaStream_t stream, bool overlap = true);
std::string add_device(float* y, const float* x, int n, cudaStream_t stream, bool overlap = true);
std::string argmax_device(const ArgmaxArgs& a, cudaStream_t stream, bool overlap = true);

}  // namespace qe::cuda
