// attention_device.cu: decode attention built by nvcc for the GPU.
#include "attention/attention_device.h"
#include "attention/attention_dispatch.inl"
#include "common/launch.cuh"

namespace qe::cuda {

std::string attn_decode_device(const AttnDecodeArgs& a, cudaStream_t stream, bool overlap) {
  std::string why = attn_decode_check(a);
  if (!why.empty()) return why;
  const int chunks = attn_chunks(a.n_kv);
  const AttnScratch s = attn_scratch(a);
  cudaError_t e = cudaSuccess;
  attn_dispatch(a, [&](auto chunk_kernel, auto merge_kernel) {
    e = launch_ex(chunk_kernel, dim3(unsigned(a.n_kv_heads), unsigned(chunks)), 128, stream, overlap, a.q, a.k, a.v,
                  a.n_ctx, a.n_kv, a.scale, s.m, s.l, s.o);
    if (e == cudaSuccess)
      e = launch_ex(merge_kernel, dim3(unsigned(a.n_heads)), a.head_dim, stream, overlap,
                    static_cast<const float*>(s.m), static_cast<const float*>(s.l), static_cast<const float*>(s.o),
                    chunks, a.out);
  });
  return launch_error("attention", e);
}

}  // namespace qe::cuda
