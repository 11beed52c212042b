// ops_sim.cpp: the small decode-step kernels built with the host compiler, run on the simulator.
#include "ops/ops_dispatch.inl"

namespace qe::cuda {

std::string rmsnorm_sim(const RmsNormArgs& a) {
  std::string why = rmsnorm_check(a);
  if (why.empty())
    qe::sim::launch(&rmsnorm_f16<kOpsThreads>, dim3(unsigned(a.batch)), dim3(kOpsThreads), 0, a.x, a.w, a.n, a.eps,
                    a.out);
  return why;
}

std::string swiglu_sim(const SwigluArgs& a) {
  std::string why = swiglu_check(a);
  if (!why.empty()) return why;
  const dim3 grid(unsigned(ops_blocks(1LL * a.n * a.batch)));
  if (a.half_out)
    qe::sim::launch(&swiglu<kOpsThreads, true>, grid, dim3(kOpsThreads), 0, a.gu, a.n, a.batch, a.out);
  else
    qe::sim::launch(&swiglu<kOpsThreads, false>, grid, dim3(kOpsThreads), 0, a.gu, a.n, a.batch, a.out);
  return {};
}

std::string add_sim(float* y, const float* x, int n) {
  std::string why = add_check(y, x, n);
  if (why.empty())
    qe::sim::launch(&add_inplace<kOpsThreads>, dim3(unsigned(ops_blocks(n))), dim3(kOpsThreads), 0, y, x, n);
  return why;
}

std::string argmax_sim(const ArgmaxArgs& a) {
  std::string why = argmax_check(a);
  if (why.empty())
    qe::sim::launch(&argmax<kOpsThreads>, dim3(unsigned(a.batch)), dim3(kOpsThreads), 0, a.logits, a.V, a.ids);
  return why;
}

}  // namespace qe::cuda
