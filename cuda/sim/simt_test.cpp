// simt_test.cpp: tests of the SIMT simulator (simt.h): built-ins, barriers, warp ops, shared memory, atomics.
#include "simt.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace {

using qe::sim::launch;

// ---- Kernels (written as CUDA source, as the real kernels are). ----------------------------------

struct Coords {
  uint3 tid, bid;
  dim3 bdim, gdim;
};

// out: (grid blocks * block threads) records, indexed by the global linear thread id.
__global__ void record_coords(Coords* out) {
  const unsigned block_linear = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread_linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned block_threads = blockDim.x * blockDim.y * blockDim.z;
  out[block_linear * block_threads + thread_linear] = {threadIdx, blockIdx, blockDim, gridDim};
}

// Each block reverses its blockDim.x-element slice of in into out through shared memory.
__global__ void reverse_block(const int* in, int* out) {
  QE_SHARED(int, smem, 1024);
  const unsigned n = blockDim.x, t = threadIdx.x, base = blockIdx.x * n;
  smem[t] = in[base + t];
  __syncthreads();
  out[base + t] = smem[n - 1 - t];
}

// Same through dynamic shared memory (blockDim.x ints given at launch).
__global__ void reverse_block_dynamic(const int* in, int* out) {
  QE_DYN_SHARED(int, smem);
  const unsigned n = blockDim.x, t = threadIdx.x, base = blockIdx.x * n;
  smem[t] = in[base + t];
  __syncthreads();
  out[base + t] = smem[n - 1 - t];
}

// out[block] = sum of in over the block's slice; warps reduce with xor (all lanes end with the
// sum) or down (lane 0 ends with it), then warp 0 reduces the per-warp sums.
template <bool kUseXor>
__global__ void block_sum(const int* in, int* out) {
  QE_SHARED(int, warp_sums, 32);
  const unsigned t = threadIdx.x, lane = t % 32, warp = t / 32, n_warps = blockDim.x / 32;
  int v = in[blockIdx.x * blockDim.x + t];
  for (int offset = 16; offset > 0; offset /= 2) {
    v += kUseXor ? __shfl_xor_sync(0xffffffffu, v, offset) : __shfl_down_sync(0xffffffffu, v, offset);
  }
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < n_warps ? warp_sums[lane] : 0;
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
    if (lane == 0) out[blockIdx.x] = v;
  }
}

// out: 4 values per thread: broadcast of lane 5, rotation by one lane, segment-8 broadcast of
// the segment's lane 0, segment-16 xor-8 exchange.
__global__ void shuffle_patterns(const double* in, double* out) {
  const unsigned t = threadIdx.x, lane = t % 32;
  const double v = in[t];
  out[4 * t + 0] = __shfl_sync(0xffffffffu, v, 5);
  out[4 * t + 1] = __shfl_sync(0xffffffffu, v, int(lane) + 1);  // lane 31 wraps to lane 0
  out[4 * t + 2] = __shfl_sync(0xffffffffu, v, 0, 8);
  out[4 * t + 3] = __shfl_xor_sync(0xffffffffu, v, 8, 16);
}

// out: 3 values per thread: down by 2 within 8-lane segments, up by 3 within 16-lane segments,
// and the segment-16 sum by xor.
__global__ void width_segments(const int* in, int* out) {
  const unsigned t = threadIdx.x;
  const int v = in[t];
  out[3 * t + 0] = __shfl_down_sync(0xffffffffu, v, 2, 8);
  out[3 * t + 1] = __shfl_up_sync(0xffffffffu, v, 3, 16);
  int s = v;
  for (int offset = 8; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset, 16);
  out[3 * t + 2] = s;
}

// Inclusive prefix sum over each warp (Hillis-Steele with shfl_up).
__global__ void warp_scan(const unsigned long long* in, unsigned long long* out) {
  const unsigned t = threadIdx.x, lane = t % 32;
  unsigned long long v = in[t];
  for (unsigned d = 1; d < 32; d *= 2) {
    const unsigned long long up = __shfl_up_sync(0xffffffffu, v, d);
    if (lane >= d) v += up;
  }
  out[t] = v;
}

// out: ballot, all, any of (in[t] != 0) per thread.
__global__ void votes(const int* in, unsigned* out) {
  const unsigned t = threadIdx.x;
  const int pred = in[t] != 0;
  out[3 * t + 0] = __ballot_sync(0xffffffffu, pred);
  out[3 * t + 1] = unsigned(__all_sync(0xffffffffu, pred));
  out[3 * t + 2] = unsigned(__any_sync(0xffffffffu, pred));
}

