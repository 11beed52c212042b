// Scalar specification of A8 arithmetic (see a8_spec.h); readable first, never fast.
#include "cpu/a8_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace qe::cpu::spec {
namespace {

float h2f(uint16_t h) { return qe_fp16_to_fp32(h); }

// q = round_half_even(x * id), clamped; returns Σ q.
int32_t quantize_block(const float* x, int n, int8_t* q, float* d_out) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < n; ++i) {
    const float v = std::nearbyint(x[i] * id);  // default rounding mode: half to even
    const int qi = static_cast<int>(std::clamp(v, -127.0f, 127.0f));
    q[i] = static_cast<int8_t>(qi);
    sum += qi;
  }
  *d_out = d;
  return sum;
}

int32_t dot_i(const int16_t* q, const int8_t* x, int n) {
  int32_t s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<int32_t>(q[i]) * x[i];
  return s;
}

// One 16-element half of an ActBlock32: centre, scale, values; returns Σ q.
int32_t quantize_half(const float* x, int8_t* q, float* d_out, float* c_out) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < 16; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  const float c = 0.5f * lo + 0.5f * hi;
  float amax = 0.0f;
  for (int i = 0; i < 16; ++i) amax = std::max(amax, std::fabs(x[i] - c));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < 16; ++i) {
    const float v = std::nearbyint((x[i] - c) * id);  // default rounding mode: half to even
    const int qi = static_cast<int>(std::clamp(v, -127.0f, 127.0f));
    q[i] = static_cast<int8_t>(qi);
    sum += qi;
  }
  *d_out = d;
  *c_out = c;
  return sum;
}

}  // namespace

void quantize_act32(const float* x, ActBlock32* dst, int64_t K) {
  for (int64_t b = 0; b < K / 32; ++b) {
    ActBlock32& o = dst[b];
    float s[2];
    for (int h = 0; h < 2; ++h) {
      const int32_t qsum = quantize_half(x + 32 * b + 16 * h, o.qs + 16 * h, &o.d[h], &o.c[h]);
      o.qsum[h] = static_cast<int16_t>(qsum);
      s[h] = std::fma(static_cast<float>(qsum), o.d[h], 16.0f * o.c[h]);
    }
    o.s = s[0] + s[1];
  }
}

void quantize_act256(const float* x, qe_block_q8_K* dst, int64_t K) {
  for (int64_t b = 0; b < K / 256; ++b) {
    qe_block_q8_K& o = dst[b];
    quantize_block(x + 256 * b, 256, o.qs, &o.d);
    for (int g = 0; g < 16; ++g) {
      int32_t s = 0;
      for (int i = 0; i < 16; ++i) s += o.qs[16 * g + i];
      o.bsums[g] = static_cast<int16_t>(s);
    }
  }
}

