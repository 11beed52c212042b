// The KV-cache codec (layouts, quantization on write, decoding) and the attention table choice.
// Compiled once, without ISA flags: a position is quantized once, when it is written, so one
// exact scalar codec serves every ISA and the caches are identical whichever table runs.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "cpu/attn.h"
#include "cpu/dispatch.h"
#include "format/qe_format.h"

namespace qe::cpu {
namespace {

constexpr int32_t kB = kKvBlock;

int32_t round_up(int32_t x, int32_t m) { return (x + m - 1) / m * m; }

// Symmetric int8: q = round_half_even(x / d) in [-127, 127], d = max|x| / 127. Returns d.
float quantize_q8(const float* x, int32_t n, int8_t* q) {
  float amax = 0.0f;
  for (int32_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float inv = d > 0.0f ? 1.0f / d : 0.0f;
  for (int32_t i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inv), -127.0f, 127.0f));
  return d;
}

// Asymmetric 4-bit with an integer zero point: x ≈ d·(u − z), u in [0, 15], d fp16, z int8.
// d = (max − min) / 15 and z = round(−min / d) put the grid on [min, max] up to half a step, so
// the error is at most d/2 (plus the fp16 rounding of d over 15 steps, < d/128). Groups that do
// not straddle zero by enough for z to fit int8 use z = −128 (all ≥ 0: grid [128d, 143d] with
// d = max/143) or z = 127 (all ≤ 0: grid [−127d, −112d] with d = −min/127): the same bound.
void quantize_q4(const float* x, int32_t n, uint8_t* u, uint16_t* d16, int8_t* z) {
  float mn = x[0], mx = x[0];
  for (int32_t i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  auto grid = [&](float d, float zero) {
    *d16 = qe_fp32_to_fp16(std::min(d, 65504.0f));
    const float df = qe_fp16_to_fp32(*d16);
    const float inv = df > 0.0f ? 1.0f / df : 0.0f;
    *z = static_cast<int8_t>(zero);
    for (int32_t i = 0; i < n; ++i) u[i] = static_cast<uint8_t>(std::clamp(std::nearbyint(x[i] * inv) + zero, 0.0f, 15.0f));
  };
  // All zero: d = 0 decodes every u to 0. A constant group c != 0 takes a fallback grid below
  // (its range is 0, so z = −min/d is undefined), which reproduces c exactly at one end.
  if (mn == 0.0f && mx == 0.0f) return grid(0.0f, 0.0f);
  const float df = qe_fp16_to_fp32(qe_fp32_to_fp16((mx - mn) / 15.0f));
  const float zero = df > 0.0f ? std::nearbyint(-mn / df) : 1e9f;
  if (zero >= -128.0f && zero <= 127.0f) return grid((mx - mn) / 15.0f, zero);
  if (mn >= 0.0f) return grid(mx / 143.0f, -128.0f);
  return grid(-mn / 127.0f, 127.0f);
}

// One Q4 value back to fp32: d·(u − z), the integer difference exact, one rounding.
float dq4(uint8_t u, uint16_t d, int8_t z) {
  return qe_fp16_to_fp32(d) * static_cast<float>(static_cast<int32_t>(u) - z);
}

// Byte offset and shift of dimension i of lane t in a Q4 key block: [dim/8][16][4] with
// dimension 8c+j (j < 4) in the low nibble of byte j and 8c+4+j in the high one.
size_t k4_byte(int32_t i, int32_t t) { return static_cast<size_t>((i / 8 * kB + t) * 4 + i % 4); }
int k4_shift(int32_t i) { return i % 8 >= 4 ? 4 : 0; }
// The same for a Q4 value block: [4][dim/32][16][4], position t = 4u+j, dimension 32c+w (low
// nibble, w < 16) or 32c+16+w (high).
size_t v4_byte(int32_t dim, int32_t e, int32_t t) {
  return static_cast<size_t>((((t / 4) * (dim / 32) + e / 32) * kB + e % 16) * 4 + t % 4);
}
int v4_shift(int32_t e) { return e % 32 >= 16 ? 4 : 0; }

// Offset of position pos's row in the KIVI windows.
size_t win_row(const KvHead& kv, int32_t pos) {
  return static_cast<size_t>((pos - kv.win_base) % kv.win_rows) * kv.lay->dim;
}

uint8_t* block_k(const KvHead& kv, int32_t pos) { return kv.k + static_cast<size_t>(pos / kB) * kv.lay->k_block_bytes; }
uint8_t* block_v(const KvHead& kv, int32_t pos) { return kv.v + static_cast<size_t>(pos / kB) * kv.lay->v_block_bytes; }

// A (dim) copy of a head_dim row, zero-padded.
void pad(const float* x, int32_t n, int32_t dim, float* out) {
  std::copy_n(x, n, out);
  std::fill(out + n, out + dim, 0.0f);
}

// Q8 key row of lane t: dimension 4c+i goes to byte (c·16 + t)·4 + i, so that one 64-byte load
// gives 4 dimensions of all 16 positions (one int32 lane per position for vpdpbusd / sdot).
void store_q8_k(uint8_t* blk, int32_t dim, int32_t t, const float* x) {
  int8_t q[kAttnMaxDim];
  const float d = quantize_q8(x, dim, q);
  for (int32_t i = 0; i < dim; ++i) blk[(i / 4 * kB + t) * 4 + i % 4] = static_cast<uint8_t>(q[i]);
  std::memcpy(blk + 16 * dim + 4 * t, &d, sizeof d);
}

// Q8 value row of lane t = 4u + i: dimension e goes to byte (u·dim + e)·4 + i, so that one
// 64-byte load gives 16 dimensions of 4 positions (one int32 lane per dimension, summing the
// 4 positions' products with P).
void store_q8_v(uint8_t* blk, int32_t dim, int32_t t, const float* x) {
  int8_t q[kAttnMaxDim];
  const float d = quantize_q8(x, dim, q);
  for (int32_t e = 0; e < dim; ++e) blk[((t / 4) * dim + e) * 4 + t % 4] = static_cast<uint8_t>(q[e]);
  std::memcpy(blk + 16 * dim + 4 * t, &d, sizeof d);
}

// Per-position Q4 (keys or values): group by group along the dimension, then the nibbles into
// the interleaved layout (read-modify-write: each byte holds two dimensions of this position).
void store_q4(uint8_t* blk, const KvLayout& L, int32_t t, const float* x, bool value) {
  const int32_t dim = L.dim, ng = L.n_groups();
  auto* d16 = reinterpret_cast<uint16_t*>(blk + 8 * dim);
  auto* z = reinterpret_cast<int8_t*>(blk + 8 * dim + 2 * kB * ng);
  uint8_t u[kAttnMaxDim];
  for (int32_t g = 0; g < ng; ++g) quantize_q4(x + g * L.group, L.group, u + g * L.group, &d16[g * kB + t], &z[g * kB + t]);
  for (int32_t i = 0; i < dim; ++i) {
    const size_t at = value ? v4_byte(dim, i, t) : k4_byte(i, t);
    const int sh = value ? v4_shift(i) : k4_shift(i);
    blk[at] = static_cast<uint8_t>((blk[at] & ~(15 << sh)) | (u[i] << sh));
  }
}

}  // namespace

const char* kv_type_name(KvType t) {
  static constexpr const char* kNames[] = {"f32", "f16", "bf16", "q8", "q4"};
  const auto i = static_cast<size_t>(t);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

// Block sizes follow the layouts in attn.h: values and keys, 16 positions each, scales after the
// quantized bytes so a block is one contiguous run the kernels stream through.
KvLayout kv_layout(KvType type, int32_t head_dim, int32_t group, bool k_per_channel) {
  KvLayout L;
  L.type = type;
  L.head_dim = head_dim;
  switch (type) {
    case KvType::kF32:
    case KvType::kF16:
    case KvType::kBf16: {
      L.dim = head_dim;
      const int32_t elem = type == KvType::kF32 ? 4 : 2;
      L.k_block_bytes = L.v_block_bytes = kB * head_dim * elem;
      break;
    }
    case KvType::kQ8:
      // 16 dimensions: whole 64-byte value vectors (16 dimensions × 4 positions).
      L.dim = round_up(head_dim, 16);
      L.k_block_bytes = L.v_block_bytes = kB * L.dim + kB * 4;  // int8 values, float scales
      break;
    case KvType::kQ4:
    case KvType::kCount: {
      L.type = KvType::kQ4;
      // 32 dimensions: a value vector holds 32 (16 per nibble), and groups are 32 at least.
      L.dim = round_up(head_dim, 32);
      const int32_t want = group == 64 || group == 128 ? group : 32;
      L.group = want;
      while (L.dim % L.group != 0) L.group /= 2;  // dim is a multiple of 32: stops at 32 at worst
      L.k_per_channel = k_per_channel;
      const int32_t per_group = kB * 3;  // fp16 scale and int8 zero per group per position
      L.v_block_bytes = kB * L.dim / 2 + per_group * L.n_groups();
      L.k_block_bytes = k_per_channel ? kB * L.dim / 2 : L.v_block_bytes;
      if (k_per_channel) {
        L.tgroup = want;
        L.kc_bytes = 3 * L.dim;  // fp16 scale and int8 zero per channel per token group
        // One group of recent positions in fp16 at least: more (2 or 4 groups) measured no
        // better on SmolLM2 / WikiText-2 (docs/accuracy.md).
        L.window = L.tgroup;
        L.win_rows = L.window + L.tgroup;
      }
      break;
    }
  }
  if (L.group == 0) L.group = L.dim;
  return L;
}

double kv_bytes_per_position(const KvLayout& L) {
  double b = static_cast<double>(L.k_block_bytes + L.v_block_bytes) / kB;
  if (L.tgroup > 0) b += static_cast<double>(L.kc_bytes) / L.tgroup;
  return b;
}

// Float caches store rows as they are; quantized ones pad to the layout's dimension with zeros
// (the padded query dimensions are zero too, so padding never changes a score).
void kv_store(const KvHead& kv, int32_t pos, const float* k, const float* v) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, t = pos % kB;
  uint8_t* kb = block_k(kv, pos);
  uint8_t* vb = block_v(kv, pos);
  switch (L.type) {
    case KvType::kF32:
      std::memcpy(kb + static_cast<size_t>(t) * dim * 4, k, sizeof(float) * dim);
      std::memcpy(vb + static_cast<size_t>(t) * dim * 4, v, sizeof(float) * dim);
      return;
    case KvType::kF16:
    case KvType::kBf16: {
      auto* kh = reinterpret_cast<uint16_t*>(kb) + static_cast<size_t>(t) * dim;
      auto* vh = reinterpret_cast<uint16_t*>(vb) + static_cast<size_t>(t) * dim;
      const bool f16 = L.type == KvType::kF16;
      for (int32_t i = 0; i < dim; ++i) {
        kh[i] = f16 ? qe_fp32_to_fp16(k[i]) : qe_fp32_to_bf16(k[i]);
        vh[i] = f16 ? qe_fp32_to_fp16(v[i]) : qe_fp32_to_bf16(v[i]);
      }
      return;
    }
    default: break;
  }
  float kp[kAttnMaxDim], vp[kAttnMaxDim];  // (dim) zero-padded rows
  pad(k, L.head_dim, dim, kp);
  pad(v, L.head_dim, dim, vp);
  if (L.type == KvType::kQ8) {
    store_q8_k(kb, dim, t, kp);
    store_q8_v(vb, dim, t, vp);
    return;
  }
  // KIVI: both rows wait in the fp16 windows; kv_close_group quantizes them a group later.
  if (L.k_per_channel) {
    const size_t slot = win_row(kv, pos);
    for (int32_t i = 0; i < dim; ++i) {
      kv.win_k[slot + i] = qe_fp32_to_fp16(kp[i]);
      kv.win_v[slot + i] = qe_fp32_to_fp16(vp[i]);
    }
    return;
  }
  store_q4(kb, L, t, kp, false);
  store_q4(vb, L, t, vp, true);
}

// With W = window and G = tgroup: n_kv < W + G keeps everything in the windows; after that the
// start advances by G whenever n_kv crosses a multiple of G, leaving W .. W + G − 1 positions.
int32_t kv_window_start(const KvLayout& L, int32_t n_kv) {
  return n_kv >= L.win_rows ? n_kv / L.tgroup * L.tgroup - L.window : 0;
}

int32_t kv_group_to_close(const KvLayout& L, int32_t pos) {
  if (!L.k_per_channel || (pos + 1) % L.tgroup != 0 || pos + 1 < L.win_rows) return -1;
  return (pos + 1 - L.win_rows) / L.tgroup;
}

// KIVI: keys are quantized per channel only once their whole token group is known, which is
// why the windows exist; values use the per-position codec, just later than at their write.
void kv_close_group(const KvHead& kv, int32_t g) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, G = L.tgroup;
  uint8_t* kc = kv.kc + static_cast<size_t>(g) * L.kc_bytes;
  auto* dk = reinterpret_cast<uint16_t*>(kc);
  auto* zk = reinterpret_cast<int8_t*>(kc + 2 * dim);
  auto slot = [&](int32_t pos) { return win_row(kv, pos); };
  float x[kAttnMaxDim];
  uint8_t u[128];
  // Keys, channel by channel over the group's positions.
  for (int32_t i = 0; i < dim; ++i) {
    for (int32_t j = 0; j < G; ++j) x[j] = qe_fp16_to_fp32(kv.win_k[slot(g * G + j) + i]);
    quantize_q4(x, G, u, &dk[i], &zk[i]);
    for (int32_t j = 0; j < G; ++j) {
      const int32_t pos = g * G + j;
      uint8_t* b = block_k(kv, pos) + k4_byte(i, pos % kB);
      const int sh = k4_shift(i);
      *b = static_cast<uint8_t>((*b & ~(15 << sh)) | (u[j] << sh));
    }
  }
  // Values, position by position, as every Q4 value is stored.
  for (int32_t j = 0; j < G; ++j) {
    const int32_t pos = g * G + j;
    for (int32_t e = 0; e < dim; ++e) x[e] = qe_fp16_to_fp32(kv.win_v[slot(pos) + e]);
    store_q4(block_v(kv, pos), L, pos % kB, x, true);
  }
}

