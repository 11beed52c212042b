// gemv_device.h: device launchers of the decode GEMVs (QE_HAVE_CUDA builds only).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "gemv/gemv.h"

namespace qe::cuda {

// Launches on `stream` (device pointers). Returns gemv_a16_check's message, or the launch
// error's text; empty on success. Does not synchronize. `overlap`: programmatic dependent
// launch (sm_90+), so the kernel streams its weights while the previous kernel of the stream
// finishes; it still reads x only after that kernel completes.
std::string gemv_a16_device(const GemvArgs& a, const GemvVariant& v, cudaStream_t stream, bool overlap = true);

// W8A8 / W4A8: the activation quantizer and the GEMV, on `stream` (same contract as above).
std::string quantize_a8_device(const QuantizeA8Args& a, cudaStream_t stream, bool overlap = true);
std::string gemv_a8_device(const GemvA8Args& a, cudaStream_t stream, bool overlap = true);

}  // namespace qe::cuda
