// The attention driver (tiles, online softmax, probability quantization, the float path),
// compiled once per ISA with that ISA's flags; the ISA file supplies the integer inner loops.
//
// Included by attn_scalar.cpp, attn_avx2.cpp, attn_avx512.cpp, attn_neon.cpp and
// attn_neon_dotprod.cpp only, after `#define QE_ATTN_NS <namespace>`. A file that brings its own
// integer kernels defines QE_ATTN_OWN_INT and, before including, in namespace
// qe::cpu::QE_ATTN_NS, the four functions whose generic versions follow (same contracts, exact
// int32 results); QE_ATTN_OWN_CVT likewise for cvt_f16 (QE_ATTN_NEON_CVT picks the NEON one
// here). Everything that is floating point lives here, in plain loops over 16 lanes that each ISA's compiler vectorizes the same way: the
// integer path therefore equals the specification in attn.h bit for bit on every ISA.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu/attn.h"
#include "format/qe_format.h"

namespace qe::cpu::QE_ATTN_NS {
namespace {

constexpr int32_t kB = kKvBlock;               // 16 positions per block
constexpr int32_t kT = kAttnTile;              // 64 positions per tile
constexpr int32_t kBlocksPerTile = kT / kB;    // 4
constexpr int32_t kMaxGroups = kAttnMaxDim / 32;

#ifndef QE_ATTN_OWN_INT
// isum[r][t] = Σ_i q8[r][i] · k[t][i] over one Q8 key block (kq: [dim/4][16][4]); q8 (16, dim)
// rows beyond n_rows are zero and may be computed.
void qk_q8(const int8_t* kq, int32_t dim, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  for (int32_t r = 0; r < n_rows; ++r)
    for (int32_t t = 0; t < kB; ++t) {
      int32_t s = 0;
      for (int32_t c = 0; c < dim / 4; ++c)
        for (int32_t i = 0; i < 4; ++i) s += q8[r * dim + 4 * c + i] * kq[(c * kB + t) * 4 + i];
      isum[r * kB + t] = s;
    }
}

// isum[r][g][t] = Σ_{i in group g} q8[r][i] · u[t][i] over one Q4 key block (kq: [dim/8][16][4]
// nibbles, low = dimension 8c+i, high = 8c+4+i); `group` dimensions per group.
void qk_q4(const uint8_t* kq, int32_t dim, int32_t group, const int8_t* q8, int32_t n_rows, int32_t* isum) {
  const int32_t ng = dim / group, cpg = group / 8;  // chunks of 8 dimensions per group
  for (int32_t r = 0; r < n_rows; ++r)
    for (int32_t g = 0; g < ng; ++g)
      for (int32_t t = 0; t < kB; ++t) {
        int32_t s = 0;
        for (int32_t c = g * cpg; c < (g + 1) * cpg; ++c)
          for (int32_t i = 0; i < 4; ++i) {
            const uint8_t b = kq[(c * kB + t) * 4 + i];
            s += q8[r * dim + 8 * c + i] * (b & 15) + q8[r * dim + 8 * c + 4 + i] * (b >> 4);
          }
        isum[(r * ng + g) * kB + t] = s;
      }
}

// I[r][e] = Σ_j P[r][j] · v[j][e] over the nb Q8 value blocks of a tile (vq[b]: [4][dim][4]);
// P (16, kT) uint8, zero beyond the visible positions and for rows >= n_rows.
void pv_q8(const int8_t* const* vq, int32_t nb, int32_t dim, const uint8_t* P, int32_t n_rows, int32_t* I) {
  for (int32_t r = 0; r < n_rows; ++r)
    for (int32_t e = 0; e < dim; ++e) {
      int32_t s = 0;
      for (int32_t b = 0; b < nb; ++b)
        for (int32_t u = 0; u < 4; ++u)
          for (int32_t i = 0; i < 4; ++i) s += P[r * kT + b * kB + 4 * u + i] * vq[b][(u * dim + e) * 4 + i];
      I[r * dim + e] = s;
    }
}

// I[r][e] = Σ_j P[r][g(e)][j] · u[j][e] over the nb Q4 value blocks of a tile (vq[b]:
// [4][dim/32][16][4], low nibble dimension 32c+e, high 32c+16+e); P (16, ng, kT).
void pv_q4(const uint8_t* const* vq, int32_t nb, int32_t dim, int32_t group, const uint8_t* P, int32_t n_rows,
           int32_t* I) {
  const int32_t ng = dim / group, nc = dim / 32;
  for (int32_t r = 0; r < n_rows; ++r)
    for (int32_t e = 0; e < dim; ++e) {
      const int32_t g = e / group, c = e / 32, w = e % 32, shift = w >= 16 ? 4 : 0;
      int32_t s = 0;
      for (int32_t b = 0; b < nb; ++b)
        for (int32_t u = 0; u < 4; ++u)
          for (int32_t i = 0; i < 4; ++i) {
            const uint8_t byte = vq[b][((u * nc + c) * kB + w % 16) * 4 + i];
            s += P[(r * ng + g) * kT + b * kB + 4 * u + i] * ((byte >> shift) & 15);
          }
      I[r * dim + e] = s;
    }
}
#endif

#if defined(QE_ATTN_NEON_CVT)
// fp16 → fp32, 4 at a time (fcvtl is exact): the NEON tables (the file includes arm_neon.h).
void cvt_f16(const uint16_t* h, float* f, int32_t n) {
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(f + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + i))));
  for (; i < n; ++i) f[i] = qe_fp16_to_fp32(h[i]);
}
#elif !defined(QE_ATTN_OWN_CVT)
void cvt_f16(const uint16_t* h, float* f, int32_t n) {
  for (int32_t i = 0; i < n; ++i) f[i] = qe_fp16_to_fp32(h[i]);
}
#endif

