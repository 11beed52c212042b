// Run-time CPU dispatch.
#include "cpu/dispatch.h"

#include "cpu/ops.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define QE_X86 1
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#define QE_ARM64 1
#endif

namespace qe::cpu {
namespace {

#ifdef QE_X86
// XGETBV(0) without requiring -mxsave: which register states the OS saves on context switch.
uint64_t xgetbv0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#ifdef QE_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      __get_cpuid(0x80000002u + i, &a, &b, &c, &d);
      std::memcpy(brand + 16 * i, &a, 4);
      std::memcpy(brand + 16 * i + 4, &b, 4);
      std::memcpy(brand + 16 * i + 8, &c, 4);
      std::memcpy(brand + 16 * i + 12, &d, 4);
    }
    f.brand = brand;
  }
  __get_cpuid(1, &a, &b, &c, &d);
  const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  if (osxsave && avx) {
    const uint64_t xcr0 = xgetbv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;
    f.os_avx512 = f.os_avx && (xcr0 & 0xE0) == 0xE0;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512vnni = (c >> 11) & 1;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.avxvnni = (a >> 4) & 1;
    f.avx512bf16 = (a >> 5) & 1;
  }
#elif defined(QE_ARM64)
  const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
  f.brand = "aarch64";
  f.neon = (hw & HWCAP_ASIMD) != 0;
  f.dotprod = (hw & HWCAP_ASIMDDP) != 0;
#ifdef HWCAP2_I8MM
  f.i8mm = (hw2 & HWCAP2_I8MM) != 0;
#else
  (void)hw2;
#endif
#endif
  return f;
}

bool cpu_can_run(Isa isa, const CpuFeatures& f) {
  const bool avx2 = f.os_avx && f.avx2 && f.fma && f.f16c;
  const bool avx512 = avx2 && f.os_avx512 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq;
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return avx2;
    case Isa::kAvx512: return avx512;
    case Isa::kAvx512Vnni: return avx512 && f.avx512vnni;
    case Isa::kAvx512Bf16: return avx512 && f.avx512vnni && f.avx512bf16;
    case Isa::kNeon: return f.neon;
    case Isa::kNeonDotprod: return f.neon && f.dotprod;
    case Isa::kNeonI8mm: return f.neon && f.dotprod && f.i8mm;
    case Isa::kCount: break;
  }
  return false;
}

const KernelTable* compiled_table(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return scalar_table();
    case Isa::kAvx2: return avx2_table();
    case Isa::kAvx512: return avx512_table();
    case Isa::kAvx512Vnni: return avx512vnni_table();
    case Isa::kAvx512Bf16: return nullptr;  // no bf16-specific kernels yet: kAvx512Vnni serves
    case Isa::kNeon: return neon_table();
    case Isa::kNeonDotprod: return neon_dotprod_table();
    case Isa::kNeonI8mm: return neon_i8mm_table();
    case Isa::kCount: break;
  }
  return nullptr;
}

constexpr const char* kNames[] = {"scalar", "avx2", "avx512", "avx512vnni", "avx512bf16", "neon", "neon-dotprod", "neon-i8mm"};

// The ISAs a table may fall back through, from `isa` down to scalar.
int lower(Isa isa) {
  switch (isa) {
    case Isa::kNeon: return static_cast<int>(Isa::kScalar);
    default: return static_cast<int>(isa) - 1;
  }
}

struct Active {
  Isa isa = Isa::kScalar;
  KernelTable table;
};

Active choose() {
  Active a;
  a.isa = best_isa();
  if (const char* env = std::getenv("QE_CPU_ISA"); env != nullptr && *env != '\0') {
    Isa forced;
    if (!parse_isa(env, &forced)) {
      std::fprintf(stderr, "qengine: warning: QE_CPU_ISA=%s is not an ISA name; using %s\n", env, isa_name(a.isa));
    } else if (!isa_usable(forced)) {
      std::fprintf(stderr, "qengine: warning: QE_CPU_ISA=%s cannot run here (not compiled in or not supported by this CPU); using %s\n",
                   env, isa_name(a.isa));
    } else {
      a.isa = forced;
    }
  }
  // Per type: the first table at or below the chosen ISA that has kernels for it.
  a.table.isa = a.isa;
  for (int t = 0; t < QE_TYPE_COUNT; ++t) {
    for (int i = static_cast<int>(a.isa); i >= 0; i = i == 0 ? -1 : lower(static_cast<Isa>(i))) {
      const KernelTable* k = isa_usable(static_cast<Isa>(i)) ? compiled_table(static_cast<Isa>(i)) : nullptr;
      if (k != nullptr && k->mm[t].tile > 0) {
        a.table.mm[t] = k->mm[t];
        break;
      }
    }
  }
  for (int i = static_cast<int>(a.isa); i >= 0; i = i == 0 ? -1 : lower(static_cast<Isa>(i))) {
    const KernelTable* k = isa_usable(static_cast<Isa>(i)) ? compiled_table(static_cast<Isa>(i)) : nullptr;
    if (k == nullptr) continue;
    if (a.table.quantize_act32 == nullptr) a.table.quantize_act32 = k->quantize_act32;
    if (a.table.quantize_act256 == nullptr) a.table.quantize_act256 = k->quantize_act256;
  }
  return a;
}

const Active& active() {
  static const Active a = choose();
  return a;
}

}  // namespace

const char* isa_name(Isa isa) {
  const auto i = static_cast<size_t>(isa);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

bool parse_isa(const std::string& name, Isa* out) {
  for (size_t i = 0; i < std::size(kNames); ++i) {
    if (name == kNames[i]) {
      *out = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_usable(Isa isa) { return cpu_can_run(isa, cpu_features()) && compiled_table(isa) != nullptr; }

const KernelTable* isa_table(Isa isa) { return isa_usable(isa) ? compiled_table(isa) : nullptr; }

Isa best_isa() {
  Isa best = Isa::kScalar;
  for (int i = 0; i < static_cast<int>(Isa::kCount); ++i) {
    if (isa_usable(static_cast<Isa>(i))) best = static_cast<Isa>(i);
  }
  return best;
}

const KernelTable& kernels() { return active().table; }

const OpsTable& ops() {
  static const OpsTable* const t = [] {
    const OpsTable* o = nullptr;
    switch (active_isa()) {
      case Isa::kAvx512: case Isa::kAvx512Vnni: case Isa::kAvx512Bf16: o = ops_avx512(); break;
      case Isa::kAvx2: o = ops_avx2(); break;
      case Isa::kNeon: case Isa::kNeonDotprod: case Isa::kNeonI8mm: o = ops_neon(); break;
      default: break;
    }
    return o != nullptr ? o : ops_generic();
  }();
  return *t;
}
Isa active_isa() { return active().isa; }

}  // namespace qe::cpu
