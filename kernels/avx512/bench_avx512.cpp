// Micro-benchmark of the avx512 / avx512vnni tables (built on request: `cmake --build B --target bench_avx512`): GEMV GB/s from DRAM and GEMM GMAC/s, 1 and 2 threads.
//
// usage: bench_avx512 [isa=avx512vnni] [types=Q4_0,Q8_0,Q4_1,Q4_K,Q6_K] [rows=5632] [K=2048]
// GEMV rotates over enough copies of the matrix (> 128 MiB) that every call streams its weights
// from DRAM, as decode does; "read" is a plain AVX-512 read of the same bytes (the ceiling).
#if defined(__GNUC__) && !defined(__clang__)  // GCC PR 105593: see avx512_common-inl.h
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/dispatch.h"
#include "ref/ref.h"

namespace {

using qe::cpu::ActLayout;
using qe::cpu::KernelTable;
using qe::cpu::MatmulKernels;

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double thread_cpu() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Seconds per call of f(i): the best of several trials of `calls` calls each. Other processes
// share this machine's two cores; the best trial is the one they left alone.
template <class F>
double best_time(int calls, F&& f, int trials = 9) {
  double best = 1e30;
  for (int t = 0; t < trials; ++t) {
    const double t0 = now();
    for (int i = 0; i < calls; ++i) f(i);
    best = std::min(best, (now() - t0) / calls);
  }
  return best;
}

// Each thread takes a contiguous range of whole tiles, as the engine does. Returns the largest
// thread CPU time of the call: the call's duration on cores of its own (other processes' share of
// the cores excluded; their share of caches and DRAM still counts).
template <class F>
double split_rows(int threads, int64_t rows, int32_t tile, F&& f) {
  const int64_t tiles = (rows + tile - 1) / tile;
  double cpu[2] = {0, 0};
#pragma omp parallel num_threads(threads)
  {
    const int n = omp_get_num_threads(), i = omp_get_thread_num();
    const int64_t r0 = tiles * i / n * tile, r1 = std::min(rows, tiles * (i + 1) / n * tile);
    const double c0 = thread_cpu();
    if (r0 < r1) f(r0, r1);
    if (i < 2) cpu[i] = thread_cpu() - c0;
  }
  return std::max(cpu[0], cpu[1]);
}

float read_all(const uint8_t* p, size_t n, int threads) {
  float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
  {
    const int nt = omp_get_num_threads(), i = omp_get_thread_num();
    const size_t a = n / 64 * i / nt * 64, b = n / 64 * (i + 1) / nt * 64;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    for (size_t o = a; o + 128 <= b; o += 128) {
      s0 = _mm512_add_ps(s0, _mm512_loadu_ps(p + o));
      s1 = _mm512_add_ps(s1, _mm512_loadu_ps(p + o + 64));
    }
    total += _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  }
  return total;
}

void bench_type(const KernelTable& tbl, qe_type t, int64_t rows, int64_t K) {
  const MatmulKernels& mm = tbl.mm[t];
  if (mm.tile == 0) return;
  const size_t rb = qe_row_bytes(t, K);
  std::vector<uint8_t> w(rb * rows);
  {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd;
    std::vector<float> row(K);
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = nd(rng);
      qe::ref::quantize_row(t, row.data(), w.data() + r * rb, K);
    }
  }
  const size_t pb = mm.packed_bytes(rows, K);
  const int copies = static_cast<int>(std::max<size_t>(2, (256u << 20) / pb));
  // 64-byte aligned, as the engine should allocate packed weights.
  auto* packed = static_cast<uint8_t*>(std::aligned_alloc(64, (pb * copies + 63) / 64 * 64));
  const double tp0 = now();
  mm.pack(w.data(), rows, K, packed);
  const double pack_s = now() - tp0;
  for (int c = 1; c < copies; ++c) std::memcpy(packed + pb * c, packed, pb);

  const int64_t max_batch = 512;
  std::vector<float> x(max_batch * K), y(max_batch * rows);
  {
    std::mt19937 rng(2);
    std::normal_distribution<float> nd;
    for (auto& v : x) v = nd(rng);
  }
  const ActLayout layout = qe::cpu::a8_layout(t);
  const size_t xrow = qe::cpu::act_row_bytes(layout, K);
  std::vector<uint8_t> xq(xrow * max_batch);
  for (int64_t b = 0; b < max_batch && layout != ActLayout::kNone; ++b) {
    if (layout == ActLayout::kBlock32) tbl.quantize_act32(x.data() + b * K, reinterpret_cast<qe::cpu::ActBlock32*>(xq.data() + b * xrow), K);
    else tbl.quantize_act256(x.data() + b * K, reinterpret_cast<qe_block_q8_K*>(xq.data() + b * xrow), K);
  }

