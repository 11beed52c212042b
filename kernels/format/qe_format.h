/* qe_format.h: the one list of weight/activation formats (GGML ids), their block layouts and scalar fp16/bf16 codecs. */
#ifndef QE_FORMAT_H_
#define QE_FORMAT_H_

/* Header-only and C-compatible: included by C11, C++20 and CUDA translation units alike.
 * Keep it free of C++ headers, intrinsics and anything host-only outside qe_type_get. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define QE_HOST_DEVICE __host__ __device__
#else
#define QE_HOST_DEVICE
#endif

#ifdef __cplusplus
#define QE_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define QE_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Elements per K-quant super-block (GGML's QK_K). */
#define QE_QK_K 256

/* How a block stores its scale(s).
 *   SUBn: one fp16 super-block scale (plus an fp16 "dmin" when the format has a min) and
 *         n-bit integer sub-block scales, one per group_size elements. */
typedef enum qe_scale_type {
  QE_SCALE_NONE = 0,    /* plain floats: F32, F16, BF16 */
  QE_SCALE_F16 = 1,     /* one fp16 scale (and fp16 min) per block */
  QE_SCALE_F32 = 2,     /* one fp32 scale per block (Q8_K) */
  QE_SCALE_F16_SUB4 = 3, /* Q2_K: 4-bit sub-scales and 4-bit sub-mins */
  QE_SCALE_F16_SUB6 = 4, /* Q3_K (signed, stored +32), Q4_K/Q5_K (scale and min) */
  QE_SCALE_F16_SUB8 = 5  /* Q6_K: int8 sub-scales */
} qe_scale_type;

/* ---------------------------------------------------------------------------------------------
 * THE format list. One row per supported format; the enum, the runtime table (qe_type_get), the
 * block-size static_asserts and qe::FormatTraits are all generated from it.
 *
 *   X(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt)
 *     NAME    on-disk name (GGUF/GGML spelling) and enum suffix: QE_TYPE_<NAME>
 *     id      GGML on-disk type id (ids not listed are unknown to qengine)
 *     block   C type of one block (the struct below, or the scalar for plain floats)
 *     blck    elements per block
 *     bytes   bytes per block
 *     bits    bits per quantized value, scales excluded (bits per weight is derived: 8*bytes/blck)
 *     has_min 1 when the block stores an offset/min: x = d*q - m (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K)
 *     scale   qe_scale_type
 *     group   elements sharing one (sub-)scale
 *     vdt     vec_dot activation type: the format the other operand of vec_dot must be in.
 *             _0 types pair with Q8_0; _1 types pair with Q8_1 (its per-block sum folds the min
 *             term); K-quants pair with Q8_K; plain floats pair with F32 (no activation rounding).
 * ------------------------------------------------------------------------------------------- */
#define QE_FORMAT_LIST(X)                                                                \
  X(F32,  0,  float,          1,   4,   32, 0, QE_SCALE_NONE,     1,   F32)              \
  X(F16,  1,  uint16_t,       1,   2,   16, 0, QE_SCALE_NONE,     1,   F32)              \
  X(Q4_0, 2,  qe_block_q4_0,  32,  18,  4,  0, QE_SCALE_F16,      32,  Q8_0)             \
  X(Q4_1, 3,  qe_block_q4_1,  32,  20,  4,  1, QE_SCALE_F16,      32,  Q8_1)             \
  X(Q5_0, 6,  qe_block_q5_0,  32,  22,  5,  0, QE_SCALE_F16,      32,  Q8_0)             \
  X(Q5_1, 7,  qe_block_q5_1,  32,  24,  5,  1, QE_SCALE_F16,      32,  Q8_1)             \
  X(Q8_0, 8,  qe_block_q8_0,  32,  34,  8,  0, QE_SCALE_F16,      32,  Q8_0)             \
  X(Q8_1, 9,  qe_block_q8_1,  32,  36,  8,  0, QE_SCALE_F16,      32,  Q8_1)             \
  X(Q2_K, 10, qe_block_q2_K,  256, 84,  2,  1, QE_SCALE_F16_SUB4, 16,  Q8_K)             \
  X(Q3_K, 11, qe_block_q3_K,  256, 110, 3,  0, QE_SCALE_F16_SUB6, 16,  Q8_K)             \
  X(Q4_K, 12, qe_block_q4_K,  256, 144, 4,  1, QE_SCALE_F16_SUB6, 32,  Q8_K)             \
  X(Q5_K, 13, qe_block_q5_K,  256, 176, 5,  1, QE_SCALE_F16_SUB6, 32,  Q8_K)             \
  X(Q6_K, 14, qe_block_q6_K,  256, 210, 6,  0, QE_SCALE_F16_SUB8, 16,  Q8_K)             \
  X(Q8_K, 15, qe_block_q8_K,  256, 292, 8,  0, QE_SCALE_F32,      256, Q8_K)             \
  X(BF16, 30, uint16_t,       1,   2,   16, 0, QE_SCALE_NONE,     1,   F32)

