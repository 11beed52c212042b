// On Arm builds the x86 tables do not exist.
#include "cpu/cpu_kernels.h"
#include "cpu/ops.h"

namespace qe::cpu {
const KernelTable* avx2_table() { return nullptr; }
const KernelTable* avx512_table() { return nullptr; }
const KernelTable* avx512vnni_table() { return nullptr; }
const OpsTable* ops_avx2() { return nullptr; }
const OpsTable* ops_avx512() { return nullptr; }
}  // namespace qe::cpu