#include "cpu/fast_exp-inl.h"

// max of x[0, n) (n >= 1, no NaN) over 16 independent lanes, so it vectorizes: max is exact in
// any order.
float max_of(const float* x, int32_t n) {
  float lane[16];
  for (int32_t l = 0; l < 16; ++l) lane[l] = x[0];
  int32_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int32_t l = 0; l < 16; ++l) lane[l] = lane[l] > x[i + l] ? lane[l] : x[i + l];
  for (; i < n; ++i) lane[0] = lane[0] > x[i] ? lane[0] : x[i];
  // Fold the register in halves: 4 dependent steps instead of 16.
  float f8[8], f4[4];
  for (int32_t l = 0; l < 8; ++l) f8[l] = lane[l] > lane[l + 8] ? lane[l] : lane[l + 8];
  for (int32_t l = 0; l < 4; ++l) f4[l] = f8[l] > f8[l + 4] ? f8[l] : f8[l + 4];
  const float a = f4[0] > f4[2] ? f4[0] : f4[2], b = f4[1] > f4[3] ? f4[1] : f4[3];
  return a > b ? a : b;
}

// Σ a·b over n floats holding integers whose partial sums stay below 2^24: exact, so 16
// independent lanes (which vectorize) give the same result as any other order.
// Σ of 16 lanes folded in halves (a register's halves added in turn).
inline float fold16(const float* lane) {
  float f8[8], f4[4];
  for (int32_t l = 0; l < 8; ++l) f8[l] = lane[l] + lane[l + 8];
  for (int32_t l = 0; l < 4; ++l) f4[l] = f8[l] + f8[l + 4];
  return (f4[0] + f4[2]) + (f4[1] + f4[3]);
}

float exact_dot(const float* a, const float* b, int32_t n) {
  float lane[16] = {};
  int32_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int32_t l = 0; l < 16; ++l) lane[l] += a[i + l] * b[i + l];
  for (; i < n; ++i) lane[0] += a[i] * b[i];
  return fold16(lane);
}

