// rowtile_reduce.cuh: the two ends of every GEMV that gives a warp or block N rows: the rows'
// indices and zeroed sums at the start, and at the end of the row-tiled ones: each lane's partial sums of T rows x B
// columns meet in a shuffle butterfly per warp, then across the block's warps in shared memory in
// a fixed order (deterministic: the simulator computes the device's bits).
#pragma once

#include <cstdint>

#include "common/simt_api.cuh"

namespace qe::cuda {

// row[n] = row0 + n, except that rows past the end repeat the last row (loads stay in bounds;
// nothing is written for them); acc zeroed.
template <int N, int B>
QE_DEVICE_FN void rows_begin(int row0, int rows, int (&row)[N], float (&acc)[N][B]) {
#pragma unroll
  for (int n = 0; n < N; ++n) {
    row[n] = row0 + n < rows ? row0 + n : rows - 1;
#pragma unroll
    for (int b = 0; b < B; ++b) acc[n][b] = 0.0f;
  }
}

// The warp's sum of v, the same in every lane (butterfly, fixed order).
QE_DEVICE_FN float warp_sum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// y[b * rows + row0 + t] = sum over the kWarps warps and their lanes of acc[t][b], for the
// rows that exist. partial: kWarps * T * B floats of shared memory. Every thread calls it.
template <int kWarps, int T, int B>
QE_DEVICE_FN void rowtile_store(const float (&acc)[T][B], float* partial, int row0, int rows, float* y) {
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) / 32;
#pragma unroll
  for (int t = 0; t < T; ++t)
#pragma unroll
    for (int b = 0; b < B; ++b) {
      const float v = warp_sum(acc[t][b]);
      if (lane == 0) partial[(warp * T + t) * B + b] = v;
    }
  __syncthreads();
  const int i = int(threadIdx.x);
  if (i < T * B) {
    const int t = i / B, b = i % B;
    float v = partial[t * B + b];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) v += partial[(w * T + t) * B + b];
    if (row0 + t < rows) y[size_t(b) * size_t(rows) + size_t(row0 + t)] = v;
  }
}

}  // namespace qe::cuda