// For blockDim.x = 48 (warp 1 has 16 lanes): per thread the active mask, a ballot of all-true,
// the xor-sum over 16 lanes and the block sum through shared memory.
__global__ void partial_warp(const int* in, int* out) {
  QE_SHARED(int, total, 1);
  const unsigned t = threadIdx.x;
  int v = in[t];
  for (int offset = 8; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (t == 0) *total = 0;
  __syncthreads();
  atomicAdd(total, in[t]);
  __syncwarp();
  __syncthreads();
  out[4 * t + 0] = int(__activemask());
  out[4 * t + 1] = int(__ballot_sync(0xffffffffu, 1));
  out[4 * t + 2] = v;
  out[4 * t + 3] = *total;
}

// out: count, and, or of (in[t] != 0) over the block, per thread.
__global__ void block_votes(const int* in, int* out) {
  const unsigned t = threadIdx.x;
  const int pred = in[t] != 0;
  out[3 * t + 0] = __syncthreads_count(pred);
  out[3 * t + 1] = __syncthreads_and(pred);
  out[3 * t + 2] = __syncthreads_or(pred);
}

__global__ void count_atomics(int* count, float* fsum, int* imax, unsigned* umin, unsigned long long* cas_slot) {
  const unsigned g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(count, 1);
  atomicAdd(fsum, 1.0f);
  atomicMax(imax, int(g));
  atomicMin(umin, g + 7u);
  // Exactly one thread wins the empty slot.
  atomicCAS(cas_slot, 0ull, 1ull + g);
}

// out[0..3]: an unwritten static shared float, an unwritten dynamic one, and (block 1 only) the
// slot block 0 wrote: poisoned again at the start of every block.
__global__ void read_poison(unsigned* out) {
  QE_SHARED(float, s, 4);
  QE_DYN_SHARED(float, d);
  if (threadIdx.x != 0) return;
  out[4 * blockIdx.x + 0] = __float_as_uint(s[1]);
  out[4 * blockIdx.x + 1] = __float_as_uint(d[2]);
  out[4 * blockIdx.x + 2] = __float_as_uint(s[0]);
  s[0] = 1.0f;
  out[4 * blockIdx.x + 3] = __float_as_uint(s[0]);
}

__global__ void write_ids(unsigned* out, unsigned n) {
  QE_SHARED(unsigned, tile, 256);
  const unsigned g = blockIdx.x * blockDim.x + threadIdx.x;
  tile[threadIdx.x] = 3 * g;
  __syncthreads();
  if (g < n) out[g] = tile[threadIdx.x];
}

// Threads past n return before the barrier and shuffle, as bounds-checked kernels do: the rest
// must not wait for them.
__global__ void early_exit(const int* in, int* out, unsigned n) {
  QE_SHARED(int, smem, 64);
  const unsigned t = threadIdx.x;
  if (t >= n) return;
  smem[t] = in[t];
  __syncthreads();
  int v = smem[n - 1 - t];
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  out[t] = v;
}

__global__ void math_helpers(float* out, int* iout) {
  if (threadIdx.x != 0) return;
  out[0] = fmaf(1.0f + 0x1p-23f, 1.0f - 0x1p-23f, -1.0f);  // exactly -2^-46: only a fused op keeps it
  out[1] = rsqrtf(4.0f);
  out[2] = __fdividef(1.0f, 8.0f);
  out[3] = __expf(0.0f) + expf(0.0f) + exp2f(3.0f);
  out[4] = __uint_as_float(__float_as_uint(-2.5f));
  out[5] = fmaxf(1.0f, 2.0f) + fminf(1.0f, 2.0f) + __ldg(out + 1);
  iout[0] = min(-3, 4) + max(-3, 4);
  iout[1] = int(min(5u, 7u) + max(5u, 7u));
  iout[2] = __float_as_int(__int_as_float(0x3f800000));
}

// ---- Tests. ---------------------------------------------------------------------------------------

TEST(Simt, IndicesAndDims3D) {
  const dim3 grid(2, 3, 2), block(4, 2, 3);
  const unsigned n = 2 * 3 * 2 * 4 * 2 * 3;
  std::vector<Coords> out(n);
  launch(record_coords, grid, block, 0, out.data());
  unsigned i = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 3; ++by)
      for (unsigned bx = 0; bx < 2; ++bx)
        for (unsigned tz = 0; tz < 3; ++tz)
          for (unsigned ty = 0; ty < 2; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx, ++i) {
              const Coords& c = out[i];
              ASSERT_EQ(c.tid.x, tx);
              ASSERT_EQ(c.tid.y, ty);
              ASSERT_EQ(c.tid.z, tz);
              ASSERT_EQ(c.bid.x, bx);
              ASSERT_EQ(c.bid.y, by);
              ASSERT_EQ(c.bid.z, bz);
              ASSERT_EQ(c.bdim.x, 4u);
              ASSERT_EQ(c.bdim.y, 2u);
              ASSERT_EQ(c.bdim.z, 3u);
              ASSERT_EQ(c.gdim.x, 2u);
              ASSERT_EQ(c.gdim.y, 3u);
              ASSERT_EQ(c.gdim.z, 2u);
            }
  EXPECT_EQ(warpSize, 32);
}

