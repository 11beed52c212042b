// qengine bench: prompt-processing and decode throughput, llama-bench style, with the machine's
// memory bandwidth measured in the same run so decode speed reads as a share of its limit.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "common.h"

namespace qe::app {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Stats {
  double median = 0, stddev = 0;
};

Stats summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(n);
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  s.stddev = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
  return s;
}

// Read-bandwidth probe: `threads` threads sum a 1 GiB array (first-touched by the threads that
// read it); a measurement is the best of a few passes, in GB/s.
class BandwidthProbe {
 public:
  explicit BandwidthProbe(int threads) : threads_(threads), n_((size_t{1} << 30) / sizeof(uint64_t)), a_(new uint64_t[n_]) {
    uint64_t* a = a_.get();
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (size_t i = 0; i < n_; ++i) a[i] = i;
  }
  double measure(int passes) {
    const uint64_t* a = a_.get();
    double best = 0;
    for (int pass = 0; pass < passes; ++pass) {
      const auto t0 = Clock::now();
      uint64_t total = 0;
#pragma omp parallel for num_threads(threads_) schedule(static) reduction(+ : total)
      for (size_t i = 0; i < n_; i += 4) total += a[i] + a[i + 1] + a[i + 2] + a[i + 3];
      const double s = seconds_since(t0);
      sink_ += total;
      best = std::max(best, static_cast<double>(n_ * sizeof(uint64_t)) / s / 1e9);
    }
    if (sink_ == 42) std::fprintf(stderr, " ");  // keep the reads
    return best;
  }

 private:
  int threads_;
  size_t n_;
  std::unique_ptr<uint64_t[]> a_;
  uint64_t sink_ = 0;
};

}  // namespace

