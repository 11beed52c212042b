// launch.cuh: the device launch helper shared by the launchers (nvcc translation units only).
#pragma once

#include <cuda_runtime.h>

#include <string>

namespace qe::cuda {

// Launches `kernel` on a `grid` of blocks of `threads` on `stream`; with `overlap`, as a programmatic
// dependent launch (sm_90+: the kernel may start before the previous one in the stream ends and
// waits for it in grid_dependency_wait()). Returns the launch's error, or the last error.
template <class... P, class... A>
cudaError_t launch_ex(void (*kernel)(P...), dim3 grid, int threads, cudaStream_t stream, bool overlap, A... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = dim3(unsigned(threads));
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = overlap ? 1 : 0;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, args...);
  return e != cudaSuccess ? e : cudaGetLastError();
}

// "" on success, else "<what>: launch failed: <CUDA's message>".
inline std::string launch_error(const char* what, cudaError_t e) {
  return e == cudaSuccess ? std::string() : std::string(what) + ": launch failed: " + cudaGetErrorString(e);
}

}  // namespace qe::cuda