// Truncation: the decoded values go back into the windows (fp16), so attention sees what it saw
// before; when the group fills again it is quantized from these (a second rounding).
void kv_reopen_group(const KvHead& kv, int32_t g, int32_t n) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, G = L.tgroup;
  float kf[kB * kAttnMaxDim], vf[kB * kAttnMaxDim];
  // A view in which the group counts as quantized, so kv_load_block decodes its blocks rather
  // than reading the (stale) window rows of those positions.
  KvHead quantized = kv;
  quantized.n_q = (g + 1) * G;
  for (int32_t j = 0; j < n; j += kB) {
    const int32_t pos0 = g * G + j;
    kv_load_block(quantized, pos0 / kB, kf, vf);
    for (int32_t t = 0; t < std::min(kB, n - j); ++t) {
      const size_t slot = win_row(kv, pos0 + t);
      for (int32_t i = 0; i < dim; ++i) {
        kv.win_k[slot + i] = qe_fp32_to_fp16(kf[t * dim + i]);
        kv.win_v[slot + i] = qe_fp32_to_fp16(vf[t * dim + i]);
      }
    }
  }
}

// The inverse of the layouts above, position by position: the float path's decoding of quantized
// caches (--attn float), the tests' view of a cache, and the source of kv_reopen_group.
void kv_load_block(const KvHead& kv, int32_t blk, float* k, float* v) {
  const KvLayout& L = *kv.lay;
  const int32_t dim = L.dim, ng = L.n_groups(), pos0 = blk * kB;
  const uint8_t* kb = kv.k + static_cast<size_t>(blk) * L.k_block_bytes;
  const uint8_t* vb = kv.v + static_cast<size_t>(blk) * L.v_block_bytes;
  for (int32_t t = 0; t < kB; ++t) {
    float* kr = k != nullptr ? k + t * dim : nullptr;
    float* vr = v != nullptr ? v + t * dim : nullptr;
    if (L.type == KvType::kQ8) {
      float dk, dv;
      std::memcpy(&dk, kb + 16 * dim + 4 * t, sizeof dk);
      std::memcpy(&dv, vb + 16 * dim + 4 * t, sizeof dv);
      for (int32_t i = 0; i < dim; ++i) {
        if (kr) kr[i] = dk * static_cast<float>(static_cast<int8_t>(kb[(i / 4 * kB + t) * 4 + i % 4]));
        if (vr) vr[i] = dv * static_cast<float>(static_cast<int8_t>(vb[((t / 4) * dim + i) * 4 + t % 4]));
      }
    } else if (L.k_per_channel && pos0 + t >= kv.n_q) {
      // KIVI window: fp16 keys and values of the most recent positions.
      const size_t slot = win_row(kv, pos0 + t);
      for (int32_t i = 0; i < dim; ++i) {
        if (kr) kr[i] = qe_fp16_to_fp32(kv.win_k[slot + i]);
        if (vr) vr[i] = qe_fp16_to_fp32(kv.win_v[slot + i]);
      }
    } else {
      const auto* d16 = reinterpret_cast<const uint16_t*>(vb + 8 * dim);
      const auto* z = reinterpret_cast<const int8_t*>(vb + 8 * dim + 2 * kB * ng);
      for (int32_t e = 0; vr && e < dim; ++e) {
        const auto u = static_cast<uint8_t>((vb[v4_byte(dim, e, t)] >> v4_shift(e)) & 15);
        vr[e] = dq4(u, d16[(e / L.group) * kB + t], z[(e / L.group) * kB + t]);
      }
      if (kr == nullptr) continue;
      // Per-position scales, or (KIVI) the token group's per-channel ones.
      const uint16_t* kd = reinterpret_cast<const uint16_t*>(kb + 8 * dim);
      const int8_t* kz = reinterpret_cast<const int8_t*>(kb + 8 * dim + 2 * kB * ng);
      if (L.k_per_channel) {
        const uint8_t* kc = kv.kc + static_cast<size_t>((pos0 + t) / L.tgroup) * L.kc_bytes;
        kd = reinterpret_cast<const uint16_t*>(kc);
        kz = reinterpret_cast<const int8_t*>(kc + 2 * dim);
      }
      for (int32_t i = 0; i < dim; ++i) {
        const auto u = static_cast<uint8_t>((kb[k4_byte(i, t)] >> k4_shift(i)) & 15);
        const int32_t at = L.k_per_channel ? i : (i / L.group) * kB + t;
        kr[i] = dq4(u, kd[at], kz[at]);
      }
    }
  }
}