// q (dim) = round_half_even(x / s) in [-127, 127] with s = max|x| / 127 over the n inputs;
// zeros from n to dim. Returns s. With z (n floats holding integers), also *zdot = Σ q·z, summed
// in fp32 where every partial sum is an integer below 2^24, hence exact in any order.
float quantize_q(const float* x, int32_t n, int32_t dim, int8_t* q, const float* z = nullptr, int32_t* zdot = nullptr) {
  float ax[kAttnMaxDim];
  for (int32_t i = 0; i < n; ++i) ax[i] = std::fabs(x[i]);
  const float amax = n > 0 ? max_of(ax, n) : 0.0f;
  const float s = amax / 127.0f;
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  float v[kAttnMaxDim];
  for (int32_t i = 0; i < n; ++i) {
    v[i] = std::min(127.0f, std::max(-127.0f, std::nearbyint(x[i] * inv)));
    q[i] = static_cast<int8_t>(v[i]);
  }
  for (int32_t i = n; i < dim; ++i) q[i] = 0;
  if (z != nullptr) *zdot = static_cast<int32_t>(exact_dot(v, z, n));
  return s;
}

// Per-call working set of the integer path, on the stack (about 60 KiB): sized for the largest
// call (16 rows, 256 dimensions, 8 groups) so no call allocates. OpenMP threads have MiBs.
struct IntScratch {
  alignas(64) int8_t q8[kAttnMaxRows * kAttnMaxDim];       // (16, dim) quantized queries
  alignas(64) int32_t isum[kAttnMaxRows * kMaxGroups * kB];  // (rows, ng, 16) one block's Q·K
  alignas(64) float s[kAttnMaxRows * kT];                  // (rows, kT) scores of a tile
  alignas(64) uint8_t P[kAttnMaxRows * kMaxGroups * kT];   // (16, ng, kT) quantized probabilities
  alignas(64) int32_t I[kAttnMaxRows * kAttnMaxDim];       // (rows, dim) P·V of a tile
  int32_t qsum[kAttnMaxRows * kMaxGroups];                 // (rows, ng) Σ q8 per group (Q4 zeros)
  int32_t zq[kAttnMaxRows];                                // KIVI: Σ q8' · zk
  float c[kAttnMaxRows];                                   // score scale per row
  alignas(64) float wsum[kAttnMaxRows * kAttnMaxDim];     // (rows, dim) KIVI window's P·V
  alignas(64) float vd[kMaxGroups * kT];                   // (ng, kT) the tile's value scales
  alignas(64) float vz[kMaxGroups * kT];                   // (ng, kT) the tile's Q4 value zeros
  alignas(64) float kd[kMaxGroups * kB];                   // (ng, 16) a Q4 key block's scales
  float sigma[kAttnMaxRows * kMaxGroups];                  // (rows, ng) P scale per value group
  int32_t zsum[kAttnMaxRows * kMaxGroups];                 // (rows, ng) Σ P · z per value group
};

// Scales of block `blk`: Q8 float d[16] after the quantized bytes; Q4 fp16 d[ng][16], int8 z[ng][16].
const float* q8_scales(const uint8_t* block, int32_t dim) { return reinterpret_cast<const float*>(block + 16 * dim); }
const uint16_t* q4_scales(const uint8_t* block, int32_t dim) {
  return reinterpret_cast<const uint16_t*>(block + 8 * dim);
}
const int8_t* q4_zeros(const uint8_t* block, int32_t dim, int32_t ng) {
  return reinterpret_cast<const int8_t*>(block + 8 * dim + 2 * kB * ng);
}

// Offset of position pos's row in the KIVI windows.
size_t win_row(const KvHead& kv, int32_t pos) {
  return static_cast<size_t>((pos - kv.win_base) % kv.win_rows) * kv.lay->dim;
}

