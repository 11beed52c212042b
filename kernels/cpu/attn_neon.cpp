// The neon attention table (Armv8.0, no dot-product instructions): the generic driver and
// integer loops of attn-inl.h, vectorized by the compiler, with NEON fp16 conversion.
#include <arm_neon.h>

#include <cstdint>

#include "cpu/attn.h"
#include "format/qe_format.h"

#define QE_ATTN_NS attn_impl_neon
#define QE_ATTN_ISA Isa::kNeon
#define QE_ATTN_OWN_CVT

namespace qe::cpu::QE_ATTN_NS {
namespace {

// fp16 → fp32, 4 at a time (fcvtl is exact).
void cvt_f16(const uint16_t* h, float* f, int32_t n) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(f + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + i))));
  for (; i < n; ++i) f[i] = qe_fp16_to_fp32(h[i]);
}

}  // namespace
}  // namespace qe::cpu::QE_ATTN_NS

#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_neon() { return &attn_impl_neon::kAttnTable; }
}  // namespace qe::cpu
