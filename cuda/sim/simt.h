// simt.h: the SIMT simulator that lets CUDA kernel sources compile with the host compiler and run on the CPU.
//
// A kernel source (.cuh with __global__ functions) compiles twice: with nvcc for the GPU, and with
// the host compiler against this header for the CPU tests. Every thread of a CUDA block runs as a
// real OS thread, not as a loop iteration: barriers and warp shuffles then block exactly as on the
// GPU, a missing __syncthreads becomes a real data race that ThreadSanitizer reports with the
// kernel line, and a divergent barrier becomes a hang that the watchdog below turns into an abort.
// All synchronisation is built on std::mutex / std::condition_variable, which TSan models, so the
// happens-before edges it sees are exactly the ones a correct kernel relies on.
//
// Blocks run one at a time, in CUDA's linear order (x fastest), on a pool of worker threads that is
// reused across blocks and launches. Shared memory is declared with QE_SHARED / QE_DYN_SHARED
// (the device-side header maps them to __shared__ for nvcc). Exact device math (lop3, prmt, dp4a,
// half conversions) lives in cuda/common/ptx.cuh; the fast intrinsics here (__expf) are exact libm
// calls, so kernels that use them match the device only within the intrinsic's error bound.
#pragma once

#if defined(__CUDACC__)
#error "cuda/sim/simt.h is the host-compiler model of CUDA; nvcc must not include it"
#endif

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>  // also declares ::expf, ::exp2f, ::fmaf, ::fmaxf, ::fminf, ::sqrtf (glibc math.h)
#include <condition_variable>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define QE_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QE_SIM_ASAN 1
#endif
#endif
#if defined(QE_SIM_ASAN)
#include <sanitizer/asan_interface.h>
#endif

// ---- CUDA qualifiers: meaningless on the host. Defined after the standard headers above because
// libstdc++ itself spells __attribute__((__noinline__)); empty keeps that valid. -------------------
#define __global__
#define __device__
#define __host__
#define __constant__
#define __forceinline__
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

// ---- Built-in variables. ------------------------------------------------------------------------
struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// Set by the launcher on each worker thread before it runs the kernel; thread_local is what makes
// `threadIdx.x` read the calling simulated thread's own index, exactly as in CUDA source.
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace qe::sim {

constexpr size_t kSharedArenaBytes = 228 * 1024;  // static + dynamic shared memory per block (H100/H200)
constexpr size_t kSharedAlign = 16;               // every QE_SHARED array starts 16-byte aligned
constexpr unsigned kMaxBlockThreads = 1024;
constexpr unsigned kWarpSize = 32;
constexpr uint8_t kPoisonByte = 0xCD;             // a float made of it reads as 0xCDCDCDCD (-4.3e8)
constexpr auto kDeadlockTimeout = std::chrono::seconds(60);
#if defined(QE_SIM_ASAN)
constexpr size_t kRedZone = 16;  // poisoned gap between QE_SHARED arrays so ASan sees overruns
#else
constexpr size_t kRedZone = 0;
#endif

struct BlockContext;
struct WarpContext;

// The calling worker's simulated-thread state; block == nullptr outside a kernel.
struct ThreadState {
  BlockContext* block = nullptr;
  WarpContext* warp = nullptr;
  unsigned lane = 0;
  size_t shared_offset = 0;  // bump pointer of QE_SHARED into the block's arena
  unsigned warp_phase = 0;   // count of exchanges: selects the bank
};
inline thread_local ThreadState t_state;

[[noreturn]] __attribute__((format(printf, 1, 2))) inline void die(const char* fmt, ...) {
  std::fprintf(stderr, "qe::sim: ");
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  if (t_state.block != nullptr) {
    std::fprintf(stderr, " (block %u,%u,%u thread %u,%u,%u)", blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x,
                 threadIdx.y, threadIdx.z);
  }
  std::fprintf(stderr, "\n");
  std::abort();
}

// What the threads that met at one barrier phase contributed: counts for __syncthreads_count and
// friends, lane bit sets for the warp operations (which lanes took part, which voted true).
struct Phase {
  unsigned arrived = 0;
  unsigned true_count = 0;
  uint32_t arrived_bits = 0;
  uint32_t true_bits = 0;
};

// A reusable barrier that also reduces the predicates of its arrivals. A thread that leaves the
// kernel drops out (expected_ shrinks), as exited threads stop counting on the GPU, so an early
// `return` of some threads does not deadlock the rest.
class Barrier {
 public:
  void reset(unsigned expected) {
    std::lock_guard lock(mu_);
    expected_ = expected;
    acc_ = {};
  }

  Phase arrive_and_wait(bool pred, uint32_t bit) {
    std::unique_lock lock(mu_);
    acc_.arrived += 1;
    acc_.true_count += pred ? 1 : 0;
    acc_.arrived_bits |= bit;
    acc_.true_bits |= pred ? bit : 0;
    if (acc_.arrived == expected_) {
      complete();
      return last_;
    }
    // last_ stays valid until we return: the next phase cannot complete without this thread.
    const uint64_t gen = generation_;
    const auto deadline = std::chrono::steady_clock::now() + kDeadlockTimeout;
    while (generation_ == gen) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && generation_ == gen) {
        die("deadlock: %u of %u threads waited %lld s at a barrier (__syncthreads or a warp op "
            "not reached by every thread of the block / lane of the mask?)",
            acc_.arrived, expected_, static_cast<long long>(kDeadlockTimeout.count()));
      }
    }
    return last_;
  }

  void drop() {
    std::lock_guard lock(mu_);
    expected_ -= 1;
    if (acc_.arrived > 0 && acc_.arrived == expected_) complete();
  }

 private:
  void complete() {
    last_ = acc_;
    acc_ = {};
    generation_ += 1;
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  unsigned expected_ = 0;
  uint64_t generation_ = 0;
  Phase acc_;   // the phase being gathered
  Phase last_;  // the phase just completed
};