// Visible positions of row r inside the tile starting at t0 (<= 0: none).
// Both paths start every row's state empty (m = −inf, l = 0, o = 0) and run their tiles to
// the furthest position any row sees in [k0, k1); returns that end (k0 when none sees any).
int32_t start_rows(const AttnRow* rows, int32_t n_rows, int32_t k0, int32_t k1, int32_t dim, AttnState* st) {
  int32_t n_end = k0;
  for (int32_t r = 0; r < n_rows; ++r) {
    n_end = std::max(n_end, std::min(k1, rows[r].n_vis));
    st[r].m = -INFINITY;
    st[r].l = 0.0f;
    std::fill_n(st[r].o, dim, 0.0f);
  }
  return n_end;
}

int32_t visible(const AttnRow& row, int32_t k1, int32_t t0) { return std::min(k1, row.n_vis) - t0; }

// Online-softmax update of one row for a tile whose scores are s[0, kT) (n visible, n >= 1):
// returns α and leaves p (kT) = exp(s − m'), zero beyond n, in `p`. Subtracting the running
// max keeps exp in range (flash-attention's rescaling, arXiv:2205.14135 §3.1): every earlier
// sum and output is multiplied by α = exp(m − m') when the max grows.
float softmax_tile(const float* s, int32_t n, AttnState& st, float* p) {
  const float mt = max_of(s, n);
  const float m_new = std::max(st.m, mt);
  const float alpha = st.m == -INFINITY ? 0.0f : fast_exp(st.m - m_new);
  // Every lane is computed (invisible ones on a dummy input) and then selected, so the loop
  // has no conditional loads and vectorizes.
  for (int32_t j = 0; j < kT; ++j) {
    const float sj = s[j];
    const float e = fast_exp(j < n ? sj - m_new : -87.0f);
    p[j] = j < n ? e : 0.0f;
  }
  // Σ p in 16 lanes, then folded 8, 4, 2, 1 apart: the order attn.h specifies (a register's
  // halves folded in turn).
  float lane[kB], f8[8], f4[4];
  for (int32_t i = 0; i < kB; ++i) lane[i] = ((p[i] + p[kB + i]) + p[2 * kB + i]) + p[3 * kB + i];
  for (int32_t i = 0; i < 8; ++i) f8[i] = lane[i] + lane[i + 8];
  for (int32_t i = 0; i < 4; ++i) f4[i] = f8[i] + f8[i + 4];
  const float t = (f4[0] + f4[2]) + (f4[1] + f4[3]);
  st.l = st.l * alpha + t;
  st.m = m_new;
  return alpha;
}

// P (kT) = min(255, round(x · 255 / max x)) as uint8; returns σ = max x / 255 (0 when all zero).
// With z (kT floats holding the Q4 zero points), also *zs = Σ P·z, exact in fp32 as in
// quantize_q (|Σ| < 64 · 255 · 128 < 2^21).
float quantize_p(const float* x, uint8_t* P, const float* z = nullptr, int32_t* zs = nullptr) {
  const float mx = max_of(x, kT);  // x >= 0
  const float inv = mx > 0.0f ? 255.0f / mx : 0.0f;
  float lane[16] = {};  // Σ P·z in 16 lanes, never leaving the register
  for (int32_t j0 = 0; j0 < kT; j0 += 16)
    for (int32_t l = 0; l < 16; ++l) {
      const float v = std::min(255.0f, std::nearbyint(x[j0 + l] * inv));
      P[j0 + l] = static_cast<uint8_t>(v);
      if (z != nullptr) lane[l] += v * z[j0 + l];
    }
  if (z != nullptr) *zs = static_cast<int32_t>(fold16(lane));
  return mx / 255.0f;
}

