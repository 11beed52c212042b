// attention_device.h: device launcher of decode attention (QE_HAVE_CUDA builds only).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "attention/attention.h"

namespace qe::cuda {

// Same contract as attn_decode_sim, on `stream` (two launches), device pointers.
std::string attn_decode_device(const AttnDecodeArgs& a, cudaStream_t stream, bool overlap = true);

}  // namespace qe::cuda
