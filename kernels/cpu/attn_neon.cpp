// The neon attention table (Armv8.0, no dot-product instructions): the generic driver and
// integer loops of attn-inl.h, vectorized by the compiler, with its NEON fp16 conversion.
#include <arm_neon.h>

#include <cstdint>

#include "cpu/attn.h"
#include "format/qe_format.h"

#define QE_ATTN_NS attn_impl_neon
#define QE_ATTN_ISA Isa::kNeon
#define QE_ATTN_NEON_CVT  // attn-inl.h's NEON fp16 conversion

#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_neon() { return &attn_impl_neon::kAttnTable; }
}  // namespace qe::cpu