#define QE_FORMAT_ENUM_ROW_(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt) \
  QE_TYPE_##NAME = id,
/* The GGML type ids qengine knows. QE_TYPE_COUNT bounds every GGML id up to BF16. */
typedef enum qe_type { QE_FORMAT_LIST(QE_FORMAT_ENUM_ROW_) QE_TYPE_COUNT = 31 } qe_type;
#undef QE_FORMAT_ENUM_ROW_

/* ---------------------------------------------------------------------------------------------
 * Block layouts, byte for byte as GGML writes them to GGUF. Halves are raw IEEE binary16 bits in
 * a uint16_t (convert with qe_fp16_to_fp32). Every struct is naturally packed (no padding): the
 * static_asserts generated from the list below prove it.
 * ------------------------------------------------------------------------------------------- */

/* Q4_0: x[i] = d * (q[i] - 8), q in [0, 15].
 * qs[j] holds element j in its low nibble and element j + 16 in its high nibble. */
typedef struct qe_block_q4_0 {
  uint16_t d;      /* fp16 scale */
  uint8_t qs[16];  /* 32 x 4-bit */
} qe_block_q4_0;

/* Q4_1: x[i] = d * q[i] + m, q in [0, 15]; nibbles as Q4_0. */
typedef struct qe_block_q4_1 {
  uint16_t d;      /* fp16 scale */
  uint16_t m;      /* fp16 min (added) */
  uint8_t qs[16];
} qe_block_q4_1;

/* Q5_0: x[i] = d * (q[i] - 16), q in [0, 31]. Low 4 bits as Q4_0; bit 4 of element i is bit i
 * of qh read as a little-endian uint32 (kept as bytes: the struct is only 2-byte aligned). */
typedef struct qe_block_q5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
} qe_block_q5_0;

/* Q5_1: x[i] = d * q[i] + m, q in [0, 31]; bits as Q5_0. */
typedef struct qe_block_q5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
} qe_block_q5_1;

/* Q8_0: x[i] = d * q[i], q in [-127, 127]. */
typedef struct qe_block_q8_0 {
  uint16_t d;
  int8_t qs[32];
} qe_block_q8_0;

/* Q8_1: x[i] = d * q[i]; s = d * sum(q) (fp16) lets a Q4_1/Q5_1 dot add m * s once per block.
 * 36 bytes as in ggml's block_q8_1 (fp16 d and s); gguf-py's size table still lists the old
 * 40-byte fp32 layout, which no GGUF writer produces. */
typedef struct qe_block_q8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[32];
} qe_block_q8_1;

/* K-quants: a 256-element super-block of 16-element or 32-element sub-blocks, each with an
 * integer sub-scale multiplied by the fp16 super-block scale d (and sub-min by dmin).
 *
 * Q2_K: sub-block j (16 elements): x = d * (scales[j] & 15) * q - dmin * (scales[j] >> 4),
 * q in [0, 3]. Element e = 128*h + 32*s + l (h < 2, s < 4, l < 32) is bits 2s..2s+1 of
 * qs[32*h + l]. */
typedef struct qe_block_q2_K {
  uint8_t scales[16];  /* low nibble: scale, high nibble: min */
  uint8_t qs[64];
  uint16_t d;
  uint16_t dmin;
} qe_block_q2_K;

/* Q3_K: sub-block j (16 elements): x = d * (sc[j] - 32) * q, q in [-4, 3].
 * Low 2 bits of element e = 128*h + 32*s + l come from qs as in Q2_K; element e = 32*i + l
 * takes bit i of hmask[l], and q = low2 - 4 when that bit is 0 (low2 when it is 1).
 * The 16 6-bit sc[j] are packed in scales[12]: low nibble of sc[j] is scales[j] & 15 for j < 8
 * and scales[j-8] >> 4 for j >= 8; the high 2 bits are bits 2k..2k+1 of scales[8 + (j & 3)],
 * k = j >> 2. */
typedef struct qe_block_q3_K {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
} qe_block_q3_K;

