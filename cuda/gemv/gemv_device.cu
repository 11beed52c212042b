// gemv_device.cu: the decode GEMVs built by nvcc for the GPU.
#include "common/launch.cuh"
#include "gemv/gemv_device.h"
#include "gemv/gemv_dispatch.inl"

namespace qe::cuda {

std::string gemv_a16_device(const GemvArgs& a, const GemvVariant& v, cudaStream_t stream, bool overlap) {
  std::string why = gemv_a16_check(a, v);
  if (!why.empty()) return why;
  cudaError_t e = cudaSuccess;
  gemv_dispatch(a, v, [&](auto kernel, int blocks) {
    e = launch_ex(kernel, dim3(unsigned(blocks)), kGemvThreads, stream, overlap, a.codes, a.scales, a.rows, a.K,
                  a.chunks, a.x, a.y);
  });
  return launch_error("gemv", e);
}

std::string quantize_a8_device(const QuantizeA8Args& a, cudaStream_t stream, bool overlap) {
  std::string why = quantize_a8_check(a);
  if (!why.empty()) return why;
  return launch_error("quantize a8", launch_ex(&quantize_act8<kQuantizeA8Threads>,
                                               dim3(unsigned(quantize_a8_blocks(a))), kQuantizeA8Threads, stream,
                                               overlap, a.x, a.K, a.batch, a.out.q, a.out.d, a.out.c, a.out.qsum));
}

std::string gemv_a8_device(const GemvA8Args& a, cudaStream_t stream, bool overlap) {
  std::string why = gemv_a8_check(a);
  if (!why.empty()) return why;
  cudaError_t e = cudaSuccess;
  gemv_a8_dispatch(a, [&](auto kernel, int blocks) {
    e = launch_ex(kernel, dim3(unsigned(blocks)), 128, stream, overlap, a.codes, a.scales, a.rows, a.K, a.chunks,
                  static_cast<const int8_t*>(a.x.q), static_cast<const float*>(a.x.d), static_cast<const float*>(a.x.c),
                  static_cast<const int16_t*>(a.x.qsum), a.y);
  });
  return launch_error("gemv a8", e);
}

}  // namespace qe::cuda
