// attention_sim.cpp: decode attention built with the host compiler, run on the simulator.
#include "attention/attention_dispatch.inl"

namespace qe::cuda {

std::string attn_decode_sim(const AttnDecodeArgs& a) {
  std::string why = attn_decode_check(a);
  if (!why.empty()) return why;
  const int chunks = attn_chunks(a.n_kv);
  const AttnScratch s = attn_scratch(a);
  attn_dispatch(a, [&](auto chunk_kernel, auto merge_kernel) {
    qe::sim::launch(chunk_kernel, dim3(unsigned(a.n_kv_heads), unsigned(chunks)), dim3(128), 0, a.q, a.k, a.v, a.n_ctx,
                    a.n_kv, a.scale, s.m, s.l, s.o);
    qe::sim::launch(merge_kernel, dim3(unsigned(a.n_heads)), dim3(unsigned(a.head_dim)), 0, s.m, s.l, s.o, chunks,
                    a.out);
  });
  return {};
}

}  // namespace qe::cuda