std::vector<int> iota_ints(size_t n, int start = 1) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

TEST(Simt, SyncthreadsOrdersSharedMemory) {
  const unsigned n = 256, blocks = 3;
  const std::vector<int> in = iota_ints(n * blocks);
  std::vector<int> out(n * blocks);
  launch(reverse_block, blocks, n, 0, in.data(), out.data());
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < n; ++t) ASSERT_EQ(out[b * n + t], in[b * n + n - 1 - t]);
}

TEST(Simt, DynamicSharedMemory) {
  const unsigned n = 96, blocks = 2;
  const std::vector<int> in = iota_ints(n * blocks, 10);
  std::vector<int> out(n * blocks);
  launch(reverse_block_dynamic, blocks, n, n * sizeof(int), in.data(), out.data());
  for (unsigned b = 0; b < blocks; ++b)
    for (unsigned t = 0; t < n; ++t) ASSERT_EQ(out[b * n + t], in[b * n + n - 1 - t]);
}

void expect_block_sums(void (*kernel)(const int*, int*)) {
  const unsigned n = 256, blocks = 4;
  std::vector<int> in(n * blocks);
  for (size_t i = 0; i < in.size(); ++i) in[i] = int((i * 7919) % 1000) - 500;
  std::vector<int> out(blocks);
  launch(kernel, blocks, n, 0, in.data(), out.data());
  for (unsigned b = 0; b < blocks; ++b) {
    EXPECT_EQ(out[b], std::accumulate(in.begin() + b * n, in.begin() + (b + 1) * n, 0)) << "block " << b;
  }
}

TEST(Simt, ShflXorBlockReduction) { expect_block_sums(block_sum<true>); }
TEST(Simt, ShflDownBlockReduction) { expect_block_sums(block_sum<false>); }

TEST(Simt, ShflBroadcastRotationAndSegments) {
  const unsigned n = 64;
  std::vector<double> in(n);
  for (unsigned i = 0; i < n; ++i) in[i] = 0.5 * i;
  std::vector<double> out(4 * n);
  launch(shuffle_patterns, 1, n, 0, in.data(), out.data());
  for (unsigned t = 0; t < n; ++t) {
    const unsigned warp_base = t / 32 * 32, lane = t % 32;
    EXPECT_EQ(out[4 * t + 0], in[warp_base + 5]) << t;
    EXPECT_EQ(out[4 * t + 1], in[warp_base + (lane + 1) % 32]) << t;
    EXPECT_EQ(out[4 * t + 2], in[t / 8 * 8]) << t;
    EXPECT_EQ(out[4 * t + 3], in[t ^ 8u]) << t;
  }
}

TEST(Simt, WidthSegments) {
  const unsigned n = 32;
  const std::vector<int> in = iota_ints(n, 100);
  std::vector<int> out(3 * n);
  launch(width_segments, 1, n, 0, in.data(), out.data());
  for (unsigned t = 0; t < n; ++t) {
    // Sources outside the caller's segment give the caller's own value.
    EXPECT_EQ(out[3 * t + 0], t % 8 + 2 < 8 ? in[t + 2] : in[t]) << t;
    EXPECT_EQ(out[3 * t + 1], t % 16 >= 3 ? in[t - 3] : in[t]) << t;
    const unsigned seg = t / 16 * 16;
    EXPECT_EQ(out[3 * t + 2], std::accumulate(in.begin() + seg, in.begin() + seg + 16, 0)) << t;
  }
}

