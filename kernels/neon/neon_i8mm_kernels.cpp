// neon_i8mm kernel table (placeholder until its kernels land: no types, so dispatch falls back).
#include "cpu/cpu_kernels.h"

namespace qe::cpu {
const KernelTable* neon_i8mm_table() { return nullptr; }
}  // namespace qe::cpu