// How shuffles exchange values: each lane writes its value (as 8 raw bytes) into its slot of a
// bank, meets the other lanes at the warp barrier, then reads the source lane's slot. Two banks
// used alternately make a second barrier unnecessary: a lane can write bank b again only after
// the barrier of the next operation (on bank 1-b), which every lane reaches only after it has
// finished reading bank b.
struct WarpContext {
  Barrier barrier;
  uint32_t lanes_mask = 0;  // the lanes that exist: fewer than 32 in a partial last warp
  uint64_t bank[2][kWarpSize] = {};
};

// One block in flight. Reused for every block: the launcher resets it between blocks, while no
// worker is running.
struct BlockContext {
  const std::function<void()>* body = nullptr;  // the kernel bound to its arguments
  dim3 grid_dim, block_dim;
  uint3 block_idx;
  unsigned n_threads = 0;
  Barrier barrier;  // __syncthreads
  std::unique_ptr<WarpContext[]> warps{new WarpContext[kMaxBlockThreads / kWarpSize]};
  // (kSharedArenaBytes) bytes; operator new aligns to 16 (asserted below), enough for QE_SHARED.
  std::unique_ptr<std::byte[]> arena{new std::byte[kSharedArenaBytes]};
  std::unique_ptr<std::byte[]> dyn;  // (dyn_bytes) exactly, so ASan sees overruns
  size_t dyn_bytes = 0;
};

static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= kSharedAlign);

inline ThreadState& state(const char* op) {
  if (t_state.block == nullptr) die("%s called outside a kernel launched by qe::sim::launch", op);
  return t_state;
}

// Runs one simulated thread of the current block on the calling worker.
inline void run_thread(BlockContext& b, unsigned tid) {
  const dim3 bd = b.block_dim;
  threadIdx = {tid % bd.x, (tid / bd.x) % bd.y, tid / (bd.x * bd.y)};
  blockIdx = b.block_idx;
  blockDim = bd;
  gridDim = b.grid_dim;
  t_state = {&b, &b.warps[tid / kWarpSize], tid % kWarpSize, 0, 0};
  (*b.body)();
  t_state.warp->barrier.drop();
  b.barrier.drop();
  t_state = {};
}

