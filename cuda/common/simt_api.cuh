// simt_api.cuh: what a kernel source includes to be built both ways. Under nvcc it is the CUDA
// runtime; under the host compiler it is our SIMT simulator (cuda/sim/simt.h), which runs the
// threads of a block as real threads. Shared memory is declared through QE_SHARED /
// QE_DYN_SHARED so that the simulator can give every thread of a block the same arena.
#pragma once

// QE_DEVICE_FN: a helper that uses device-only intrinsics (shuffles, barriers), called from
// kernels only; ptx.cuh's QE_DEV helpers are host-device instead.
#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define QE_DEVICE_FN __device__ __forceinline__
#define QE_SHARED(Type, name, count)                   \
  __shared__ __align__(16) Type name##_storage[count]; \
  Type* name = name##_storage
#define QE_DYN_SHARED(Type, name)                               \
  extern __shared__ __align__(16) unsigned char name##_bytes[]; \
  Type* name = reinterpret_cast<Type*>(name##_bytes)
#else
#include "sim/simt.h"
#define QE_DEVICE_FN inline
#endif