  std::printf("%-5s %lldx%lld packed %.2f MiB (%.3f B/weight), pack %.1f ms (%.0f Mweights/s)\n", qe_type_get(t)->name,
              static_cast<long long>(rows), static_cast<long long>(K), pb / 1048576.0, static_cast<double>(pb) / (rows * K),
              pack_s * 1e3, rows * K / pack_s / 1e6);
  for (int threads : {1, 2}) {
    if (const char* only = std::getenv("BENCH_THREADS"); only != nullptr && std::atoi(only) != threads) continue;
    // Read ceiling over the same rotation.
    float sink = 0;
    const double read_gbs = pb / best_time(copies, [&](int i) { sink += read_all(packed + pb * i, pb, threads); }) / 1e9;
    for (int a8 = 0; a8 < 2; ++a8) {
      if (a8 && mm.gemm_a8 == nullptr) continue;
      double dts[2];
      for (int hot = 0; hot < 2; ++hot) {  // hot: the same copy every call (L3-resident when it fits)
        dts[hot] = best_time(copies, [&](int i) {
          const uint8_t* p = packed + (hot ? 0 : pb * i);
          split_rows(threads, rows, mm.tile, [&](int64_t r0, int64_t r1) {
            if (a8) mm.gemm_a8(p, rows, K, r0, r1, xq.data(), 1, y.data(), rows);
            else mm.gemm_a16(p, rows, K, r0, r1, x.data(), 1, y.data(), rows);
          });
        });
      }
      std::printf("  GEMV %s %d thr: %6.1f GB/s DRAM (%6.1f us; read ceiling %5.1f GB/s), %6.1f GB/s hot",
                  a8 ? "A8 " : "A16", threads, pb / dts[0] / 1e9, dts[0] * 1e6, read_gbs, pb / dts[1] / 1e9);
      if (threads == 1) {
        // The same hot loop in thread CPU time: what the kernel does on a core of its own
        // (other processes' share of the core does not count).
        const double c0 = thread_cpu();
        for (int i = 0; i < copies; ++i) {
          if (a8) mm.gemm_a8(packed, rows, K, 0, rows, xq.data(), 1, y.data(), rows);
          else mm.gemm_a16(packed, rows, K, 0, rows, x.data(), 1, y.data(), rows);
        }
        std::printf(", %6.1f GB/s hot cpu-time", pb * copies / (thread_cpu() - c0) / 1e9);
      }
      std::printf("\n");
    }
    if (std::getenv("BENCH_GEMV_ONLY") != nullptr) continue;
    for (int64_t batch : {64, 512}) {
      for (int a8 = 0; a8 < 2; ++a8) {
        if (a8 && mm.gemm_a8 == nullptr) continue;
        double cpu = 1e30;
        const double dt = best_time(1, [&](int) {
          cpu = std::min(cpu, split_rows(threads, rows, mm.tile, [&](int64_t r0, int64_t r1) {
            if (a8) mm.gemm_a8(packed, rows, K, r0, r1, xq.data(), batch, y.data(), rows);
            else mm.gemm_a16(packed, rows, K, r0, r1, x.data(), batch, y.data(), rows);
          }));
        }, batch == 512 ? 5 : 9);
        const double macs = static_cast<double>(rows) * K * batch;
        std::printf("  GEMM %s %d thr batch %3lld: %7.1f GMAC/s (%7.1f in thread CPU time)\n", a8 ? "A8 " : "A16", threads,
                    static_cast<long long>(batch), macs / dt / 1e9, macs / cpu / 1e9);
      }
    }
    if (sink == 12345.0f) std::printf(" ");
  }
  std::free(packed);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string isa_s = argc > 1 ? argv[1] : "avx512vnni";
  const std::string types = argc > 2 ? argv[2] : "Q4_0,Q8_0,Q4_1,Q4_K,Q6_K";
  const int64_t rows = argc > 3 ? std::atoll(argv[3]) : 5632, K = argc > 4 ? std::atoll(argv[4]) : 2048;
  qe::cpu::Isa isa;
  if (!qe::cpu::parse_isa(isa_s, &isa) || qe::cpu::isa_table(isa) == nullptr) {
    std::fprintf(stderr, "ISA %s is not usable here\n", isa_s.c_str());
    return 1;
  }
  size_t pos = 0;
  while (pos <= types.size()) {
    const size_t end = std::min(types.find(',', pos), types.size());
    const std::string name = types.substr(pos, end - pos);
    pos = end + 1;
    for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id)
      if (const qe_type_info* info = qe_type_get(id); info != nullptr && name == info->name)
        bench_type(*qe::cpu::isa_table(isa), info->type, rows, K);
  }
  return 0;
}
