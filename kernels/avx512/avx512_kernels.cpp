// avx512 kernel table (AVX-512 F/BW/VL/DQ, no VNNI): every weight type in both modes, u8·s8 dots via vpmaddubsw + vpmaddwd.
//
// The layouts, kernels and drivers are shared with the VNNI table (avx512_layout-inl.h,
// avx512_matmul-inl.h); this file picks the BW group dot (DotBw in avx512_common-inl.h).
#include "avx512/avx512_matmul-inl.h"

namespace qe::cpu {

const KernelTable* avx512_table() {
  static const KernelTable t = avx512::build_table<avx512::DotBw>(Isa::kAvx512);
  return &t;
}

}  // namespace qe::cpu
