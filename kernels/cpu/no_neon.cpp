// On x86 builds the Arm tables do not exist.
#include "cpu/cpu_kernels.h"
#include "cpu/ops.h"

namespace qe::cpu {
const KernelTable* neon_table() { return nullptr; }
const KernelTable* neon_dotprod_table() { return nullptr; }
const KernelTable* neon_i8mm_table() { return nullptr; }
const OpsTable* ops_neon() { return nullptr; }
}  // namespace qe::cpu
