// format_test.cpp: walks the format list (ids, sizes, scalar codecs present) and checks the fp16/bf16 codecs exhaustively.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "format/qe_format.h"
#include "ref/ref.h"

namespace {

// GGML's published ids and block geometry, written out independently of QE_FORMAT_LIST.
struct Expected {
  uint32_t id;
  const char* name;
  int block_elems;
  int block_bytes;
};
constexpr Expected kExpected[] = {
    {0, "F32", 1, 4},        {1, "F16", 1, 2},        {2, "Q4_0", 32, 18},     {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},     {7, "Q5_1", 32, 24},     {8, "Q8_0", 32, 34},     {9, "Q8_1", 32, 36},
    {10, "Q2_K", 256, 84},   {11, "Q3_K", 256, 110},  {12, "Q4_K", 256, 144},  {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},  {15, "Q8_K", 256, 292},  {30, "BF16", 1, 2},
};

TEST(FormatList, MatchesGgmlIdsAndSizes) {
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.name);
    const qe_type_info* info = qe_type_get(e.id);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(static_cast<uint32_t>(info->type), e.id);
    EXPECT_STREQ(info->name, e.name);
    EXPECT_EQ(info->block_elems, e.block_elems);
    EXPECT_EQ(info->block_bytes, e.block_bytes);
    EXPECT_FLOAT_EQ(info->bits_per_weight, 8.0f * e.block_bytes / e.block_elems);
  }
}

TEST(FormatList, UnknownIdsAreNull) {
  int known = 0;
  for (uint32_t id = 0; id < 1000; ++id) {
    const bool listed = std::any_of(std::begin(kExpected), std::end(kExpected), [&](const Expected& e) { return e.id == id; });
    EXPECT_EQ(qe_type_get(id) != nullptr, listed) << "id " << id;
    known += listed;
  }
  EXPECT_EQ(known, static_cast<int>(std::size(kExpected)));
  EXPECT_EQ(qe_type_get(UINT32_MAX), nullptr);
  EXPECT_LT(30, QE_TYPE_COUNT);
}

TEST(FormatList, EveryFormatHasScalarCodecAndVecDot) {
  for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id) {
    const qe_type_info* info = qe_type_get(id);
    if (info == nullptr) continue;
    SCOPED_TRACE(info->name);
    const qe::ref::TypeOps* ops = qe::ref::type_ops(info->type);
    ASSERT_NE(ops, nullptr);
    EXPECT_EQ(ops->type, info->type);
    EXPECT_NE(ops->to_float, nullptr);
    EXPECT_NE(ops->from_float, nullptr);
    EXPECT_NE(ops->vec_dot, nullptr);
    EXPECT_EQ(ops->vec_dot_type, info->vec_dot_type);
    // The activation format exists, shares the block size, and has its own codec.
    const qe_type_info* vdt = qe_type_get(info->vec_dot_type);
    ASSERT_NE(vdt, nullptr);
    EXPECT_EQ(vdt->block_elems, info->block_elems);
    ASSERT_NE(qe::ref::type_ops(vdt->type), nullptr);
    EXPECT_NE(qe::ref::type_ops(vdt->type)->from_float, nullptr);
    // Self-consistent metadata.
    EXPECT_GT(info->bits, 0);
    EXPECT_EQ(info->block_elems % info->group_size, 0);
    EXPECT_EQ(info->scale_type == QE_SCALE_NONE, info->block_elems == 1);
  }
  EXPECT_EQ(qe::ref::type_ops(static_cast<qe_type>(4)), nullptr);
  EXPECT_EQ(qe::ref::type_ops(QE_TYPE_COUNT), nullptr);
}

// FormatTraits is generated from the same list: it must agree with the runtime table.
TEST(FormatList, TraitsAgreeWithTable) {
#define QE_CHECK_TRAITS_ROW_(NAME, ID, BLOCK, BLCK, BYTES, BITS, HAS_MIN, SCALE, GROUP, VDT) \
  {                                                                                          \
    using Tr = qe::FormatTraits<QE_TYPE_##NAME>;                                             \
    const qe_type_info* info = qe_type_get(ID);                                              \
    ASSERT_NE(info, nullptr);                                                                \
    EXPECT_EQ(Tr::kBlockElems, info->block_elems);                                           \
    EXPECT_EQ(Tr::kBlockBytes, info->block_bytes);                                           \
    EXPECT_EQ(static_cast<int>(sizeof(Tr::Block)), info->block_bytes);                       \
    EXPECT_EQ(Tr::kHasMin, info->has_min);                                                   \
    EXPECT_EQ(Tr::kVecDotType, info->vec_dot_type);                                          \
    EXPECT_EQ(Tr::kGroupSize, info->group_size);                                             \
  }
  QE_FORMAT_LIST(QE_CHECK_TRAITS_ROW_)
#undef QE_CHECK_TRAITS_ROW_
}

