/* qe_format_c_check.c: proves format/qe_format.h compiles as strict C11 (built in every configuration). */
#include "format/qe_format.h"

/* Touch the table, a block struct and the codecs so their C spellings are exercised. */
size_t qe_format_c_check(void);
size_t qe_format_c_check(void) {
  qe_block_q4_K block;
  memset(&block, 0, sizeof block);
  block.d = qe_fp32_to_fp16(qe_bf16_to_fp32(qe_fp32_to_bf16(1.0f)));
  const qe_type_info* info = qe_type_get(QE_TYPE_Q4_K);
  return (info != NULL ? (size_t)info->block_bytes : 0) + qe_row_bytes(QE_TYPE_Q8_0, 64) +
         (size_t)qe_fp16_to_fp32(block.d);
}
