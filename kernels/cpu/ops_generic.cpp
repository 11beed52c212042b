// The generic vector ops compiled for generic (flags set per file in kernels/CMakeLists.txt).
#define QE_OPS_NS ops_impl_generic
#include "cpu/ops-inl.h"

namespace qe::cpu {
const OpsTable* ops_generic() { return &ops_impl_generic::kOps; }
}  // namespace qe::cpu