TEST(FormatList, RowBytes) {
  EXPECT_EQ(qe_row_bytes(QE_TYPE_Q4_K, 4096), 16u * 144u);
  EXPECT_EQ(qe_row_bytes(QE_TYPE_Q8_0, 64), 2u * 34u);
  EXPECT_EQ(qe_row_bytes(QE_TYPE_F16, 7), 14u);
  EXPECT_EQ(qe_row_bytes(QE_TYPE_Q4_K, 100), 0u);   // not a multiple of 256
  EXPECT_EQ(qe_row_bytes(QE_TYPE_Q4_0, 0), 0u);
  EXPECT_EQ(qe_row_bytes(QE_TYPE_Q4_0, -32), 0u);
  EXPECT_EQ(qe_row_bytes(4, 32), 0u);                // unknown id
}

TEST(FormatList, KQuantScaleUnpackers) {
  // Q4_K: pack (sc, m) = (j + 1, 63 - j) by hand in the documented layout and read it back.
  uint8_t s[12] = {};
  for (int j = 0; j < 8; ++j) {
    const int sc = 40 + j, m = 63 - 5 * j;
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc);
      s[j + 4] |= static_cast<uint8_t>(m);
    } else {
      s[j + 4] |= static_cast<uint8_t>((sc & 15) | (m & 15) << 4);
      s[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      s[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    qe_q4_K_scale_min(s, j, &sc, &m);
    EXPECT_EQ(sc, 40 + j) << j;
    EXPECT_EQ(m, 63 - 5 * j) << j;
  }
  // Q3_K: all 16 scales at 6 bits, stored value v -> v - 32.
  uint8_t s3[12] = {};
  for (int j = 0; j < 16; ++j) {
    const int v = (j * 37 + 5) & 63;
    s3[j % 8] |= static_cast<uint8_t>((v & 15) << (4 * (j / 8)));
    s3[8 + j % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (j / 4)));
  }
  for (int j = 0; j < 16; ++j) EXPECT_EQ(qe_q3_K_scale(s3, j), ((j * 37 + 5) & 63) - 32) << j;
}

// ---------------------------------------------------------------------------------------------
// fp16: references computed another way (ldexp arithmetic and a nearest-value search).
// ---------------------------------------------------------------------------------------------
uint32_t bits_of(float f) { return qe_fp32_bits(f); }

// Value of half h from its fields with ldexp (double), for the exhaustive fp16 -> fp32 check.
double half_value(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
  const double mag = exp == 0 ? std::ldexp(man, -24) : std::ldexp(1024 + man, exp - 25);
  return sign ? -mag : mag;
}

TEST(Fp16, ToFp32ExhaustiveAgainstLdexp) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float got = qe_fp16_to_fp32(static_cast<uint16_t>(h));
    const int exp = (h >> 10) & 31, man = h & 1023;
    if (exp == 31) {
      ASSERT_EQ(std::signbit(got), (h & 0x8000) != 0) << h;
      if (man == 0) {
        ASSERT_TRUE(std::isinf(got)) << h;
      } else {
        ASSERT_TRUE(std::isnan(got)) << h;
        ASSERT_EQ((bits_of(got) >> 13) & 1023, static_cast<uint32_t>(man)) << h;  // payload kept
      }
      continue;
    }
    const float want = static_cast<float>(half_value(static_cast<uint16_t>(h)));  // exact
    ASSERT_EQ(bits_of(got), bits_of(want)) << "half 0x" << std::hex << h;
#ifdef __FLT16_MAX__
    _Float16 hf;
    const uint16_t hh = static_cast<uint16_t>(h);
    std::memcpy(&hf, &hh, 2);
    ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(hf))) << h;
#endif
  }
}

// Nearest half to float v by binary search over every finite half, ties to the even pattern.
// pos: (0x7C01) values of the patterns 0x0000 .. 0x7C00, the last (Inf) standing for 2^16, the
// next value the exponent range would have: rounding up to it means overflow.
uint16_t nearest_half(float v, const std::vector<double>& pos) {
  const uint16_t sign = std::signbit(v) ? 0x8000 : 0;
  const double a = std::fabs(static_cast<double>(v));
  if (a >= pos.back()) return sign | 0x7C00;
  const size_t hi = static_cast<size_t>(std::lower_bound(pos.begin(), pos.end(), a) - pos.begin());
  if (pos[hi] == a) return static_cast<uint16_t>(sign | hi);
  const size_t lo = hi - 1;  // a > 0 = pos[0] here
  const double dl = a - pos[lo], dh = pos[hi] - a;
  const size_t pick = dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi);
  return static_cast<uint16_t>(sign | pick);
}

std::vector<double> positive_halves() {
  std::vector<double> v(0x7C01);
  for (uint32_t h = 0; h < 0x7C00; ++h) v[h] = half_value(static_cast<uint16_t>(h));
  v[0x7C00] = 65536.0;
  return v;
}

TEST(Fp16, RoundTripEveryHalf) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = qe_fp32_to_fp16(qe_fp16_to_fp32(static_cast<uint16_t>(h)));
    if ((h & 0x7C00) == 0x7C00 && (h & 1023) != 0) {
      EXPECT_EQ(back & 0x7C00, 0x7C00) << h;
      EXPECT_NE(back & 0x200, 0) << h;                       // quiet
      EXPECT_EQ(back & 0x8000, h & 0x8000) << h;
      EXPECT_EQ(back & 0x1FF, h & 0x1FF) << h;               // payload kept
    } else {
      ASSERT_EQ(back, h) << h;
    }
  }
}

