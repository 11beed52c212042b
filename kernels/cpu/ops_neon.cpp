// The generic vector ops compiled for neon (flags set per file in kernels/CMakeLists.txt).
#define QE_OPS_NS ops_impl_neon
#include "cpu/ops-inl.h"

namespace qe::cpu {
const OpsTable* ops_neon() { return &ops_impl_neon::kOps; }
}  // namespace qe::cpu