TEST(Simt, ShflUpPrefixSum) {
  const unsigned n = 64;
  std::vector<unsigned long long> in(n), out(n);
  for (unsigned i = 0; i < n; ++i) in[i] = (1ull << 33) + i * i;
  launch(warp_scan, 1, n, 0, in.data(), out.data());
  for (unsigned w = 0; w < n / 32; ++w) {
    unsigned long long s = 0;
    for (unsigned lane = 0; lane < 32; ++lane) {
      s += in[32 * w + lane];
      EXPECT_EQ(out[32 * w + lane], s) << w << "," << lane;
    }
  }
}

TEST(Simt, BallotAllAny) {
  const unsigned n = 96;
  std::vector<int> in(n, 0);
  for (unsigned t = 0; t < 32; ++t) in[t] = t % 3 == 0;  // warp 0: mixed
  for (unsigned t = 32; t < 64; ++t) in[t] = 1;          // warp 1: all true; warp 2: all false
  std::vector<unsigned> out(3 * n);
  launch(votes, 1, n, 0, in.data(), out.data());
  unsigned mixed = 0;
  for (unsigned t = 0; t < 32; ++t) mixed |= unsigned(t % 3 == 0) << t;
  const unsigned ballots[3] = {mixed, 0xffffffffu, 0};
  const unsigned alls[3] = {0, 1, 0}, anys[3] = {1, 1, 0};
  for (unsigned t = 0; t < n; ++t) {
    EXPECT_EQ(out[3 * t + 0], ballots[t / 32]) << t;
    EXPECT_EQ(out[3 * t + 1], alls[t / 32]) << t;
    EXPECT_EQ(out[3 * t + 2], anys[t / 32]) << t;
  }
}

TEST(Simt, PartialLastWarp) {
  const unsigned n = 48;
  const std::vector<int> in = iota_ints(n);
  std::vector<int> out(4 * n);
  launch(partial_warp, 1, n, 0, in.data(), out.data());
  const int total = std::accumulate(in.begin(), in.end(), 0);
  for (unsigned t = 0; t < n; ++t) {
    const unsigned lanes = t < 32 ? 0xffffffffu : 0xffffu;
    EXPECT_EQ(unsigned(out[4 * t + 0]), lanes) << t;
    EXPECT_EQ(unsigned(out[4 * t + 1]), lanes) << t;
    const unsigned seg = t / 16 * 16;
    EXPECT_EQ(out[4 * t + 2], std::accumulate(in.begin() + seg, in.begin() + seg + 16, 0)) << t;
    EXPECT_EQ(out[4 * t + 3], total) << t;
  }
}

TEST(Simt, SyncthreadsCountAndOr) {
  const unsigned n = 80;
  for (int pattern = 0; pattern < 3; ++pattern) {
    std::vector<int> in(n);
    for (unsigned t = 0; t < n; ++t) in[t] = pattern == 0 ? 0 : pattern == 1 ? 1 : int(t % 5 == 0);
    std::vector<int> out(3 * n);
    launch(block_votes, 1, n, 0, in.data(), out.data());
    const int count = std::accumulate(in.begin(), in.end(), 0);
    for (unsigned t = 0; t < n; ++t) {
      EXPECT_EQ(out[3 * t + 0], count) << pattern;
      EXPECT_EQ(out[3 * t + 1], int(count == int(n))) << pattern;
      EXPECT_EQ(out[3 * t + 2], int(count > 0)) << pattern;
    }
  }
}

TEST(Simt, AtomicsFromManyBlocks) {
  int count = 0, imax = -1;
  float fsum = 0.0f;
  unsigned umin = ~0u;
  unsigned long long cas_slot = 0;
  launch(count_atomics, 64, 128, 0, &count, &fsum, &imax, &umin, &cas_slot);
  EXPECT_EQ(count, 64 * 128);
  EXPECT_EQ(fsum, 8192.0f);  // every partial sum is an exact small integer
  EXPECT_EQ(imax, 64 * 128 - 1);
  EXPECT_EQ(umin, 7u);
  EXPECT_GE(cas_slot, 1u);
  EXPECT_LE(cas_slot, 64u * 128u);
}

TEST(Simt, SharedMemoryStartsPoisoned) {
  std::vector<unsigned> out(8);
  launch(read_poison, 2, 32, 16, out.data());
  for (unsigned b = 0; b < 2; ++b) {
    EXPECT_EQ(out[4 * b + 0], 0xCDCDCDCDu);
    EXPECT_EQ(out[4 * b + 1], 0xCDCDCDCDu);
    EXPECT_EQ(out[4 * b + 2], 0xCDCDCDCDu) << "block " << b << " sees a previous block's shared memory";
    EXPECT_EQ(out[4 * b + 3], __float_as_uint(1.0f));
  }
}

