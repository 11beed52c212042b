// ops_device.cu: the small decode-step kernels built by nvcc for the GPU.
#include "common/launch.cuh"
#include "ops/ops_device.h"
#include "ops/ops_dispatch.inl"

namespace qe::cuda {

std::string rmsnorm_device(const RmsNormArgs& a, cudaStream_t stream, bool overlap) {
  std::string why = rmsnorm_check(a);
  if (!why.empty()) return why;
  return launch_error("rmsnorm", launch_ex(&rmsnorm_f16<kOpsThreads>, dim3(unsigned(a.batch)), kOpsThreads, stream,
                                           overlap, a.x, a.w, a.n, a.eps, a.out));
}

std::string swiglu_device(const SwigluArgs& a, cudaStream_t stream, bool overlap) {
  std::string why = swiglu_check(a);
  if (!why.empty()) return why;
  const int blocks = ops_blocks(1LL * a.n * a.batch);
  const cudaError_t e = a.half_out ? launch_ex(&swiglu<kOpsThreads, true>, dim3(unsigned(blocks)), kOpsThreads, stream,
                                               overlap, a.gu, a.n, a.batch, a.out)
                                   : launch_ex(&swiglu<kOpsThreads, false>, dim3(unsigned(blocks)), kOpsThreads, stream,
                                               overlap, a.gu, a.n, a.batch, a.out);
  return launch_error("swiglu", e);
}

std::string add_device(float* y, const float* x, int n, cudaStream_t stream, bool overlap) {
  std::string why = add_check(y, x, n);
  if (!why.empty()) return why;
  return launch_error("add", launch_ex(&add_inplace<kOpsThreads>, dim3(unsigned(ops_blocks(n))), kOpsThreads, stream,
                                       overlap, y, x, n));
}

std::string argmax_device(const ArgmaxArgs& a, cudaStream_t stream, bool overlap) {
  std::string why = argmax_check(a);
  if (!why.empty()) return why;
  return launch_error("argmax", launch_ex(&argmax<kOpsThreads>, dim3(unsigned(a.batch)), kOpsThreads, stream, overlap,
                                          a.logits, a.V, a.ids));
}

}  // namespace qe::cuda