// Worker threads, grown on demand to the largest block seen and reused: creating a thread per
// simulated thread per block would dominate the run time of a many-block launch.
class Pool {
 public:
  static Pool& get() {
    static Pool pool;
    return pool;
  }

  BlockContext& block() { return block_; }

  ~Pool() {
    for (auto& w : workers_) {
      {
        std::lock_guard lock(w->mu);
        w->quit = true;
      }
      w->cv.notify_one();
      w->thread.join();
    }
  }

  // Runs threads 0..n-1 of `block` and returns when all have left the kernel.
  void run_block(BlockContext& block, unsigned n) {
    while (workers_.size() < n) {
      auto w = std::make_unique<Worker>();
      w->thread = std::thread([this, p = w.get()] { worker_main(*p); });
      workers_.push_back(std::move(w));
    }
    {
      std::lock_guard lock(done_mu_);
      done_ = 0;
    }
    for (unsigned i = 0; i < n; ++i) {
      Worker& w = *workers_[i];
      {
        std::lock_guard lock(w.mu);
        w.block = &block;
        w.tid = i;
      }
      w.cv.notify_one();
    }
    std::unique_lock lock(done_mu_);
    done_cv_.wait(lock, [&] { return done_ == n; });
  }

 private:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    BlockContext* block = nullptr;  // the job: non-null while one is pending
    unsigned tid = 0;
    bool quit = false;
    std::thread thread;
  };

  void worker_main(Worker& w) {
    for (;;) {
      BlockContext* block;
      unsigned tid;
      {
        std::unique_lock lock(w.mu);
        w.cv.wait(lock, [&] { return w.block != nullptr || w.quit; });
        if (w.block == nullptr) return;
        block = std::exchange(w.block, nullptr);
        tid = w.tid;
      }
      run_thread(*block, tid);
      std::lock_guard lock(done_mu_);
      done_ += 1;
      done_cv_.notify_one();
    }
  }

  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  unsigned done_ = 0;
  BlockContext block_;  // the one block in flight (blocks run one at a time)
};

// Shared memory starts filled with 0xCD, re-filled for every block, so a kernel that reads shared
// memory it never wrote (or that another block wrote) gets an unmistakable value instead of a
// plausible stale one.
inline void start_block(BlockContext& b) {
#if defined(QE_SIM_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(b.arena.get(), kSharedArenaBytes);
#endif
  std::memset(b.arena.get(), kPoisonByte, kSharedArenaBytes);
#if defined(QE_SIM_ASAN)
  // QE_SHARED unpoisons each array it hands out; the rest of the arena stays unaddressable.
  ASAN_POISON_MEMORY_REGION(b.arena.get(), kSharedArenaBytes);
#endif
  std::memset(b.dyn.get(), kPoisonByte, b.dyn_bytes);
  b.barrier.reset(b.n_threads);
  const unsigned n_warps = (b.n_threads + kWarpSize - 1) / kWarpSize;
  for (unsigned w = 0; w < n_warps; ++w) {
    const unsigned lanes = std::min(kWarpSize, b.n_threads - w * kWarpSize);
    b.warps[w].barrier.reset(lanes);
    b.warps[w].lanes_mask = lanes == kWarpSize ? 0xffffffffu : (1u << lanes) - 1;
  }
}