/* Q4_K: sub-block j (32 elements): x = d * sc[j] * q - dmin * m[j], q in [0, 15].
 * The 8 6-bit (sc, m) pairs are packed in scales[12]:
 *   j < 4:  sc = scales[j] & 63,  m = scales[j+4] & 63
 *   j >= 4: sc = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,
 *           m  = (scales[j+4] >> 4) | (scales[j]   >> 6) << 4
 * Elements of sub-blocks 2c and 2c+1 are the low and high nibbles of qs[32c .. 32c+31]. */
typedef struct qe_block_q4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[128];
} qe_block_q4_K;

/* Q5_K: as Q4_K with q in [0, 31]; bit 4 of element 32*j + l is bit j of qh[l]. */
typedef struct qe_block_q5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
} qe_block_q5_K;

/* Q6_K: sub-block j (16 elements): x = d * scales[j] * (q - 32), q in [0, 63].
 * Element e = 128*h + 64*k + t (h, k < 2, t < 64): low 4 bits are nibble k of ql[64*h + t],
 * high 2 bits are bits 2s..2s+1 of qh[32*h + t%32] with s = 2k + t/32. */
typedef struct qe_block_q6_K {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
} qe_block_q6_K;

/* Q8_K: activation format for K-quant dots. x[i] = d * q[i] with an fp32 d;
 * bsums[g] = sum of q over elements 16g .. 16g+15 (lets a dot apply the sub-mins once). */
typedef struct qe_block_q8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
} qe_block_q8_K;

