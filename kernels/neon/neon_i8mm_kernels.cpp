// neon-i8mm kernel table (compiled with -march=armv8.6-a+dotprod+i8mm): the dotprod table's
// layouts and kernels, with A8 GEMM on column pairs through smmla (I8mmDot in neon_common-inl.h).
//
// smmla only pays when two activation columns share the weights, so what i8mm brings nothing to
// is deliberately the dotprod code, instantiated here from the same shared templates
// (neon_quant-inl.h): A16 for every type, the float types, and A8 GEMV (batch 1) and odd
// leftover columns, which take I8mmDot's inherited sdot primitives.
#include "cpu/cpu_kernels.h"
#include "neon/neon_quant-inl.h"

#if !defined(__ARM_FEATURE_MATMUL_INT8) || !defined(__ARM_FEATURE_DOTPROD)
#error "neon_i8mm_kernels.cpp must be compiled with +dotprod+i8mm (kernels/CMakeLists.txt)"
#endif

namespace qe::cpu {

const KernelTable* neon_i8mm_table() {
  static const KernelTable t = make_table<I8mmDot>(Isa::kNeonI8mm);
  return &t;
}

}  // namespace qe::cpu