// KIVI: re-quantizes every row's query against token group tg's per-channel key scales:
// q' = q · dk, then zq = Σ q8' · zk and c = s_q' · scale.
void requantize_kivi(const KvHead& kv, int32_t tg, const AttnRow* rows, int32_t n_rows, float scale, IntScratch& w) {
  const KvLayout& L = *kv.lay;
  const uint8_t* kc = kv.kc + static_cast<size_t>(tg) * L.kc_bytes;
  const auto* zk = reinterpret_cast<const int8_t*>(kc + 2 * L.dim);
  float dk[kAttnMaxDim], zf[kAttnMaxDim], x[kAttnMaxDim];
  cvt_f16(reinterpret_cast<const uint16_t*>(kc), dk, L.head_dim);
  for (int32_t i = 0; i < L.head_dim; ++i) zf[i] = zk[i];  // padded dimensions have q8' = 0
  for (int32_t r = 0; r < n_rows; ++r) {
    for (int32_t i = 0; i < L.head_dim; ++i) x[i] = rows[r].q[i] * dk[i];
    w.c[r] = quantize_q(x, L.head_dim, L.dim, w.q8 + r * L.dim, zf, &w.zq[r]) * scale;
  }
}

// Scores s[r][16b + t] of key block `blk` (tile slot b) for every row: the integer path. The
// ISA kernel gives exact int32 dot products with the lanes = the block's 16 positions; the
// scaling below is plain fp32 in the order attn.h specifies, vectorized over those lanes.
void block_scores_int(const KvHead& kv, int32_t blk, int32_t b, const AttnRow* rows, int32_t n_rows, float scale,
                      int32_t* kivi_tg, IntScratch& w) {
  const KvLayout& L = *kv.lay;
  const uint8_t* block = kv.k + static_cast<size_t>(blk) * L.k_block_bytes;
  const int32_t dim = L.dim, ng = L.n_groups(), pos0 = blk * kB;
  if (L.type == KvType::kQ8) {
    qk_q8(reinterpret_cast<const int8_t*>(block), dim, w.q8, n_rows, w.isum);
    const float* d = q8_scales(block, dim);
    for (int32_t r = 0; r < n_rows; ++r)
      for (int32_t t = 0; t < kB; ++t) w.s[r * kT + b * kB + t] = static_cast<float>(w.isum[r * kB + t]) * (d[t] * w.c[r]);
  } else if (!L.k_per_channel) {
    qk_q4(block, dim, L.group, w.q8, n_rows, w.isum);
    // Scales and zero points once per block, for every row. (float)(isum − z·Σq8) is formed in
    // fp32 directly: every term is an integer below 2^24 (|isum| < 2^19, |z·Σq8| < 2^21), so the
    // product and difference are exact and equal the specification's int32 arithmetic.
    cvt_f16(q4_scales(block, dim), w.kd, ng * kB);
    const int8_t* z = q4_zeros(block, dim, ng);
    float zf[kMaxGroups * kB];
    for (int32_t i = 0; i < ng * kB; ++i) zf[i] = z[i];
    for (int32_t r = 0; r < n_rows; ++r) {
      float a[kB] = {};
      for (int32_t g = 0; g < ng; ++g) {
        const float qs = static_cast<float>(w.qsum[r * ng + g]);
        for (int32_t t = 0; t < kB; ++t) {
          const float v = static_cast<float>(w.isum[(r * ng + g) * kB + t]) - zf[g * kB + t] * qs;
          a[t] = a[t] + v * w.kd[g * kB + t];
        }
      }
      for (int32_t t = 0; t < kB; ++t) w.s[r * kT + b * kB + t] = a[t] * w.c[r];
    }
  } else if (pos0 < kv.n_q) {
    // Per-channel keys: one scale per row and token group, folded into the re-quantized query.
    const int32_t tg = pos0 / L.tgroup;
    if (tg != *kivi_tg) {
      requantize_kivi(kv, tg, rows, n_rows, scale, w);
      *kivi_tg = tg;
    }
    qk_q4(block, dim, dim, w.q8, n_rows, w.isum);
    for (int32_t r = 0; r < n_rows; ++r)
      for (int32_t t = 0; t < kB; ++t)
        w.s[r * kT + b * kB + t] = static_cast<float>(w.isum[r * kB + t] - w.zq[r]) * w.c[r];
  } else {
    // The KIVI window: fp16 keys not yet quantized, dotted in index order.
    for (int32_t t = 0; t < kB; ++t) {
      float kf[kAttnMaxDim];
      cvt_f16(kv.win_k + win_row(kv, pos0 + t), kf, L.head_dim);
      for (int32_t r = 0; r < n_rows; ++r) {
        float acc = 0.0f;
        for (int32_t i = 0; i < L.head_dim; ++i) acc = acc + rows[r].q[i] * kf[i];
        w.s[r * kT + b * kB + t] = acc * scale;
      }
    }
  }
}