inline void run_grid(const std::function<void()>& body, dim3 grid, dim3 block, size_t dynamic_shared_bytes) {
  if (t_state.block != nullptr) die("qe::sim::launch from inside a kernel is not supported");
  const uint64_t n_threads = uint64_t(block.x) * block.y * block.z;
  if (n_threads == 0 || n_threads > kMaxBlockThreads || block.z > 64) {
    die("invalid block size %ux%ux%u: CUDA needs 1 to %u threads per block and z <= 64", block.x, block.y,
        block.z, kMaxBlockThreads);
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) die("invalid grid size %ux%ux%u", grid.x, grid.y, grid.z);
  if (dynamic_shared_bytes > kSharedArenaBytes) {
    die("%zu bytes of dynamic shared memory exceed the %zu per block", dynamic_shared_bytes, kSharedArenaBytes);
  }
  // One launch at a time: the pool and its block context are shared by all host threads.
  static std::mutex launch_mu;
  std::lock_guard lock(launch_mu);
  Pool& pool = Pool::get();
  BlockContext& b = pool.block();
  b.body = &body;
  b.grid_dim = grid;
  b.block_dim = block;
  b.n_threads = unsigned(n_threads);
  b.dyn.reset(new std::byte[dynamic_shared_bytes]);
  b.dyn_bytes = dynamic_shared_bytes;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        b.block_idx = {x, y, z};
        start_block(b);
        pool.run_block(b, b.n_threads);
      }
    }
  }
  b.body = nullptr;
}

// Runs kernel<<<grid, block, dynamic_shared_bytes>>>(args...) and returns when every block is done
// (launches are synchronous). The arguments are converted to the kernel's parameter types once,
// as cudaLaunchKernel copies them; each simulated thread then receives its own copy.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t dynamic_shared_bytes, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "qe::sim::launch: argument count differs from the kernel's");
  const std::tuple<P...> params(std::forward<A>(args)...);
  const std::function<void()> body = [&] { std::apply(kernel, params); };
  run_grid(body, grid, block, dynamic_shared_bytes);
}

// QE_SHARED: every thread of the block makes the same sequence of calls, so a per-thread bump
// pointer over the block's one arena hands every thread the same addresses.
template <class T>
T* shared_alloc(size_t count) {
  static_assert(alignof(T) <= kSharedAlign, "QE_SHARED: over-aligned element types are not modelled");
  ThreadState& s = state("QE_SHARED");
  const size_t offset = (s.shared_offset + kSharedAlign - 1) & ~(kSharedAlign - 1);
  const size_t limit = kSharedArenaBytes - s.block->dyn_bytes;
  if (count > limit / sizeof(T) || offset + count * sizeof(T) > limit) {
    die("QE_SHARED: %zu elements of %zu bytes at offset %zu plus %zu dynamic bytes exceed the %zu bytes of "
        "shared memory per block",
        count, sizeof(T), offset, s.block->dyn_bytes, kSharedArenaBytes);
  }
  s.shared_offset = offset + count * sizeof(T) + kRedZone;
  std::byte* p = s.block->arena.get() + offset;
#if defined(QE_SIM_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(p, count * sizeof(T));
#endif
  return reinterpret_cast<T*>(p);
}

template <class T>
T* dynamic_shared() {
  static_assert(alignof(T) <= kSharedAlign, "QE_DYN_SHARED: over-aligned element types are not modelled");
  return reinterpret_cast<T*>(state("QE_DYN_SHARED").block->dyn.get());
}

// Meets the lanes of the calling warp. The simulator has one barrier per warp, so it supports
// masks that name every lane that calls together (0xffffffff, or a sub-mask when the other lanes
// have exited); lanes that reach the barrier under different masks are divergent warp code it
// cannot model, and abort rather than return wrong values.
inline Phase warp_arrive(ThreadState& s, unsigned mask, bool pred, const char* op) {
  const Phase p = s.warp->barrier.arrive_and_wait(pred, 1u << s.lane);
  if ((p.arrived_bits & ~mask) != 0 || (mask & (1u << s.lane)) == 0) {
    die("%s: mask 0x%08x does not cover lanes 0x%08x of the warp that called together; sub-warp masks "
        "in divergent code are not modelled",
        op, mask, p.arrived_bits);
  }
  return p;
}

template <class T>
concept ShuffleValue = std::is_trivially_copyable_v<T> && (sizeof(T) == 4 || sizeof(T) == 8);

enum class ShflMode { kIdx, kUp, kDown, kXor };

