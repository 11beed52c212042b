// CUDA backend stub for builds without CUDA (QE_CUDA=OFF): reports that it is absent.
#include <cstdio>

#include "qe_cuda.h"

extern "C" int qe_cuda_compiled(void) { return 0; }

extern "C" int qe_cuda_device_count(char* why, size_t capacity) {
  if (why != nullptr && capacity > 0) {
    std::snprintf(why, capacity, "qengine was built without CUDA (configure with -DQE_CUDA=ON)");
  }
  return 0;
}

extern "C" int qe_cuda_device_info_get(int, qe_cuda_device_info*) { return -1; }