/* 6-bit sub-scale sc and sub-min m of sub-block j (0..7) of a Q4_K/Q5_K block's scales[12]. */
QE_HOST_DEVICE static inline void qe_q4_K_scale_min(const uint8_t* scales, int j, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = scales[j] & 63;
    *m = scales[j + 4] & 63;
  } else {
    *sc = (uint8_t)((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
    *m = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
  }
}

/* Signed sub-scale (-32 .. 31) of sub-block j (0..15) of a Q3_K block's scales[12]. */
QE_HOST_DEVICE static inline int qe_q3_K_scale(const uint8_t* scales, int j) {
  const int lo = j < 8 ? (scales[j] & 15) : (scales[j - 8] >> 4);
  const int hi = (scales[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
  return (lo | (hi << 4)) - 32;
}

#define QE_FORMAT_SIZE_ROW_(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt) \
  QE_STATIC_ASSERT(sizeof(block) == (bytes), "block size of " #NAME " differs from the format list");
QE_FORMAT_LIST(QE_FORMAT_SIZE_ROW_)
#undef QE_FORMAT_SIZE_ROW_

/* ---------------------------------------------------------------------------------------------
 * Runtime table.
 * ------------------------------------------------------------------------------------------- */
typedef struct qe_type_info {
  qe_type type;
  const char* name;            /* on-disk name, e.g. "Q4_K" */
  int32_t block_elems;         /* elements per block */
  int32_t block_bytes;         /* bytes per block */
  int32_t bits;                /* bits per quantized value, scales excluded */
  float bits_per_weight;       /* 8 * block_bytes / block_elems, scales included */
  bool has_min;                /* block stores an offset: x = d*q - m */
  qe_scale_type scale_type;
  int32_t group_size;          /* elements sharing one (sub-)scale */
  qe_type vec_dot_type;        /* format of the activation operand of vec_dot */
} qe_type_info;

/* Info for a GGML type id, or NULL when qengine does not know (or support) it. Host only. */
static inline const qe_type_info* qe_type_get(uint32_t id) {
#define QE_FORMAT_INFO_ROW_(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt) \
  {QE_TYPE_##NAME, #NAME, blck, bytes, bits, 8.0f * (bytes) / (blck), has_min, scale, group, QE_TYPE_##vdt},
  static const qe_type_info kTable[] = {QE_FORMAT_LIST(QE_FORMAT_INFO_ROW_)};
#undef QE_FORMAT_INFO_ROW_
  /* 15 rows: a linear scan is as fast as any index and keeps the table in list order. */
  for (size_t i = 0; i < sizeof(kTable) / sizeof(kTable[0]); ++i) {
    if ((uint32_t)kTable[i].type == id) return &kTable[i];
  }
  return NULL;
}

/* Bytes of a row of n elements of type id; 0 when id is unknown or n is not a positive multiple
 * of the block size. */
static inline size_t qe_row_bytes(uint32_t id, int64_t n) {
  const qe_type_info* info = qe_type_get(id);
  if (info == NULL || n <= 0 || n % info->block_elems != 0) return 0;
  return (size_t)(n / info->block_elems) * (size_t)info->block_bytes;
}

/* ---------------------------------------------------------------------------------------------
 * Scalar fp16 / bf16 codecs: bit-exact IEEE 754, round-to-nearest-even, subnormals kept, NaN
 * kept as a quiet NaN with its sign and top payload bits (what x86 F16C and CUDA do), no
 * intrinsics. Conversions to fp32 are exact.
 * ------------------------------------------------------------------------------------------- */
QE_HOST_DEVICE static inline uint32_t qe_fp32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

QE_HOST_DEVICE static inline float qe_fp32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
QE_HOST_DEVICE static inline float qe_fp16_to_fp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  const uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) return qe_fp32_from_bits(sign | 0x7F800000u | (man << 13)); /* Inf, NaN */
  if (exp == 0) {
    /* Zero or subnormal: man * 2^-24, exact in fp32 (man < 2^10). */
    const float mag = (float)man * 0x1p-24f;
    return qe_fp32_from_bits(sign | qe_fp32_bits(mag));
  }
  /* Normal: rebias the exponent from 15 to 127 and widen the mantissa. */
  return qe_fp32_from_bits(sign | ((exp + (127 - 15)) << 23) | (man << 13));
}

QE_HOST_DEVICE static inline uint16_t qe_fp32_to_fp16(float f) {
  const uint32_t x = qe_fp32_bits(f);
  const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return (uint16_t)(sign | 0x7E00u | ((ax >> 13) & 0x3FFu)); /* quiet NaN */
  /* 0x477FF000 = 65520, halfway between the largest half (65504) and 2^16; the tie goes to the
   * even neighbour, which is Inf. */
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00u);
  if (ax < 0x38800000u) {
    /* Below 2^-14: the result is a subnormal half, an integer count of 2^-24. Values up to 2^-25
     * (exactly half the smallest subnormal, a tie to even 0) round to zero. */
    if (ax <= 0x33000000u) return sign;
    const uint32_t e = ax >> 23;                       /* 102 .. 112 */
    const uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;   /* 24-bit significand */
    const uint32_t shift = 126 - e;                    /* value = m * 2^-shift units of 2^-24 */
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;   /* may carry into the smallest normal */
    return (uint16_t)(sign | r);
  }
  /* Normal half: drop 13 mantissa bits and rebias; a mantissa carry correctly bumps the
   * exponent (65504 .. 65520 was excluded above, so it never reaches Inf here). */
  uint32_t r = (ax >> 13) - ((127u - 15u) << 10);
  const uint32_t rem = ax & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) ++r;
  return (uint16_t)(sign | r);
}

/* bfloat16: the top 16 bits of an fp32. */
QE_HOST_DEVICE static inline float qe_bf16_to_fp32(uint16_t b) {
  return qe_fp32_from_bits((uint32_t)b << 16);
}

QE_HOST_DEVICE static inline uint16_t qe_fp32_to_bf16(float f) {
  const uint32_t x = qe_fp32_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((x >> 16) | 0x0040u); /* quiet NaN */
  /* Round to nearest even: add 0x7FFF plus the lsb of the kept half; overflow lands on Inf. */
  return (uint16_t)((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

#ifdef __cplusplus
namespace qe {

/* Compile-time view of the format list for templates and CUDA kernels:
 * FormatTraits<QE_TYPE_Q4_K>::Block is qe_block_q4_K, kBlockElems is 256, and so on. */
template <qe_type T>
struct FormatTraits;

#define QE_FORMAT_TRAITS_ROW_(NAME, id, block, blck, bytes, bits, has_min, scale, group, vdt) \
  template <>                                                                                  \
  struct FormatTraits<QE_TYPE_##NAME> {                                                        \
    using Block = block;                                                                       \
    static constexpr qe_type kType = QE_TYPE_##NAME;                                           \
    static constexpr int kBlockElems = blck;                                                   \
    static constexpr int kBlockBytes = bytes;                                                  \
    static constexpr int kBits = bits;                                                         \
    static constexpr bool kHasMin = has_min;                                                   \
    static constexpr qe_scale_type kScaleType = scale;                                         \
    static constexpr int kGroupSize = group;                                                   \
    static constexpr qe_type kVecDotType = QE_TYPE_##vdt;                                      \
  };
QE_FORMAT_LIST(QE_FORMAT_TRAITS_ROW_)
#undef QE_FORMAT_TRAITS_ROW_

}  // namespace qe
#endif

#endif /* QE_FORMAT_H_ */
