// Run-time CPU dispatch: detect the CPU once, pick one kernel table per weight type.
#pragma once

#include <string>

#include "cpu/cpu_kernels.h"

namespace qe::cpu {

struct CpuFeatures {
  std::string brand;
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
  bool os_avx = false, os_avx512 = false;  // the OS saves the YMM / ZMM state (XGETBV)
  bool neon = false, dotprod = false, i8mm = false;
};

// Detected once (CPUID + XGETBV on x86, hwcaps on Arm).
const CpuFeatures& cpu_features();

// Compiled into this binary and executable on this CPU.
bool isa_usable(Isa isa);
// That ISA's own table (nullptr when not usable): what the kernel tests iterate over.
const KernelTable* isa_table(Isa isa);
// The best usable ISA.
Isa best_isa();

// The table the engine uses: QE_CPU_ISA (scalar, avx2, avx512, avx512vnni, neon, neon-dotprod,
// neon-i8mm) may force a lower level; an unknown or unusable value is reported once on stderr
// and ignored. Per weight type the kernels come from the chosen ISA, or the closest lower one
// that has them (ultimately the scalar table); `qengine info --cpu` shows the choice per type.
const KernelTable& kernels();
Isa active_isa();

// Parses an ISA name as QE_CPU_ISA spells it.
bool parse_isa(const std::string& name, Isa* out);

}  // namespace qe::cpu