void unpack_block(qe_type t, const void* block, int16_t* q) {
  switch (t) {
    case QE_TYPE_Q4_0: case QE_TYPE_Q4_1: {
      const uint8_t* qs = t == QE_TYPE_Q4_0 ? static_cast<const qe_block_q4_0*>(block)->qs
                                            : static_cast<const qe_block_q4_1*>(block)->qs;
      for (int j = 0; j < 16; ++j) {
        q[j] = qs[j] & 15;
        q[j + 16] = qs[j] >> 4;
      }
      return;
    }
    case QE_TYPE_Q5_0: case QE_TYPE_Q5_1: {
      const uint8_t* qs = t == QE_TYPE_Q5_0 ? static_cast<const qe_block_q5_0*>(block)->qs
                                            : static_cast<const qe_block_q5_1*>(block)->qs;
      const uint8_t* qhb = t == QE_TYPE_Q5_0 ? static_cast<const qe_block_q5_0*>(block)->qh
                                             : static_cast<const qe_block_q5_1*>(block)->qh;
      const uint32_t qh = qhb[0] | (qhb[1] << 8) | (qhb[2] << 16) | (static_cast<uint32_t>(qhb[3]) << 24);
      for (int j = 0; j < 16; ++j) {
        q[j] = static_cast<int16_t>((qs[j] & 15) | (((qh >> j) & 1) << 4));
        q[j + 16] = static_cast<int16_t>((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
      }
      return;
    }
    case QE_TYPE_Q8_0: {
      const auto* b = static_cast<const qe_block_q8_0*>(block);
      for (int j = 0; j < 32; ++j) q[j] = b->qs[j];
      return;
    }
    case QE_TYPE_Q2_K: {
      const auto* b = static_cast<const qe_block_q2_K*>(block);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, s = (e / 32) % 4, l = e % 32;
        q[e] = (b->qs[32 * h + l] >> (2 * s)) & 3;
      }
      return;
    }
    case QE_TYPE_Q3_K: {
      const auto* b = static_cast<const qe_block_q3_K*>(block);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, s = (e / 32) % 4, l = e % 32;
        const int low2 = (b->qs[32 * h + l] >> (2 * s)) & 3;
        const int hbit = (b->hmask[l] >> (e / 32)) & 1;
        q[e] = static_cast<int16_t>(hbit ? low2 : low2 - 4);
      }
      return;
    }
    case QE_TYPE_Q4_K: {
      const auto* b = static_cast<const qe_block_q4_K*>(block);
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
          q[64 * c + l] = b->qs[32 * c + l] & 15;
          q[64 * c + 32 + l] = b->qs[32 * c + l] >> 4;
        }
      return;
    }
    case QE_TYPE_Q5_K: {
      const auto* b = static_cast<const qe_block_q5_K*>(block);
      for (int c = 0; c < 4; ++c)
        for (int l = 0; l < 32; ++l) {
          const int e0 = 64 * c + l, e1 = 64 * c + 32 + l;
          q[e0] = static_cast<int16_t>((b->qs[32 * c + l] & 15) | (((b->qh[l] >> (e0 / 32)) & 1) << 4));
          q[e1] = static_cast<int16_t>((b->qs[32 * c + l] >> 4) | (((b->qh[l] >> (e1 / 32)) & 1) << 4));
        }
      return;
    }
    case QE_TYPE_Q6_K: {
      const auto* b = static_cast<const qe_block_q6_K*>(block);
      for (int e = 0; e < 256; ++e) {
        const int h = e / 128, k = (e / 64) % 2, t64 = e % 64;
        const int lo = (b->ql[64 * h + t64] >> (4 * k)) & 15;
        const int s = 2 * k + t64 / 32;
        const int hi = (b->qh[32 * h + t64 % 32] >> (2 * s)) & 3;
        q[e] = static_cast<int16_t>(lo | (hi << 4));
      }
      return;
    }
    default:
      std::abort();
  }
}

