// neon-dotprod kernel table (compiled with -march=armv8.2-a+dotprod): every weight type in both
// modes; A8 integer dots are sdot by lane (SdotDot in neon_common-inl.h), four rows per sdot.
#include "cpu/cpu_kernels.h"
#include "neon/neon_quant-inl.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "neon_dotprod_kernels.cpp must be compiled with +dotprod (kernels/CMakeLists.txt)"
#endif

namespace qe::cpu {

const KernelTable* neon_dotprod_table() {
  static const KernelTable t = make_table<SdotDot>(Isa::kNeonDotprod);
  return &t;
}

}  // namespace qe::cpu