// shfl.sync as the PTX ISA defines it: lanes form segments of `width`; a source lane outside the
// caller's segment (up: below it; down, xor: above it) or one that has exited yields the caller's
// own value. Only b's low 5 bits count, as in the instruction.
template <ShuffleValue T>
T shuffle(ShflMode mode, unsigned mask, T var, unsigned b, int width, const char* op) {
  if (width < 1 || width > int(kWarpSize) || (width & (width - 1)) != 0) {
    die("%s: width %d is not a power of two in [1, 32]", op, width);
  }
  ThreadState& s = state(op);
  uint64_t* bank = s.warp->bank[s.warp_phase++ & 1u];
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  bank[s.lane] = bits;
  const Phase p = warp_arrive(s, mask, false, op);
  const int lane = int(s.lane);
  const int b5 = int(b & 31u);
  const int first = lane & ~(width - 1);  // the caller's segment is [first, last]
  const int last = first + width - 1;
  int src = lane;
  bool in_range = true;
  switch (mode) {
    case ShflMode::kIdx: src = first | (b5 & (width - 1)); break;
    case ShflMode::kUp: src = lane - b5; in_range = src >= first; break;
    case ShflMode::kDown: src = lane + b5; in_range = src <= last; break;
    case ShflMode::kXor: src = lane ^ b5; in_range = src <= last; break;
  }
  if (!in_range || ((p.arrived_bits >> src) & 1u) == 0) return var;
  std::memcpy(&var, &bank[src], sizeof(T));
  return var;
}

// Global-memory atomics: std::atomic_ref makes them atomic and visible to TSan as such.
template <class T, class F>
T atomic_update(T* address, F f) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (!ref.compare_exchange_weak(old, f(old))) {
  }
  return old;
}

template <class T>
T atomic_cas(T* address, T compare, T val) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, val);
  return compare;  // the old value, whether or not the exchange happened
}

}  // namespace qe::sim

#define QE_SHARED(Type, name, count) Type* name = ::qe::sim::shared_alloc<Type>(count)
#define QE_DYN_SHARED(Type, name) Type* name = ::qe::sim::dynamic_shared<Type>()

// ---- Block synchronisation. ---------------------------------------------------------------------
inline void __syncthreads() { qe::sim::state("__syncthreads").block->barrier.arrive_and_wait(false, 0); }
inline int __syncthreads_count(int pred) {
  return int(qe::sim::state("__syncthreads_count").block->barrier.arrive_and_wait(pred != 0, 0).true_count);
}
inline int __syncthreads_and(int pred) {
  const qe::sim::Phase p = qe::sim::state("__syncthreads_and").block->barrier.arrive_and_wait(pred != 0, 0);
  return p.true_count == p.arrived;
}
inline int __syncthreads_or(int pred) {
  return qe::sim::state("__syncthreads_or").block->barrier.arrive_and_wait(pred != 0, 0).true_count > 0;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- Warp operations. ---------------------------------------------------------------------------
template <qe::sim::ShuffleValue T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return qe::sim::shuffle(qe::sim::ShflMode::kIdx, mask, var, unsigned(src_lane), width, "__shfl_sync");
}
template <qe::sim::ShuffleValue T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return qe::sim::shuffle(qe::sim::ShflMode::kUp, mask, var, delta, width, "__shfl_up_sync");
}
template <qe::sim::ShuffleValue T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  return qe::sim::shuffle(qe::sim::ShflMode::kDown, mask, var, delta, width, "__shfl_down_sync");
}
template <qe::sim::ShuffleValue T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return qe::sim::shuffle(qe::sim::ShflMode::kXor, mask, var, unsigned(lane_mask), width, "__shfl_xor_sync");
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  qe::sim::ThreadState& s = qe::sim::state("__syncwarp");
  qe::sim::warp_arrive(s, mask, false, "__syncwarp");
}
inline unsigned __ballot_sync(unsigned mask, int pred) {
  qe::sim::ThreadState& s = qe::sim::state("__ballot_sync");
  return qe::sim::warp_arrive(s, mask, pred != 0, "__ballot_sync").true_bits & mask;
}
inline int __all_sync(unsigned mask, int pred) {
  qe::sim::ThreadState& s = qe::sim::state("__all_sync");
  const qe::sim::Phase p = qe::sim::warp_arrive(s, mask, pred != 0, "__all_sync");
  return p.true_bits == p.arrived_bits;
}
inline int __any_sync(unsigned mask, int pred) {
  qe::sim::ThreadState& s = qe::sim::state("__any_sync");
  return qe::sim::warp_arrive(s, mask, pred != 0, "__any_sync").true_bits != 0;
}
// The lanes that exist in the caller's warp: the simulator has no intra-warp divergence to report.
inline unsigned __activemask() { return qe::sim::state("__activemask").warp->lanes_mask; }

