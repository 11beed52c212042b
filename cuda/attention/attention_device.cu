// attention_device.cu: decode attention built by nvcc for the GPU.
#include "attention/attention_device.h"
#include "attention/attention_dispatch.inl"
#include "common/launch.cuh"

namespace qe::cuda {

std::string attn_decode_device(const AttnDecodeArgs& a, cudaStream_t stream, bool overlap) {
  std::string why = attn_decode_check(a);
  if (!why.empty()) return why;
  const int chunks = attn_chunks(a.n_kv);
  float* pm = a.scratch;
  float* pl = pm + size_t(a.n_heads) * size_t(chunks);
  float* po = pl + size_t(a.n_heads) * size_t(chunks);
  cudaError_t e = cudaSuccess;
  attn_dispatch(a, [&](auto chunk_kernel, auto merge_kernel) {
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = dim3(unsigned(a.n_kv_heads), unsigned(chunks));
    cfg.blockDim = dim3(128);
    cfg.stream = stream;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = overlap ? 1 : 0;
    e = cudaLaunchKernelEx(&cfg, chunk_kernel, a.q, a.k, a.v, a.n_ctx, a.n_kv, a.scale, pm, pl, po);
    if (e == cudaSuccess) e = cudaGetLastError();
    if (e == cudaSuccess)
      e = launch_ex(merge_kernel, a.n_heads, a.head_dim, stream, overlap, static_cast<const float*>(pm),
                    static_cast<const float*>(pl), static_cast<const float*>(po), chunks, a.out);
  });
  return launch_error("attention", e);
}

}  // namespace qe::cuda
