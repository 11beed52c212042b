// bench_avx2: GEMV/GEMM throughput of one CPU kernel table (default avx2) on one weight type; not a test.
//
//   bench_avx2 [type=Q4_0] [rows=2048] [K=5632] [batch=1] [isa=avx2] [hot]
// For each mode (A16, and A8 where the type has it) and 1 and 2 OpenMP threads (rows split in
// whole tiles, as the engine does) it prints GB/s of packed weights streamed and GMAC/s, for the
// fastest call and the median call. The
// matrix is replicated into enough copies (> 96 MiB) that every call reads its weights from
// DRAM, not from the 32 MiB L3: the GEMV figures are memory-bandwidth figures. `hot` keeps one
// copy (cache-resident when it fits): the kernels' compute ceiling.
#include <omp.h>

#include <algorithm>
#include <chrono>
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
using qe::cpu::MatmulKernels;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string type_name = argc > 1 ? argv[1] : "Q4_0";
  const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 2048;
  const int64_t K = argc > 3 ? std::atoll(argv[3]) : 5632;
  const int64_t batch = argc > 4 ? std::atoll(argv[4]) : 1;
  const std::string isa_arg = argc > 5 ? argv[5] : "avx2";
  const bool hot = argc > 6 && std::string(argv[6]) == "hot";

  qe_type type = QE_TYPE_COUNT;
  for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id)
    if (const qe_type_info* info = qe_type_get(id); info != nullptr && type_name == info->name) type = info->type;
  qe::cpu::Isa isa;
  if (type == QE_TYPE_COUNT || !qe::cpu::parse_isa(isa_arg, &isa) || qe::cpu::isa_table(isa) == nullptr) {
    std::fprintf(stderr, "usage: bench_avx2 [type] [rows] [K] [batch] [isa]; unknown type or unusable isa\n");
    return 2;
  }
  const qe::cpu::KernelTable& tbl = *qe::cpu::isa_table(isa);
  const MatmulKernels& mm = tbl.mm[type];
  if (mm.tile == 0) {
    std::fprintf(stderr, "%s has no %s kernels\n", isa_arg.c_str(), type_name.c_str());
    return 2;
  }

  // Weights: normal values quantized by the reference, packed once, replicated.
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> wf(static_cast<size_t>(rows * K));
  for (auto& v : wf) v = normal(rng);
  std::vector<uint8_t> w(qe_row_bytes(type, K) * static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r)
    qe::ref::quantize_row(type, wf.data() + r * K, w.data() + static_cast<size_t>(r) * qe_row_bytes(type, K), K);
  const size_t pb = mm.packed_bytes(rows, K);
  const size_t copies = hot ? 1 : std::max<size_t>(2, (96u << 20) / pb + 1);
  std::vector<uint8_t> packed(pb * copies + 64);
  uint8_t* p0 = packed.data() + (64 - reinterpret_cast<uintptr_t>(packed.data()) % 64) % 64;  // 64-byte aligned
  mm.pack(w.data(), rows, K, p0);  // first call: page faults and cold caches
  const double tp0 = now_s();
  mm.pack(w.data(), rows, K, p0);
  const double pack_s = now_s() - tp0;
  for (size_t i = 1; i < copies; ++i) std::memcpy(p0 + i * pb, p0, pb);

  std::vector<float> x(static_cast<size_t>(batch * K));
  for (auto& v : x) v = normal(rng);
  const ActLayout layout = qe::cpu::a8_layout(type);
  const size_t xrow = qe::cpu::act_row_bytes(layout, K);
  std::vector<uint8_t> xq(xrow * static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    if (layout == ActLayout::kBlock32) tbl.quantize_act32(x.data() + b * K, reinterpret_cast<qe::cpu::ActBlock32*>(xq.data() + b * xrow), K);
    if (layout == ActLayout::kBlock256) tbl.quantize_act256(x.data() + b * K, reinterpret_cast<qe_block_q8_K*>(xq.data() + b * xrow), K);
  }
  std::vector<float> y(static_cast<size_t>(batch * rows));

  std::printf("%s %s rows=%lld K=%lld batch=%lld packed=%.2f MiB x%zu copies, pack %.1f ms (%.2f GB/s)\n", isa_arg.c_str(),
              type_name.c_str(), static_cast<long long>(rows), static_cast<long long>(K), static_cast<long long>(batch),
              pb / 1048576.0, copies, pack_s * 1e3, w.size() / pack_s / 1e9);
  for (int mode = 0; mode < 2; ++mode) {
    if (mode == 1 && (layout == ActLayout::kNone || mm.gemm_a8 == nullptr)) continue;
    for (int threads : {1, 2}) {
      const int64_t tiles = (rows + mm.tile - 1) / mm.tile;
      auto run = [&](size_t copy) {
        const uint8_t* p = p0 + copy * pb;
#pragma omp parallel num_threads(threads)
        {
          const int t = omp_get_thread_num(), n = omp_get_num_threads();
          const int64_t r0 = std::min(rows, tiles * t / n * mm.tile), r1 = std::min(rows, tiles * (t + 1) / n * mm.tile);
          if (r1 > r0) {
            if (mode == 0) mm.gemm_a16(p, rows, K, r0, r1, x.data(), batch, y.data(), rows);
            else mm.gemm_a8(p, rows, K, r0, r1, xq.data(), batch, y.data(), rows);
          }
        }
      };
      run(0);  // warm-up (thread pool, scratch buffers)
      // Every call is timed; the minimum is the figure on an undisturbed machine (other jobs
      // share these cores), the median what a typical call saw.
      std::vector<double> times;
      const double t_start = now_s();
      while (now_s() - t_start < 1.0 || times.size() < 5) {
        const double t0 = now_s();
        run(times.size() % copies);
        times.push_back(now_s() - t0);
      }
      std::sort(times.begin(), times.end());
      const double best = times.front(), med = times[times.size() / 2];
      std::printf("  %s threads=%d  min %8.3f ms %7.2f GB/s %8.2f GMAC/s | median %8.3f ms %7.2f GB/s\n",
                  mode == 0 ? "A16" : "A8 ", threads, best * 1e3, pb / best / 1e9,
                  static_cast<double>(rows) * K * batch / best / 1e9, med * 1e3, pb / med / 1e9);
    }
  }
  return 0;
}