TEST(Simt, ManyBlocks) {
  const unsigned blocks = 200, threads = 256, n = blocks * threads - 5;
  std::vector<unsigned> out(n, 0);
  launch(write_ids, blocks, threads, 0, out.data(), n);
  for (unsigned i = 0; i < n; ++i) ASSERT_EQ(out[i], 3 * i);
}

TEST(Simt, ExitedThreadsLeaveBarriers) {
  const unsigned n = 40;  // of a 64-thread block: warp 1 keeps 8 of its lanes
  const std::vector<int> in = iota_ints(n);
  std::vector<int> out(64, -1);
  launch(early_exit, 1, 64, 0, in.data(), out.data(), n);
  for (unsigned t = 0; t < n; ++t) EXPECT_EQ(out[t], in[n - 1 - t] + in[n - 1 - (t ^ 1u)]) << t;
  for (unsigned t = n; t < 64; ++t) EXPECT_EQ(out[t], -1);
}

TEST(Simt, MathHelpers) {
  std::vector<float> out(6);
  std::vector<int> iout(3);
  launch(math_helpers, 1, 32, 0, out.data(), iout.data());
  EXPECT_EQ(out[0], -0x1p-46f);
  EXPECT_EQ(out[1], 0.5f);
  EXPECT_EQ(out[2], 0.125f);
  EXPECT_EQ(out[3], 10.0f);
  EXPECT_EQ(out[4], -2.5f);
  EXPECT_EQ(out[5], 3.5f);
  EXPECT_EQ(iout[0], 1);
  EXPECT_EQ(iout[1], 12);
  EXPECT_EQ(iout[2], 0x3f800000);
}

// The global min/max overloads must leave std::min / std::max, qualified or through a
// using-declaration, as they were; atomics return the old value, as in CUDA.
TEST(Simt, HostSideOverloads) {
  EXPECT_EQ(std::min(3, 4), 3);
  EXPECT_EQ(std::max<size_t>(3, 4), 4u);
  {
    using std::min;  // hides the global overloads in this scope, as any using-declaration would
    EXPECT_EQ(min(2u, 5u), 2u);
  }
  EXPECT_EQ(min(-1, 5u), 5u);  // CUDA's int/unsigned overload compares as unsigned
  int i = 5;
  EXPECT_EQ(atomicCAS(&i, 4, 9), 5);
  EXPECT_EQ(atomicCAS(&i, 5, 9), 5);
  EXPECT_EQ(atomicExch(&i, 2), 9);
  EXPECT_EQ(atomicSub(&i, 1), 2);
  EXPECT_EQ(i, 1);
  unsigned u = 3;
  EXPECT_EQ(atomicAdd(&u, 1), 3u);  // int literal converts, as with CUDA's overloads
  EXPECT_EQ(u, 4u);
}

__global__ void empty_kernel() {}

__global__ void half_mask_shuffle(int* out) {
  // Every lane calls, but the mask names only half of them: not modelled, must abort.
  out[threadIdx.x] = __shfl_xor_sync(0x0000ffffu, int(threadIdx.x), 1);
}

TEST(SimtDeathTest, RejectsBadLaunchesAndMasks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(launch(empty_kernel, 1, dim3(0), 0), "invalid block size");
  EXPECT_DEATH(launch(empty_kernel, 1, dim3(1025), 0), "invalid block size");
  std::vector<int> out(32);
  EXPECT_DEATH(launch(half_mask_shuffle, 1, 32, 0, out.data()), "does not cover lanes");
}

#ifdef QE_SIM_RACE_DEMO
// A reversal that forgets __syncthreads: thread t reads smem[n-1-t] that another thread may not
// have written yet. ThreadSanitizer must report the race on the two smem lines.
__global__ void racy_reverse(const int* in, int* out) {
  QE_SHARED(int, smem, 256);
  const unsigned n = blockDim.x, t = threadIdx.x;
  smem[t] = in[t];            // racy write
  out[t] = smem[n - 1 - t];   // racy read
}

TEST(SimtRaceDemo, MissingSyncthreads) {
  const std::vector<int> in = iota_ints(256);
  std::vector<int> out(256);
  launch(racy_reverse, 1, 256, 0, in.data(), out.data());
}
#endif

}  // namespace
