// The generic vector ops compiled for avx2 (flags set per file in kernels/CMakeLists.txt).
#define QE_OPS_NS ops_impl_avx2
#include "cpu/ops-inl.h"

namespace qe::cpu {
const OpsTable* ops_avx2() { return &ops_impl_avx2::kOps; }
}  // namespace qe::cpu
