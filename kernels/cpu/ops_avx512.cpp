// The generic vector ops compiled for avx512 (flags set per file in kernels/CMakeLists.txt).
#define QE_OPS_NS ops_impl_avx512
#include "cpu/ops-inl.h"

namespace qe::cpu {
const OpsTable* ops_avx512() { return &ops_impl_avx512::kOps; }
}  // namespace qe::cpu
