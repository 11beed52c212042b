// Attention over the KV cache: the cache's block layouts per type, the per-ISA attention table,
// and the integer-attention arithmetic every ISA reproduces bit for bit (attn_scalar.cpp).
//
// Cache layout. Each (layer, KV head) owns a run of blocks of kKvBlock = 16 positions; position p
// lives in block p / 16, lane p % 16. Within a block the bytes are interleaved so that one SIMD
// register holds the same few dimensions of many positions (keys: lanes are positions, as the
// A8 GEMV's lanes are weight rows) or a few positions of many dimensions (values: lanes are
// output dimensions). n = KvLayout::dim, the head dimension padded as the layout needs:
//
//   F32 / F16 / BF16  K and V: rows (16, n) of float / fp16 / bf16.
//   Q8  K  int8 q[n/4][16][4]: q[c][t][i] is dimension 4c+i of position t; then float d[16].
//       V  int8 q[4][n][4]:    q[u][e][i] is dimension e of position 4u+i;  then float d[16].
//       x = d · q, d = max|x| / 127 per head per position (q in [-127, 127]).
//   Q4  K  uint8 q[n/8][16][4]: byte i of position t holds dimension 8c+i in its low nibble and
//          8c+4+i in its high nibble; then uint16 d[ng][16] (fp16), int8 z[ng][16].
//       V  uint8 q[4][n/32][16][4]: byte q[u][c][e][i] holds dimension 32c+e of position 4u+i in
//          its low nibble and 32c+16+e in its high nibble; then d[ng][16], z[ng][16] as for K.
//          (Nibble pairs are split 4 or 16 apart so one AND and one shift unpack a vector.)
//       x = d · (u − z), u in [0, 15], per `group` consecutive dimensions (ng = n / group) of
//       one position: scale and integer zero point, 3 bytes per group.
//   Q4, keys per channel (KIVI, arXiv:2402.02750): the key nibbles as above but with no per-block
//       scales; instead every `tgroup` consecutive positions share, per dimension, an fp16 scale
//       and an int8 zero point (uint16 d[n] then int8 z[n] per token group). Values as Q4.
//       The most recent positions stay unquantized, keys and values alike, in fp16 windows of
//       window + tgroup rows (slot p % rows; window = tgroup): per-channel groups need tgroup
//       keys before they can be formed, and attention leans hardest on the most recent tokens
//       (KIVI keeps such a full-precision residual too). Positions [0, n_q) are quantized,
//       [n_q, n_kv) are in the windows, n_q = kv_window_start(lay, n_kv): once there are that
//       many, between window and window + tgroup − 1 positions stay in fp16. A query sees the
//       windows as of its own position (prompt batches stage a copy: KvCache::stage_batch), so
//       prefill and decode read the same values.
//
// Integer attention (Q8, Q4). For one query row (one query head of one token) over positions
// [k0, k1), tile by tile (kAttnTile positions; the last tile partial), with state m (running
// max), l (running denominator), o[n] (unnormalized output), starting at m = −inf, l = 0, o = 0:
//   query   per-position keys: s_q = max|q| / 127, q8 = round_half_even(q / s_q) in [−127, 127],
//           c = s_q · scale. Per-channel keys, once per token group G (scales dk, zeros zk):
//           q'[i] = q[i] · dk[i] quantized the same way to q8', s_q', c' = s_q' · scale.
//   scores  Q8:      s_j = (float)Σ q8·k8 · (d_j · c)
//           Q4:      a = 0; per group g: a = a + (float)(Σ_g q8·u − z_jg · Σ_g q8) · d_jg;
//                    s_j = a · c
//           Q4 KIVI: s_j = (float)(Σ q8'·u − Σ q8'·zk) · c'; window positions (fp16 keys):
//                    s_j = (Σ_i q[i] · k[i], summed in index order) · scale.
//   softmax m_t = max s_j over the tile's visible positions; m' = max(m, m_t);
//           α = exp(m − m') (0 while m = −inf); p_j = exp(s_j − m') (0 where not visible);
//           t = Σ p_j over 16 lanes (lane j % 16 sums its positions in order, then lanes
//           i + 8, i + 4, i + 2, i + 1 fold in that order); l = l · α + t.
//   P·V     Q8:  p'_j = p_j · d_j; Q4: p'_jg = p_j · d_jg per value group g, over the tile's
//           quantized positions. Per tile (and group), M = max p'; inv = M > 0 ? 255 / M : 0;
//           P_j = min(255, round(p'_j · inv)) as uint8; σ = M / 255. With the exact integer
//           I[e] = Σ_j P_j · v8_j[e] (Q8) or Σ_j P_jg · u_j[e] − Σ_j P_jg · z_jg (Q4) and, for the
//           KIVI window's fp16 values, w[e] = Σ_j p_j · v_j[e] in position order from 0:
//           o[e] = (o[e] · α + (float)I[e] · σ) + w[e].
// Every product and sum is a separate IEEE fp32 operation (no fused multiply-add), exp is
// fast_exp() in fast_exp-inl.h, and integer sums are exact int32: the scalar table is this
// specification and every ISA table's result equals it bit for bit. The caller merges the (m, l, o) states of
// the chunks one row was split into and divides o by l.
//
// The float path (F32/F16/BF16 caches, or --attn float on Q8/Q4) dequantizes each block to fp32
// and runs the same online softmax with fp32 dot products: no bit-exactness across ISAs there.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cpu/cpu_kernels.h"

