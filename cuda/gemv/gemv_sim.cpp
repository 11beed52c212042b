// gemv_sim.cpp: the decode GEMVs built with the host compiler and run on the SIMT simulator.
#include "gemv/gemv_dispatch.inl"

namespace qe::cuda {

std::string gemv_a16_sim(const GemvArgs& a, const GemvVariant& v) {
  std::string why = gemv_a16_check(a, v);
  if (!why.empty()) return why;
  gemv_dispatch(a, v, [&](auto kernel, int blocks) {
    qe::sim::launch(kernel, dim3(unsigned(blocks)), dim3(kGemvThreads), 0, a.codes, a.scales, a.rows, a.K, a.chunks,
                    a.x, a.y);
  });
  return {};
}

}  // namespace qe::cuda