// Integer attention: see attn.h for the arithmetic this follows step by step.
void attend_int(const KvHead& kv, const AttnRow* rows, int32_t n_rows, int32_t k0, int32_t k1, float scale,
                AttnState* st) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, ng = L.n_groups();
  IntScratch w;
  // The ISA kernels work on fixed passes of rows (4 or 8) and read the queries and P of rows
  // beyond n_rows too: those must be zero, not stack garbage.
  std::memset(w.q8, 0, sizeof w.q8);
  std::memset(w.P, 0, sizeof w.P);
  // Rows of one call see different spans (prefill: later tokens see more): tiles run to the
  // furthest, and each row masks what it does not see.
  const int32_t n_end = start_rows(rows, n_rows, k0, k1, dim, st);
  // Per-position keys: quantize each query once; Σ q8 per group serves the Q4 zero points.
  if (L.type == KvType::kQ8 || !L.k_per_channel) {
    for (int32_t r = 0; r < n_rows; ++r) {
      int8_t* q = w.q8 + r * dim;
      w.c[r] = quantize_q(rows[r].q, L.head_dim, dim, q) * scale;
      for (int32_t g = 0; g < ng; ++g) {
        int32_t s = 0;
        for (int32_t i = g * L.group; i < (g + 1) * L.group; ++i) s += q[i];
        w.qsum[r * ng + g] = s;
      }
    }
  }
  int32_t kivi_tg = -1;  // token group the KIVI queries are quantized for
  float p[kT], x[kT];  // one row's probabilities, and the same folded with the value scales
  alignas(64) float vw[kT * kAttnMaxDim];  // (kT, dim) fp16 window values of a tile, as fp32
  for (int32_t t0 = k0; t0 < n_end; t0 += kT) {
    const int32_t nb = std::min(kBlocksPerTile, (n_end - t0 + kB - 1) / kB);
    // Blocks [0, nbq) of the tile are quantized; KIVI's window blocks follow.
    const int32_t nbq = L.k_per_channel ? std::clamp((kv.n_q - t0) / kB, 0, nb) : nb;
    // Scores of every row, block by block: each key block is read once for the whole group of
    // rows (GQA heads sharing this KV head, and the tokens of a prompt batch).
    for (int32_t b = 0; b < nb; ++b) block_scores_int(kv, t0 / kB + b, b, rows, n_rows, scale, &kivi_tg, w);
    for (int32_t b = nbq; b < nb; ++b)
      for (int32_t t = 0; t < kB; ++t)
        cvt_f16(kv.win_v + win_row(kv, t0 + b * kB + t), vw + (b * kB + t) * dim, dim);

    // The tile's value scales (and Q4 zero points) per group, once for every row: position j's
    // in slot [g][j], zero for the window and beyond the tile.
    const uint8_t* vblock[kBlocksPerTile];
    for (int32_t b = 0; b < nb; ++b) vblock[b] = kv.v + static_cast<size_t>(t0 / kB + b) * L.v_block_bytes;
    const int32_t ngv = L.type == KvType::kQ8 ? 1 : ng;  // value scale groups
    for (int32_t g = 0; g < ngv; ++g) {
      float* vd = w.vd + g * kT;
      float* vz = w.vz + g * kT;
      std::fill_n(vd, kT, 0.0f);
      std::fill_n(vz, kT, 0.0f);
      for (int32_t b = 0; b < nbq; ++b) {
        if (L.type == KvType::kQ8) {
          std::copy_n(q8_scales(vblock[b], dim), kB, vd + b * kB);
        } else {
          cvt_f16(q4_scales(vblock[b], dim) + g * kB, vd + b * kB, kB);
          const int8_t* z = q4_zeros(vblock[b], dim, ng) + g * kB;
          for (int32_t t = 0; t < kB; ++t) vz[b * kB + t] = z[t];
        }
      }
    }

    // Softmax, then the probabilities folded with each value's scale and quantized to uint8.
    float alpha[kAttnMaxRows];
    for (int32_t r = 0; r < n_rows; ++r) {
      const int32_t n = visible(rows[r], k1, t0);
      if (n <= 0) {  // nothing of this tile is visible to the row: no state change
        std::memset(w.P + r * ng * kT, 0, static_cast<size_t>(ng) * kT);
        alpha[r] = 1.0f;
        continue;
      }
      alpha[r] = softmax_tile(w.s + r * kT, std::min(n, kT), st[r], p);
      const int32_t nq = std::min(n, nbq * kB);  // visible quantized positions
      for (int32_t g = 0; g < ngv; ++g) {
        const float* vd = w.vd + g * kT;
        for (int32_t j = 0; j < kT; ++j) x[j] = j < nq ? p[j] * vd[j] : 0.0f;
        const bool q4 = L.type == KvType::kQ4;
        w.sigma[r * ng + g] = quantize_p(x, w.P + (r * ng + g) * kT, q4 ? w.vz + g * kT : nullptr, &w.zsum[r * ng + g]);
      }
      // The window's fp16 values: plain fp32 products, in position order.
      float* wr = w.wsum + r * dim;
      std::fill_n(wr, dim, 0.0f);
      for (int32_t j = nbq * kB; j < std::min(n, kT); ++j) {
        const float pj = p[j];
        for (int32_t e = 0; e < dim; ++e) wr[e] = wr[e] + pj * vw[j * dim + e];
      }
    }

    // P·V in integers, rescaled once per tile (and value group). The value blocks are read
    // once per row here, but from L1: the tile's 4 blocks are at most 9 KiB.
    if (nbq > 0) {
      if (L.type == KvType::kQ8) {
        const int8_t* vq[kBlocksPerTile];
        for (int32_t b = 0; b < nbq; ++b) vq[b] = reinterpret_cast<const int8_t*>(vblock[b]);
        pv_q8(vq, nbq, dim, w.P, n_rows, w.I);
      } else {
        pv_q4(vblock, nbq, dim, L.group, w.P, n_rows, w.I);
      }
    } else {
      std::memset(w.I, 0, sizeof(int32_t) * n_rows * dim);
      std::memset(w.zsum, 0, sizeof w.zsum);
    }
    for (int32_t r = 0; r < n_rows; ++r) {
      if (visible(rows[r], k1, t0) <= 0) continue;
      float* __restrict o = st[r].o;
      const int32_t* __restrict I = w.I + r * dim;
      const float* __restrict wr = w.wsum + r * dim;
      const float a = alpha[r];
      if (L.type == KvType::kQ8) {
        const float sg = w.sigma[r * ng];
        for (int32_t e = 0; e < dim; ++e) o[e] = o[e] * a + static_cast<float>(I[e]) * sg;
      } else {
        for (int32_t g = 0; g < ng; ++g) {
          const float sg = w.sigma[r * ng + g];
          const int32_t zs = w.zsum[r * ng + g];
          const int32_t e0 = g * L.group, e1 = e0 + L.group;
          for (int32_t e = e0; e < e1; ++e) o[e] = (o[e] * a + static_cast<float>(I[e] - zs) * sg) + wr[e];
        }
      }
    }
  }
}