int cmd_bench(const BenchFlags& f) {
  ModelPtr model = load_model(f.model, f.no_repack);
  qe_model_desc d{};
  check(qe_model_describe(model.get(), &d), "describing the model");
  const int threads = f.n_threads > 0 ? f.n_threads : omp_get_num_procs();
  // The bandwidth of a shared machine drifts with its neighbours' load, so it is measured right
  // after every decode run and each run is compared with its own limit.
  std::fprintf(stderr, "bench: measuring read bandwidth with %d threads...\n", threads);
  BandwidthProbe probe(threads);
  std::vector<double> bws{probe.measure(5)};

  GenFlags g = f.kv;  // the KV-cache flags
  const int32_t need = f.depth + std::max(f.n_prompt, f.n_gen) + 1;
  g.n_ctx = f.depth > 0 ? need : std::min(d.n_ctx_train, need);
  // Past the trained length (a deep --depth), stretch RoPE: speed does not depend on it.
  if (g.n_ctx > d.n_ctx_train) g.rope_scaling = static_cast<float>((g.n_ctx + d.n_ctx_train - 1) / d.n_ctx_train);
  g.n_threads = threads;
  g.n_batch = f.n_batch;
  g.act = f.act;
  const char* act_name = parse_act(f.act) == QE_ACT_Q8 ? "q8" : "f32";
  static constexpr const char* kKvNames[] = {"f16", "f32", "f16", "bf16", "q8", "q4"};
  const char* kv_name = kKvNames[parse_kv(g.kv)];
  qe_context_params kp = qe_context_default_params();
  apply_context_flags(g, &kp);
  uint64_t kv_bytes = 0;
  check(qe_context_kv_bytes_per_token(model.get(), &kp, &kv_bytes), "KV cache size");
  // Token ids spread over the vocabulary, fixed so runs compare.
  std::vector<int32_t> prompt(static_cast<size_t>(std::max(f.n_prompt, 1)));
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int32_t>((i * 7919 + 13) % static_cast<size_t>(d.n_vocab));

  // Decode reads every weight once per token, and the KV cache of every position it attends to.
  const double kv_read = static_cast<double>(kv_bytes) * (f.depth + f.n_gen / 2.0);
  const double bytes = static_cast<double>(d.weight_bytes) + kv_read;
  std::vector<double> pp, tg, pcts;
  ContextPtr deep;  // with --depth: one context, filled once, truncated back to the depth
  if (f.depth > 0) {
    std::fprintf(stderr, "bench: writing %d synthetic positions...\n", f.depth);
    deep = make_context(model.get(), g);
    check(qe_context_fill_synthetic(deep.get(), f.depth, 1), "filling the context");
  }
  for (int r = 0; r < f.reps + 1; ++r) {  // the first repetition warms caches and is dropped
    ContextPtr fresh = f.depth > 0 ? nullptr : make_context(model.get(), g);
    qe_context* ctx = f.depth > 0 ? deep.get() : fresh.get();
    if (f.n_prompt > 0) {
      check(qe_context_truncate(ctx, f.depth), "reset");
      const auto t0 = Clock::now();
      check(qe_eval(ctx, prompt.data(), prompt.size(), false), "prompt");
      if (r > 0) pp.push_back(f.n_prompt / seconds_since(t0));
    }
    if (f.n_gen > 0) {
      check(qe_context_truncate(ctx, f.depth), "reset");
      int32_t tok = prompt[0];
      const auto t0 = Clock::now();
      for (int i = 0; i < f.n_gen; ++i) {
        check(qe_eval(ctx, &tok, 1, false), "decode");
        tok = static_cast<int32_t>((tok * 31 + 7) % d.n_vocab);
      }
      const double tps = f.n_gen / seconds_since(t0);
      if (r > 0) {
        tg.push_back(tps);
        bws.push_back(probe.measure(3));
        pcts.push_back(100.0 * tps / (bws.back() * 1e9 / bytes));
      }
    }
  }
  const Stats sp = summarize(pp), sg = summarize(tg);
  const double bw = summarize(bws).median;
  const double limit = bw * 1e9 / bytes;
  // The median over runs of (tokens/s ÷ that run's limit): a ratio taken within one run.
  const double pct = summarize(pcts).median;

  if (f.output == "json") {
    nlohmann::json arr = nlohmann::json::array();
    auto row = [&](const char* test, int n_p, int n_g, const Stats& s, bool decode) {
      arr.push_back({{"model", d.name}, {"test", test}, {"weight_type", d.weight_type}, {"act", act_name}, {"kv", kv_name},
                     {"kv_bytes_per_token", kv_bytes}, {"depth", f.depth},
                     {"threads", threads}, {"n_prompt", n_p}, {"n_gen", n_g}, {"tokens_per_s", s.median},
                     {"stddev", s.stddev}, {"bytes_per_token", static_cast<uint64_t>(bytes)}, {"bandwidth_gbs", bw},
                     {"pct_of_limit", decode ? pct : 0.0}, {"reps", f.reps}});
    };
    if (f.n_prompt > 0) row(("pp" + std::to_string(f.n_prompt)).c_str(), f.n_prompt, 0, sp, false);
    if (f.n_gen > 0) row(("tg" + std::to_string(f.n_gen)).c_str(), 0, f.n_gen, sg, true);
    std::printf("%s\n", arr.dump(2).c_str());
    return 0;
  }
  const std::string at = f.depth > 0 ? " @ d" + std::to_string(f.depth) : "";
  std::printf("| model | type | act | kv | params | weights MiB | threads | test | tokens/s | stddev | %% of bandwidth limit |\n");
  std::printf("|---|---|---|---|---:|---:|---:|---|---:|---:|---:|\n");
  if (f.n_prompt > 0) {
    std::printf("| %s | %s | %s | %s | %.1fM | %.1f | %d | pp%d%s | %.2f | %.2f | |\n", d.name, d.weight_type, act_name,
                kv_name, static_cast<double>(d.n_params) / 1e6, d.weight_bytes / double(1 << 20), threads, f.n_prompt,
                at.c_str(), sp.median, sp.stddev);
  }
  if (f.n_gen > 0) {
    std::printf("| %s | %s | %s | %s | %.1fM | %.1f | %d | tg%d%s | %.2f | %.2f | %.1f%% |\n", d.name, d.weight_type,
                act_name, kv_name, static_cast<double>(d.n_params) / 1e6, d.weight_bytes / double(1 << 20), threads,
                f.n_gen, at.c_str(), sg.median, sg.stddev, pct);
  }
  std::printf("\nread bandwidth %.1f GB/s (%d threads); %.1f MB of weights and %.1f MB of KV cache per token "
              "(%llu KV bytes per position); decode limit %.1f tokens/s; medians over %d runs (%% of limit: each run against its own probe)\n",
              bw, threads, d.weight_bytes / 1e6, kv_read / 1e6, static_cast<unsigned long long>(kv_bytes), limit, f.reps);
  return 0;
}

}  // namespace qe::app
