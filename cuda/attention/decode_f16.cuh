// decode_f16.cuh: decode attention over an fp16 KV cache (flash-decoding), in the CPU cache's
// layout: per KV head, position p's key (and value) is row p of (n_ctx, dim) fp16 (the f16 cache
// stores blocks of 16 positions, each (16, dim): the same rows, contiguous).
//
// Stage 1, grid (KV heads, chunks of 128 positions), 4 warps: the G query heads that share a KV
// head (grouped-query attention) are scored together, so each key and value is read once per
// chunk. Lane = position for the scores (q in shared memory, 16-byte key loads), lane = 1/32 of
// the head dimension for P.V (a warp reads one value row, coalesced, per position). Each warp
// keeps an online-softmax state (max m, denominator l, unnormalized o) of its 32 positions; the
// block merges its 4 warps and writes the chunk's state. Stage 2, one block per query head,
// merges the chunks (log-sum-exp) and divides by l.
// What bounds it: the cache read, 4 * dim bytes per position per KV head (at depth 4096 on
// llama3-8b: 16.8 MB a layer, ~4 us at 4.2 TB/s), and at short depths the two launches.
// exp is the CPU's polynomial (fast_exp.cuh); every float operation is explicit, so the
// simulator computes the device's bits. Against the CPU's float path: equal within rounding.
#pragma once

#include <cstdint>

#include "attention/attention.h"
#include "common/fast_exp.cuh"
#include "common/ptx.cuh"
#include "common/simt_api.cuh"

namespace qe::cuda {

constexpr float kNegInf = -__builtin_huge_valf();

// exp(a - b) for merging softmax states: 0 when a is -inf (an empty state).
QE_DEVICE_FN float merge_factor(float a, float b) { return a == kNegInf ? 0.0f : cpu_fast_exp(a - b); }

//   q (n_heads, D) fp32; k, v: (n_kv_heads, n_ctx, D) fp16 bits; n_kv visible positions.
//   Writes pm, pl (n_heads, chunks) and po (n_heads, chunks, D). Grid (n_kv_heads, chunks), 128.
template <int G, int D>
__global__ void __launch_bounds__(128, 4)
    attn_decode_f16_chunk(const float* __restrict__ q, const uint16_t* __restrict__ k, const uint16_t* __restrict__ v,
                          int n_ctx, int n_kv, float scale, float* __restrict__ pm, float* __restrict__ pl,
                          float* __restrict__ po) {
  static_assert(D % 32 == 0 && D <= 256, "head dimension: a multiple of 32 up to 256");
  constexpr int kPer = D / 32;  // dimensions per lane in P.V
  QE_SHARED(float, qs, G* D);
  QE_SHARED(float, wm, 4 * G);
  QE_SHARED(float, wl, 4 * G);
  QE_SHARED(float, wo, 4 * G * D);
  const int kvh = int(blockIdx.x), chunk = int(blockIdx.y), chunks = int(gridDim.y);
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) / 32;
  grid_dependency_wait();
  allow_dependent_launch();
  for (int i = int(threadIdx.x); i < G * D; i += 128) qs[i] = q[size_t(kvh) * G * D + size_t(i)];
  __syncthreads();

  const size_t head_base = size_t(kvh) * size_t(n_ctx) * D;
  const int p0 = chunk * kAttnChunk + warp * 32;
  const int p = p0 + lane;
  const int n_here = n_kv - p0 < 32 ? (n_kv - p0 > 0 ? n_kv - p0 : 0) : 32;  // this warp's positions

