// CUDA backend: device discovery. Kernels arrive with the GPU issues; every call is checked.
#include <cuda_runtime.h>

#include <cstdio>
#include <cstring>

#include "qe_cuda.h"

namespace {

void write_reason(char* why, size_t capacity, const char* what, cudaError_t e) {
  if (why != nullptr && capacity > 0) std::snprintf(why, capacity, "%s: %s", what, cudaGetErrorString(e));
}

}  // namespace

extern "C" int qe_cuda_compiled(void) { return 1; }

extern "C" int qe_cuda_device_count(char* why, size_t capacity) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    write_reason(why, capacity, "no usable CUDA device", e);
    cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  return n;
}

extern "C" int qe_cuda_device_info_get(int index, qe_cuda_device_info* info) {
  if (info == nullptr) return -1;
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, index) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  std::memset(info, 0, sizeof(*info));
  std::strncpy(info->name, p.name, sizeof(info->name) - 1);
  info->compute_major = p.major;
  info->compute_minor = p.minor;
  info->total_memory = p.totalGlobalMem;
  return 0;
}
