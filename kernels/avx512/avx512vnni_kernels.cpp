// avx512vnni kernel table (AVX-512 F/BW/VL/DQ + VNNI): every weight type in both modes, u8·s8 dots via vpdpbusd.
//
// Same packed layouts and kernels as the avx512 table (avx512_layout-inl.h,
// avx512_matmul-inl.h), instantiated with the VNNI group dot (DotVnni in avx512_common-inl.h).
#include "avx512/avx512_matmul-inl.h"

#ifndef __AVX512VNNI__
#error "avx512vnni_kernels.cpp must be compiled with -mavx512vnni (see kernels/CMakeLists.txt)"
#endif

namespace qe::cpu {

const KernelTable* avx512vnni_table() {
  static const KernelTable t = avx512::build_table<avx512::DotVnni>(Isa::kAvx512Vnni);
  return &t;
}

}  // namespace qe::cpu