  // Scores: lane = position.
  float s[G];
#pragma unroll
  for (int g = 0; g < G; ++g) s[g] = 0.0f;
  if (lane < n_here) {
    const uint16_t* kr = k + head_base + size_t(p) * D;
    for (int d = 0; d < D; d += 8) {
      const U32x4 kk = load_cached_128(kr + d);
      const uint32_t w[4] = {kk.x, kk.y, kk.z, kk.w};
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float k0 = half_lo_to_float(w[i]), k1 = half_hi_to_float(w[i]);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          s[g] = fmaf(qs[g * D + d + 2 * i], k0, s[g]);
          s[g] = fmaf(qs[g * D + d + 2 * i + 1], k1, s[g]);
        }
      }
    }
  }
  float m[G], l[G], pr[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float sv = lane < n_here ? s[g] * scale : kNegInf;
    float mx = sv;
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
      const float o = __shfl_xor_sync(0xffffffffu, mx, off);
      mx = o > mx ? o : mx;
    }
    m[g] = mx;
    pr[g] = lane < n_here ? cpu_fast_exp(sv - mx) : 0.0f;
    float sum = pr[g];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    l[g] = sum;
  }

  // P.V: lane = kPer dimensions, positions in order.
  float o[G][kPer];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int i = 0; i < kPer; ++i) o[g][i] = 0.0f;
  for (int j = 0; j < n_here; ++j) {
    const uint16_t* vr = v + head_base + size_t(p0 + j) * D + size_t(lane) * kPer;
    float vv[kPer];
#pragma unroll
    for (int i = 0; i < kPer; i += 2) {
      const uint32_t h2 = *reinterpret_cast<const uint32_t*>(vr + i);
      vv[i] = half_lo_to_float(h2);
      vv[i + 1] = half_hi_to_float(h2);
    }
#pragma unroll
    for (int g = 0; g < G; ++g) {
      const float pj = __shfl_sync(0xffffffffu, pr[g], j);
#pragma unroll
      for (int i = 0; i < kPer; ++i) o[g][i] = fmaf(pj, vv[i], o[g][i]);
    }
  }

  // Merge the 4 warps' states (empty warps have m = -inf, l = 0, o = 0).
#pragma unroll
  for (int g = 0; g < G; ++g) {
    if (lane == 0) {
      wm[warp * G + g] = n_here > 0 ? m[g] : kNegInf;
      wl[warp * G + g] = l[g];
    }
#pragma unroll
    for (int i = 0; i < kPer; ++i) wo[(warp * G + g) * D + lane * kPer + i] = o[g][i];
  }
  __syncthreads();
  for (int i = int(threadIdx.x); i < G * D; i += 128) {
    const int g = i / D, d = i % D;
    float mm = wm[g];
#pragma unroll
    for (int w = 1; w < 4; ++w) mm = wm[w * G + g] > mm ? wm[w * G + g] : mm;
    float ll = 0.0f, oo = 0.0f;
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      const float f = merge_factor(wm[w * G + g], mm);
      ll = fmaf(wl[w * G + g], f, ll);
      oo = fmaf(wo[(w * G + g) * D + d], f, oo);
    }
    const size_t hc = (size_t(kvh) * G + size_t(g)) * size_t(chunks) + size_t(chunk);
    po[hc * D + size_t(d)] = oo;
    if (d == 0) {
      pm[hc] = mm;
      pl[hc] = ll;
    }
  }
}

// out (n_heads, D) fp32 = merged chunks / l. Grid: n_heads blocks of D threads.
template <int D>
__global__ void __launch_bounds__(256)
    attn_decode_merge(const float* __restrict__ pm, const float* __restrict__ pl, const float* __restrict__ po,
                      int chunks, float* __restrict__ out) {
  grid_dependency_wait();
  allow_dependent_launch();
  const int h = int(blockIdx.x), d = int(threadIdx.x);
  const float* m = pm + size_t(h) * size_t(chunks);
  const float* l = pl + size_t(h) * size_t(chunks);
  float mm = m[0];
  for (int c = 1; c < chunks; ++c) mm = m[c] > mm ? m[c] : mm;
  float ll = 0.0f, oo = 0.0f;
  for (int c = 0; c < chunks; ++c) {
    const float f = merge_factor(m[c], mm);
    ll = fmaf(l[c], f, ll);
    oo = fmaf(po[(size_t(h) * size_t(chunks) + size_t(c)) * D + size_t(d)], f, oo);
  }
  out[size_t(h) * D + size_t(d)] = oo / ll;
}

}  // namespace qe::cuda