// ---- Table choice ----

namespace {

const AttnTable* compiled(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return attn_scalar();
    case Isa::kAvx2: return attn_avx2();
    case Isa::kAvx512: return nullptr;  // no VNNI: the avx2 table serves
    case Isa::kAvx512Vnni:
    case Isa::kAvx512Bf16: return attn_avx512vnni();
    case Isa::kNeon: return attn_neon();
    case Isa::kNeonDotprod:
    case Isa::kNeonI8mm: return attn_neon_dotprod();
    case Isa::kCount: break;
  }
  return nullptr;
}

}  // namespace

// Closest table at or below isa: avx512 without VNNI gets avx2's, neon-i8mm gets
// neon-dotprod's (attention has no matrix-multiply-accumulate step worth smmla).
const AttnTable& attn_table(Isa isa) {
  for (int i = static_cast<int>(isa); i > 0; --i) {
    const auto at = static_cast<Isa>(i);
    const AttnTable* t = isa_usable(at) ? compiled(at) : nullptr;
    // x86 and Arm ISAs never mix: a usable ISA is one of this architecture.
    if (t != nullptr) return *t;
  }
  return *attn_scalar();
}

const AttnTable& attn() {
  static const AttnTable& t = attn_table(active_isa());
  return t;
}

#if !defined(__x86_64__) && !defined(__i386__)
const AttnTable* attn_avx2() { return nullptr; }
const AttnTable* attn_avx512vnni() { return nullptr; }
#endif
#if !defined(__aarch64__)
const AttnTable* attn_neon() { return nullptr; }
const AttnTable* attn_neon_dotprod() { return nullptr; }
#endif

}  // namespace qe::cpu