float dot_a8(qe_type t, const void* wrow, const void* xq, int64_t K) {
  const qe_type_info* info = qe_type_get(t);
  const auto* w = static_cast<const uint8_t*>(wrow);
  float acc = 0.0f;
  int16_t q[256];
  if (info->block_elems == 32) {
    // The weight's integer values v = u − offset and its min (the _1 formats).
    const int offset = t == QE_TYPE_Q4_0 ? 8 : t == QE_TYPE_Q5_0 ? 16 : 0;
    const auto* x = static_cast<const ActBlock32*>(xq);
    for (int64_t b = 0; b < K / 32; ++b) {
      const uint8_t* blk = w + b * info->block_bytes;
      unpack_block(t, blk, q);
      int32_t P[2], U[2];
      for (int h = 0; h < 2; ++h) {
        P[h] = U[h] = 0;
        for (int i = 16 * h; i < 16 * h + 16; ++i) {
          P[h] += (q[i] - offset) * x[b].qs[i];
          U[h] += q[i] - offset;
        }
      }
      float bt = static_cast<float>(P[0]) * x[b].d[0];
      bt = std::fma(static_cast<float>(P[1]), x[b].d[1], bt);
      bt = std::fma(static_cast<float>(U[0]), x[b].c[0], bt);
      bt = std::fma(static_cast<float>(U[1]), x[b].c[1], bt);
      // Every 32-element block starts with its fp16 scale d; the _1 formats follow it with m.
      uint16_t dw, mw;
      std::memcpy(&dw, blk, 2);
      acc = std::fma(bt, h2f(dw), acc);
      if (t == QE_TYPE_Q4_1 || t == QE_TYPE_Q5_1) {
        std::memcpy(&mw, blk + 2, 2);
        acc = std::fma(h2f(mw), x[b].s, acc);
      } else if (t != QE_TYPE_Q8_0 && t != QE_TYPE_Q4_0 && t != QE_TYPE_Q5_0) {
        std::abort();
      }
    }
    return acc;
  }
  const auto* x = static_cast<const qe_block_q8_K*>(xq);
  for (int64_t b = 0; b < K / 256; ++b) {
    const void* blk = w + b * info->block_bytes;
    unpack_block(t, blk, q);
    const float dx = x[b].d;
    int32_t isum = 0, msum = 0;
    switch (t) {
      case QE_TYPE_Q4_K: case QE_TYPE_Q5_K: {
        const uint8_t* scales = t == QE_TYPE_Q4_K ? static_cast<const qe_block_q4_K*>(blk)->scales
                                                  : static_cast<const qe_block_q5_K*>(blk)->scales;
        const uint16_t d = t == QE_TYPE_Q4_K ? static_cast<const qe_block_q4_K*>(blk)->d
                                             : static_cast<const qe_block_q5_K*>(blk)->d;
        const uint16_t dmin = t == QE_TYPE_Q4_K ? static_cast<const qe_block_q4_K*>(blk)->dmin
                                                : static_cast<const qe_block_q5_K*>(blk)->dmin;
        for (int j = 0; j < 8; ++j) {
          uint8_t sc, m;
          qe_q4_K_scale_min(scales, j, &sc, &m);
          isum += sc * dot_i(q + 32 * j, x[b].qs + 32 * j, 32);
          msum += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        acc = std::fma(static_cast<float>(isum), h2f(d) * dx, acc);
        acc = std::fma(static_cast<float>(-msum), h2f(dmin) * dx, acc);
        break;
      }
      case QE_TYPE_Q6_K: {
        const auto* bb = static_cast<const qe_block_q6_K*>(blk);
        for (int j = 0; j < 16; ++j) isum += bb->scales[j] * (dot_i(q + 16 * j, x[b].qs + 16 * j, 16) - 32 * x[b].bsums[j]);
        acc = std::fma(static_cast<float>(isum), h2f(bb->d) * dx, acc);
        break;
      }
      case QE_TYPE_Q2_K: {
        const auto* bb = static_cast<const qe_block_q2_K*>(blk);
        for (int j = 0; j < 16; ++j) {
          isum += (bb->scales[j] & 15) * dot_i(q + 16 * j, x[b].qs + 16 * j, 16);
          msum += (bb->scales[j] >> 4) * x[b].bsums[j];
        }
        acc = std::fma(static_cast<float>(isum), h2f(bb->d) * dx, acc);
        acc = std::fma(static_cast<float>(-msum), h2f(bb->dmin) * dx, acc);
        break;
      }
      case QE_TYPE_Q3_K: {
        const auto* bb = static_cast<const qe_block_q3_K*>(blk);
        for (int j = 0; j < 16; ++j) isum += qe_q3_K_scale(bb->scales, j) * dot_i(q + 16 * j, x[b].qs + 16 * j, 16);
        acc = std::fma(static_cast<float>(isum), h2f(bb->d) * dx, acc);
        break;
      }
      default:
        std::abort();
    }
  }
  return acc;
}

}  // namespace qe::cpu::spec