// ---- Atomics: CUDA's overload set, each returning the old value. Overloads, not templates, so
// atomicAdd(&unsigned_counter, 1) converts its argument as in CUDA. ------------------------------
#define QE_SIM_ATOMIC_RMW(name, T, expr)                                             \
  inline T name(T* address, T val) {                                                 \
    return qe::sim::atomic_update(address, [val](T old) -> T { return expr; });      \
  }
#define QE_SIM_ATOMIC_REF(name, T, method) \
  inline T name(T* address, T val) { return std::atomic_ref<T>(*address).method(val); }
QE_SIM_ATOMIC_REF(atomicAdd, int, fetch_add)
QE_SIM_ATOMIC_REF(atomicAdd, unsigned, fetch_add)
QE_SIM_ATOMIC_REF(atomicAdd, unsigned long long, fetch_add)
QE_SIM_ATOMIC_REF(atomicAdd, float, fetch_add)
QE_SIM_ATOMIC_REF(atomicAdd, double, fetch_add)
QE_SIM_ATOMIC_REF(atomicSub, int, fetch_sub)
QE_SIM_ATOMIC_REF(atomicSub, unsigned, fetch_sub)
QE_SIM_ATOMIC_REF(atomicExch, int, exchange)
QE_SIM_ATOMIC_REF(atomicExch, unsigned, exchange)
QE_SIM_ATOMIC_REF(atomicExch, unsigned long long, exchange)
QE_SIM_ATOMIC_REF(atomicExch, float, exchange)
QE_SIM_ATOMIC_RMW(atomicMax, int, std::max(old, val))
QE_SIM_ATOMIC_RMW(atomicMax, unsigned, std::max(old, val))
QE_SIM_ATOMIC_RMW(atomicMin, int, std::min(old, val))
QE_SIM_ATOMIC_RMW(atomicMin, unsigned, std::min(old, val))
#undef QE_SIM_ATOMIC_RMW
#undef QE_SIM_ATOMIC_REF
inline int atomicCAS(int* a, int c, int v) { return qe::sim::atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return qe::sim::atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
  return qe::sim::atomic_cas(a, c, v);
}

// ---- Math and bit casts. expf, exp2f, fmaf (exactly fused), fmaxf, fminf, sqrtf come from libm.
inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
template <class T>
T __ldg(const T* p) {
  return *p;
}
// CUDA's global min/max overloads (int with unsigned compares as unsigned, as in CUDA). Plain
// functions, not templates or macros, so qualified std::min / std::max keep working.
#define QE_SIM_MIN_MAX(R, A, B)                                                       \
  inline R min(A a, B b) { return std::min(static_cast<R>(a), static_cast<R>(b)); }   \
  inline R max(A a, B b) { return std::max(static_cast<R>(a), static_cast<R>(b)); }
QE_SIM_MIN_MAX(int, int, int)
QE_SIM_MIN_MAX(unsigned, unsigned, unsigned)
QE_SIM_MIN_MAX(unsigned, int, unsigned)
QE_SIM_MIN_MAX(unsigned, unsigned, int)
QE_SIM_MIN_MAX(long, long, long)
QE_SIM_MIN_MAX(unsigned long, unsigned long, unsigned long)
QE_SIM_MIN_MAX(long long, long long, long long)
QE_SIM_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
#undef QE_SIM_MIN_MAX
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
