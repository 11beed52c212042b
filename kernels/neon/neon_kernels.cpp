// neon kernel table: plain Armv8.0 Advanced SIMD (compiled with -march=armv8-a): every weight type
// in both modes, integer dots through smull/smlal/sadalp (MullDot in neon_common-inl.h).
#include "cpu/cpu_kernels.h"
#include "neon/neon_quant-inl.h"

namespace qe::cpu {

const KernelTable* neon_table() {
  static const KernelTable t = make_table<MullDot>(Isa::kNeon);
  return &t;
}

}  // namespace qe::cpu
