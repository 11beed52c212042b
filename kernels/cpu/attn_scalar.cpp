// The scalar attention table: the generic driver and integer loops at the baseline ISA. This is
// the specification of attn.h that every other table matches bit for bit.
#define QE_ATTN_NS attn_impl_scalar
#define QE_ATTN_ISA Isa::kScalar
#include "cpu/attn-inl.h"

namespace qe::cpu {
const AttnTable* attn_scalar() { return &attn_impl_scalar::kAttnTable; }
}  // namespace qe::cpu
