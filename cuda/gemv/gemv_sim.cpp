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

std::string quantize_a8_sim(const QuantizeA8Args& a) {
  std::string why = quantize_a8_check(a);
  if (!why.empty()) return why;
  qe::sim::launch(&quantize_act8<kQuantizeA8Threads>, dim3(unsigned(quantize_a8_blocks(a))), dim3(kQuantizeA8Threads),
                  0, a.x, a.K, a.batch, a.out.q, a.out.d, a.out.c, a.out.qsum);
  return {};
}

std::string gemv_a8_sim(const GemvA8Args& a) {
  std::string why = gemv_a8_check(a);
  if (!why.empty()) return why;
  gemv_a8_dispatch(a, [&](auto kernel, int blocks) {
    qe::sim::launch(kernel, dim3(unsigned(blocks)), dim3(128), 0, a.codes, a.scales, a.rows, a.K, a.chunks, a.x.q,
                    a.x.d, a.x.c, a.x.qsum, a.y);
  });
  return {};
}

}  // namespace qe::cuda
