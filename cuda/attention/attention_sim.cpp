// attention_sim.cpp: decode attention built with the host compiler, run on the simulator.
#include "attention/attention_dispatch.inl"

namespace qe::cuda {

std::string attn_decode_sim(const AttnDecodeArgs& a) {
  std::string why = attn_decode_check(a);
  if (!why.empty()) return why;
  const int chunks = attn_chunks(a.n_kv);
  float* pm = a.scratch;
  float* pl = pm + size_t(a.n_heads) * size_t(chunks);
  float* po = pl + size_t(a.n_heads) * size_t(chunks);
  attn_dispatch(a, [&](auto chunk_kernel, auto merge_kernel) {
    qe::sim::launch(chunk_kernel, dim3(unsigned(a.n_kv_heads), unsigned(chunks)), dim3(128), 0, a.q, a.k, a.v, a.n_ctx,
                    a.n_kv, a.scale, pm, pl, po);
    qe::sim::launch(merge_kernel, dim3(unsigned(a.n_heads)), dim3(unsigned(a.head_dim)), 0, pm, pl, po, chunks, a.out);
  });
  return {};
}

}  // namespace qe::cuda
