// ops.cuh: the small decode-step kernels around the GEMVs (RMSNorm, SwiGLU, residual add,
// greedy argmax), each the CPU op's arithmetic so that the device can be compared with the CPU
// forward pass. What bounds them: launch latency (a 4096-wide row is 16 KB); they will be fused
// into their neighbours (norm + quantize, swiglu + quantize) when the engine drives them.
#pragma once

#include <cstdint>

#include "common/fast_exp.cuh"
#include "common/ptx.cuh"
#include "common/simt_api.cuh"

namespace qe::cuda {

constexpr int kOpsThreads = 256;

// Block-wide sum of one float per thread (kOpsThreads threads), the same order every time.
QE_DEVICE_FN float block_sum(float v, float* scratch) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) & 31;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float s = 0.0f;
#pragma unroll
  for (int w = 0; w < kOpsThreads / 32; ++w) s += scratch[w];
  return s;
}

// out[b, i] = fp16(x[b, i] * inv_b * w[i]), inv_b = 1 / sqrt(sum x^2 / n + eps): the CPU
// rmsnorm's formula (its sum of squares runs in another order: equal within rounding).
//   x (B, n) fp32, w (n) fp32, out (B, n) fp16 bits. Grid: B blocks of kOpsThreads.
template <int kThreads>
__global__ void __launch_bounds__(kThreads) rmsnorm_f16(const float* __restrict__ x, const float* __restrict__ w, int n,
                                                        float eps, uint16_t* __restrict__ out) {
  static_assert(kThreads == kOpsThreads, "block_sum assumes kOpsThreads");
  QE_SHARED(float, scratch, kThreads / 32);
  grid_dependency_wait();
  allow_dependent_launch();
  const float* xb = x + size_t(blockIdx.x) * size_t(n);
  float ss = 0.0f;
  for (int i = int(threadIdx.x); i < n; i += kThreads) ss = fmaf(xb[i], xb[i], ss);
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / float(n) + eps);
  uint16_t* ob = out + size_t(blockIdx.x) * size_t(n);
  for (int i = int(threadIdx.x); i < n; i += kThreads) ob[i] = float_to_half(xb[i] * inv * w[i]);
}

// out[b, i] = gate / (1 + exp(-gate)) * up with gate = gu[b, i], up = gu[b, n + i]: the CPU
// swiglu bit for bit (same exp, same operations). gu (B, 2n) fp32 is the fused gate|up GEMV's
// output; out (B, n) as fp16 bits (half_out) or fp32. Grid: ceil(B n / kThreads) blocks.
template <int kThreads, bool kHalfOut>
__global__ void __launch_bounds__(kThreads)
    swiglu(const float* __restrict__ gu, int n, int batch, void* __restrict__ out) {
  grid_dependency_wait();
  allow_dependent_launch();
  const int i = int(blockIdx.x) * kThreads + int(threadIdx.x);
  if (i >= n * batch) return;
  const int b = i / n, j = i % n;
  const float g = gu[size_t(b) * size_t(2 * n) + size_t(j)], u = gu[size_t(b) * size_t(2 * n) + size_t(n + j)];
  const float v = g / (1.0f + cpu_fast_exp(-g)) * u;
  if constexpr (kHalfOut) {
    static_cast<uint16_t*>(out)[i] = float_to_half(v);
  } else {
    static_cast<float*>(out)[i] = v;
  }
}

// y[i] += x[i] over n (the residual stream). Grid: ceil(n / kThreads) blocks.
template <int kThreads>
__global__ void __launch_bounds__(kThreads) add_inplace(float* __restrict__ y, const float* __restrict__ x, int n) {
  grid_dependency_wait();
  allow_dependent_launch();
  const int i = int(blockIdx.x) * kThreads + int(threadIdx.x);
  if (i < n) y[i] += x[i];
}

// Greedy sampling, the CPU sampler's rule: the lowest id among the largest logits; NaN never
// wins, except that a NaN first logit is never beaten (the CPU scan starts from it).
//   logits (B, V) fp32 -> ids (B) int32. Grid: B blocks of kOpsThreads.
template <int kThreads>
__global__ void __launch_bounds__(kThreads) argmax(const float* __restrict__ logits, int V, int32_t* __restrict__ ids) {
  static_assert(kThreads == kOpsThreads, "one value per thread, 8 warps");
  QE_SHARED(float, best_v, kThreads / 32);
  QE_SHARED(int, best_i, kThreads / 32);
  grid_dependency_wait();
  allow_dependent_launch();
  const float* lb = logits + size_t(blockIdx.x) * size_t(V);
  float v = lb[0];
  int id = 0;
  for (int i = int(threadIdx.x); i < V; i += kThreads)
    if (lb[i] > v || (lb[i] == v && i < id)) v = lb[i], id = i;
      // Butterfly over the warp, then over the warps: larger value wins, equal values take the
      // lower id; NaN compares false and so never wins.
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, off);
    const int oi = __shfl_xor_sync(0xffffffffu, id, off);
    if (ov > v || (ov == v && oi < id)) v = ov, id = oi;
  }
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) & 31;
  if (lane == 0) best_v[warp] = v, best_i[warp] = id;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w)
      if (best_v[w] > v || (best_v[w] == v && best_i[w] < id)) v = best_v[w], id = best_i[w];
    ids[blockIdx.x] = lb[0] != lb[0] ? 0 : id;  // NaN first logit: the CPU keeps it
  }
}

}  // namespace qe::cuda