// ---- The float path: fp32 dot products on dequantized blocks ----
// The cache's own path for f32/f16/bf16 and the comparison path (--attn float) for q8/q4: same
// tiles and online softmax, exact probabilities, values accumulated in fp32.

// Keys (k) or values (v) of block `blk` as fp32 rows (16, dim), zero beyond head_dim; one of
// k, v is nullptr.
void dequant_block(const KvHead& kv, int32_t blk, float* k, float* v) {
  const KvLayout& L = *kv.lay;
  const int32_t n = kB * L.dim;
  const uint8_t* src = k != nullptr ? kv.k + static_cast<size_t>(blk) * L.k_block_bytes
                                    : kv.v + static_cast<size_t>(blk) * L.v_block_bytes;
  float* dst = k != nullptr ? k : v;
  switch (L.type) {
    case KvType::kF32: std::memcpy(dst, src, sizeof(float) * n); return;
    case KvType::kF16: cvt_f16(reinterpret_cast<const uint16_t*>(src), dst, n); return;
    case KvType::kBf16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int32_t i = 0; i < n; ++i) dst[i] = qe_bf16_to_fp32(h[i]);
      return;
    }
    default: kv_load_block(kv, blk, k, v); return;  // the comparison path: the codec's decoding
  }
}

// Σ a[i]·b[i] with 16 independent partial sums (vectorizable without reassociation flags).
float dot(const float* a, const float* b, int32_t n) {
  float acc[16] = {};
  int32_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int32_t l = 0; l < 16; ++l) acc[l] += a[i + l] * b[i + l];
  float s = 0.0f;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int32_t l = 0; l < 16; ++l) s += acc[l];
  return s;
}

