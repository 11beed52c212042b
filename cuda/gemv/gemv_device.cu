// gemv_device.cu: the decode GEMVs built by nvcc for the GPU.
#include "gemv/gemv_device.h"
#include "gemv/gemv_dispatch.inl"

namespace qe::cuda {

std::string gemv_a16_device(const GemvArgs& a, const GemvVariant& v, cudaStream_t stream, bool overlap) {
  std::string why = gemv_a16_check(a, v);
  if (!why.empty()) return why;
  cudaError_t launched = cudaSuccess;
  gemv_dispatch(a, v, [&](auto kernel, int blocks) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(unsigned(blocks));
    cfg.blockDim = dim3(kGemvThreads);
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = overlap ? 1 : 0;
    launched = cudaLaunchKernelEx(&cfg, kernel, a.codes, a.scales, a.rows, a.K, a.chunks, a.x, a.y);
  });
  const cudaError_t e = launched != cudaSuccess ? launched : cudaGetLastError();
  if (e != cudaSuccess) return std::string("gemv: launch failed: ") + cudaGetErrorString(e);
  return {};
}

}  // namespace qe::cuda