TEST(Fp16, FromFp32RoundsToNearestEven) {
  const std::vector<double> pos = positive_halves();
  std::vector<float> inputs;
  // Every midpoint between neighbours (exact in fp32: 12 significant bits), and one fp32 ulp
  // either side of it: the cases where rounding direction and ties matter.
  for (uint32_t h = 0; h < 0x7C00; ++h) {  // h = 0x7BFF: the 65504 / overflow tie
    const float mid = static_cast<float>((pos[h] + pos[h + 1]) / 2);
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), static_cast<float>(pos[h])}) {
      inputs.push_back(f);
      inputs.push_back(-f);
    }
  }
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e30f, 3.0e-8f, 2.98e-8f, 2.9802322e-8f, 1e-45f, 0.0f}) {
    inputs.push_back(f);
    inputs.push_back(-f);
  }
  // A sweep over fp32 bit patterns plus random ones.
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) inputs.push_back(qe_fp32_from_bits(static_cast<uint32_t>(u)));
  std::mt19937 rng(7);
  for (int i = 0; i < 1000000; ++i) inputs.push_back(qe_fp32_from_bits(rng()));

  for (float f : inputs) {
    const uint16_t got = qe_fp32_to_fp16(f);
    if (std::isnan(f)) {
      ASSERT_EQ(got & 0x7C00, 0x7C00);
      ASSERT_NE(got & 0x3FF, 0);
      ASSERT_NE(got & 0x200, 0);  // quiet
      continue;
    }
    ASSERT_EQ(got, nearest_half(f, pos)) << "float bits 0x" << std::hex << bits_of(f);
#ifdef __FLT16_MAX__
    const _Float16 hf = static_cast<_Float16>(f);
    uint16_t hb;
    std::memcpy(&hb, &hf, 2);
    ASSERT_EQ(got, hb) << "float bits 0x" << std::hex << bits_of(f);
#endif
  }
}

// ---------------------------------------------------------------------------------------------
// bf16
// ---------------------------------------------------------------------------------------------
double bf16_value(uint16_t b) {
  const int sign = b >> 15, exp = (b >> 7) & 255, man = b & 127;
  const double mag = exp == 0 ? std::ldexp(man, -133) : std::ldexp(128 + man, exp - 134);
  return sign ? -mag : mag;
}

TEST(Bf16, ToFp32ExhaustiveAgainstLdexp) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float got = qe_bf16_to_fp32(static_cast<uint16_t>(b));
    const int exp = (b >> 7) & 255, man = b & 127;
    if (exp == 255) {
      ASSERT_EQ(std::isnan(got), man != 0) << b;
      ASSERT_EQ(std::isinf(got), man == 0) << b;
      continue;
    }
    ASSERT_EQ(bits_of(got), bits_of(static_cast<float>(bf16_value(static_cast<uint16_t>(b))))) << b;
    ASSERT_EQ(qe_fp32_to_bf16(got), b) << b;  // round trip
  }
}

// Nearest bf16 by comparing exact distances (double) to the two neighbours of the truncation.
uint16_t nearest_bf16(float f) {
  const uint32_t x = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint16_t lo = static_cast<uint16_t>((x & 0x7FFFFFFF) >> 16), hi = static_cast<uint16_t>(lo + 1);
  const double a = std::fabs(static_cast<double>(f));
  const double vlo = bf16_value(lo), vhi = hi == 0x7F80 ? std::ldexp(1.0, 128) : bf16_value(hi);
  if (a == vlo) return sign | lo;
  const double dl = a - vlo, dh = vhi - a;
  return sign | (dl < dh ? lo : dh < dl ? hi : (lo % 2 == 0 ? lo : hi));
}

TEST(Bf16, FromFp32RoundsToNearestEven) {
  std::vector<float> inputs;
  for (uint32_t b = 0; b < 0x7F80; ++b) {  // every tie and its neighbours
    const uint32_t mid = (b << 16) | 0x8000;
    for (uint32_t u : {mid, mid - 1, mid + 1, b << 16}) {
      inputs.push_back(qe_fp32_from_bits(u));
      inputs.push_back(qe_fp32_from_bits(u | 0x80000000u));
    }
  }
  for (uint64_t u = 0; u < (1ull << 32); u += 4093) inputs.push_back(qe_fp32_from_bits(static_cast<uint32_t>(u)));
  for (float f : inputs) {
    const uint16_t got = qe_fp32_to_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(qe_bf16_to_fp32(got)));
      ASSERT_NE(got & 0x40, 0);  // quiet
      ASSERT_EQ(got & 0x8000, (bits_of(f) >> 16) & 0x8000);
      continue;
    }
    ASSERT_EQ(got, nearest_bf16(f)) << "float bits 0x" << std::hex << bits_of(f);
  }
}

}  // namespace