namespace qe::cpu {

enum class KvType : int { kF32 = 0, kF16, kBf16, kQ8, kQ4, kCount };
const char* kv_type_name(KvType t);

constexpr int32_t kKvBlock = 16;       // positions per cache block
constexpr int32_t kAttnTile = 64;      // positions per softmax tile: 4 blocks
constexpr int32_t kAttnMaxRows = 16;   // query rows per kernel call
constexpr int32_t kAttnMaxDim = 256;   // largest head dimension

// How one KV head of one layer is stored. Built by kv_layout(), never by hand.
struct KvLayout {
  KvType type = KvType::kF16;
  int32_t head_dim = 0;        // the model's head dimension
  int32_t dim = 0;             // padded head dimension (zeros beyond head_dim): Q8 16, Q4 32
  int32_t group = 0;           // Q4: dimensions per scale group (divides dim); others: dim
  bool k_per_channel = false;  // Q4 keys per channel over token groups (KIVI)
  int32_t tgroup = 0;          // KIVI: positions per key token group (32, 64 or 128)
  int32_t window = 0;          // KIVI: fp16 positions kept at least (a multiple of tgroup)
  int32_t win_rows = 0;        // KIVI: rows of the fp16 windows, window + tgroup
  int32_t k_block_bytes = 0;   // one 16-position key block
  int32_t v_block_bytes = 0;   // one 16-position value block
  int32_t kc_bytes = 0;        // KIVI: per-channel scales and zeros of one token group
  int32_t n_groups() const { return dim / group; }
};

// The layout of a type for a head dimension (at most kAttnMaxDim). group: 32, 64 or 128 for Q4:
// the value groups (and per-position key groups) use the largest of those, at most `group`, that
// divides the padded dimension; KIVI token groups use `group` itself.
KvLayout kv_layout(KvType type, int32_t head_dim, int32_t group, bool k_per_channel);

// Bytes per position of one KV head: both blocks and (KIVI) the token-group scales, amortized.
double kv_bytes_per_position(const KvLayout& lay);

// One (layer, KV head) of a cache as the kernels see it. (No inline functions in this header:
// it is compiled into files with different ISA flags, and the linker would keep one copy.)
struct KvHead {
  const KvLayout* lay = nullptr;
  uint8_t* k = nullptr;         // (n_blocks, k_block_bytes)
  uint8_t* v = nullptr;         // (n_blocks, v_block_bytes)
  uint8_t* kc = nullptr;        // KIVI: (n_ctx / tgroup, kc_bytes) per-channel key scales, zeros
  // KIVI: fp16 keys and values of positions [n_q, n_kv), position p in row
  // (p − win_base) % win_rows: the cache's own windows (win_base 0, win_rows = lay.win_rows), or a
  // copy covering a whole prompt batch (each query's window lies inside it).
  uint16_t* win_k = nullptr;    // (win_rows, dim)
  uint16_t* win_v = nullptr;    // (win_rows, dim)
  int32_t win_base = 0, win_rows = 0;
  int32_t n_q = 0;              // KIVI: positions [0, n_q) are read quantized (kv_window_start)
};

// KIVI: the first position still in the fp16 windows when n_kv positions are written (a
// multiple of tgroup, leaving between window and window + tgroup − 1 positions there).
int32_t kv_window_start(const KvLayout& lay, int32_t n_kv);
// KIVI: the token group that writing position pos completes the window over (to be quantized
// by kv_close_group), or −1.
int32_t kv_group_to_close(const KvLayout& lay, int32_t pos);

// One query row: a query head of one token, seeing positions [0, n_vis).
struct AttnRow {
  const float* q = nullptr;  // (head_dim)
  int32_t n_vis = 0;
};

// Online-softmax state of one row over a range of positions: o is (dim) and unnormalized.
struct AttnState {
  float m, l;
  float* o;
};

struct AttnTable {
  Isa isa = Isa::kScalar;
  // Integer attention (Q8, Q4 caches) of rows[0, n_rows) (n_rows <= kAttnMaxRows, all reading
  // this KV head) over positions [k0, min(k1, n_vis)); k0 a multiple of kAttnTile. Writes the
  // final state of each row to st[r] (st[r].o: dim floats). scale: softmax scale of q·k.
  void (*attend_int)(const KvHead& kv, const AttnRow* rows, int32_t n_rows, int32_t k0, int32_t k1, float scale,
                     AttnState* st) = nullptr;
  // The float path, any cache type: same contract.
  void (*attend_float)(const KvHead& kv, const AttnRow* rows, int32_t n_rows, int32_t k0, int32_t k1, float scale,
                       AttnState* st) = nullptr;
};

// The tables compiled into this binary (nullptr where not compiled); the scalar one is the
// specification. attn_table(isa) answers the closest table at or below isa that exists.
const AttnTable* attn_scalar();
const AttnTable* attn_avx2();
const AttnTable* attn_avx512vnni();
const AttnTable* attn_neon();
const AttnTable* attn_neon_dotprod();
const AttnTable& attn_table(Isa isa);
// The table of the active ISA (dispatch.h).
const AttnTable& attn();

// ---- Cache writes (one codec for every ISA: quantization happens once per position) ----

// Stores position pos's key and value rows (head_dim floats each) of one KV head: quantized
// now, or (KIVI) into the fp16 windows, whose oldest group kv_close_group then quantizes.
void kv_store(const KvHead& kv, int32_t pos, const float* k, const float* v);
// KIVI: quantizes token group g (positions g·tgroup .. +tgroup−1) from the windows: keys per
// channel, values per position. Due when position (g + 2)·tgroup − 1 has been stored.
void kv_close_group(const KvHead& kv, int32_t g);
// KIVI: returns positions [g·tgroup, g·tgroup + n) of a quantized group to the windows, decoded
// (truncation moved the window start back over it).
void kv_reopen_group(const KvHead& kv, int32_t g, int32_t n);
// Keys and values of block `blk` (positions 16·blk ..) as fp32 rows (16, dim), as attention sees
// them, zero beyond head_dim; k or v may be nullptr. Quantized types only.
void kv_load_block(const KvHead& kv, int32_t blk, float* k, float* v);

}  // namespace qe::cpu