void attend_float(const KvHead& kv, const AttnRow* rows, int32_t n_rows, int32_t k0, int32_t k1, float scale,
                  AttnState* st) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, hd = L.head_dim;
  alignas(64) float kf[kB * kAttnMaxDim];  // (16, dim) one key block
  alignas(64) float vf[kT * kAttnMaxDim];  // (kT, dim) the tile's values
  alignas(64) float s[kAttnMaxRows * kT], p[kT], acc[kAttnMaxDim];
  const int32_t n_end = start_rows(rows, n_rows, k0, k1, dim, st);
  for (int32_t t0 = k0; t0 < n_end; t0 += kT) {
    const int32_t nb = std::min(kBlocksPerTile, (n_end - t0 + kB - 1) / kB);
    // Each block is dequantized once and shared by every row (the GQA group).
    for (int32_t b = 0; b < nb; ++b) {
      dequant_block(kv, t0 / kB + b, kf, nullptr);
      dequant_block(kv, t0 / kB + b, nullptr, vf + b * kB * dim);
      for (int32_t r = 0; r < n_rows; ++r)
        for (int32_t t = 0; t < kB; ++t) s[r * kT + b * kB + t] = dot(rows[r].q, kf + t * dim, hd) * scale;
    }
    for (int32_t r = 0; r < n_rows; ++r) {
      const int32_t n = std::min(visible(rows[r], k1, t0), kT);
      if (n <= 0) continue;
      const float alpha = softmax_tile(s + r * kT, n, st[r], p);
      std::fill_n(acc, dim, 0.0f);
      for (int32_t j = 0; j < n; ++j) {
        const float pj = p[j];
        const float* vr = vf + j * dim;
        for (int32_t e = 0; e < dim; ++e) acc[e] += pj * vr[e];
      }
      float* o = st[r].o;
      for (int32_t e = 0; e < dim; ++e) o[e] = o[e] * alpha + acc[e];
    }
  }
}

}  // namespace

extern const AttnTable kAttnTable;
const AttnTable kAttnTable = {QE_ATTN_ISA, &attend_int, &attend_float};

}  // namespace qe::cpu::QE_ATTN_NS
