// qengine perplexity: perplexity of a text over fixed windows, and the KL-divergence of any mode
// (activations, KV cache, attention) against the next-token distributions saved by a baseline run.
//
// The method is llama.cpp's perplexity tool's, so the figures compare with its:
// - the text is tokenized once (BOS first when the vocabulary adds one, no special-token parsing);
// - window c holds tokens [c·n_ctx, (c+1)·n_ctx), its first token replaced by BOS when the
//   vocabulary uses one, and is evaluated from an empty cache;
// - only the second half of a window is scored: the logits at positions j = n_ctx/2 .. n_ctx-2
//   predict token j+1, so every scored token sees at least n_ctx/2 tokens of context;
// - PPL = exp(mean NLL), the NLL summed in double; its standard error by the delta method,
//   PPL · sqrt((E[NLL²] - E[NLL]²) / (N - 1)).
//
// Baseline file (--save-logits writes it, --kl-divergence reads it); little-endian, version 1:
//   header, 32 bytes:
//     char[8]  magic      "QEPPLLOG"
//     uint32   version    1
//     uint32   n_vocab
//     uint32   n_ctx      window length in tokens
//     uint32   n_chunks   number of windows
//     uint32   first      first scored position of a window (n_ctx / 2)
//     uint32   reserved   0
//   int32 tokens[n_chunks][n_ctx]       the windows exactly as evaluated (BOS already in place)
//   then, window by window, one record per scored position j = first .. n_ctx-2:
//     int32    argmax                   most likely next token (from the fp32 logits)
//     float32  logprob_next             exact log-probability of token j+1
//     uint16   logprob[n_vocab]         log-softmax of the logits as IEEE fp16, rounded to nearest even
// The fp16 rows halve the file (SmolLM2, 49152 tokens: 96 KiB per position, 100 MB per 2048-token
// window) at a bounded cost: |error| <= 2^-11·|logprob|, so the tokens that carry the probability
// mass are nearly exact; the reader renormalizes each row, which leaves a same-mode KL-divergence
// of order 1e-7 instead of 0. argmax and logprob_next are stored exactly, so top-1 agreement and
// the baseline perplexity are those of the baseline run itself.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common.h"

namespace qe::app {
namespace {

using Clock = std::chrono::steady_clock;

// ---- IEEE binary16 ----------------------------------------------------------------------------

// Round to nearest even; after F. Giesen, "float->half variants" (float_to_half_fast3_rtne).
uint16_t half_from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  uint16_t h;
  if (x >= 0x47800000u) {  // |f| >= 2^16: infinity (NaN stays NaN)
    h = x > 0x7f800000u ? 0x7e00 : 0x7c00;
  } else if (x < 0x38800000u) {  // |f| < 2^-14: subnormal half. Adding 0.5f lines the mantissa up
    float a;                     // with the half's subnormal step 2^-24 and rounds it in hardware.
    std::memcpy(&a, &x, sizeof a);
    a += 0.5f;
    uint32_t r;
    std::memcpy(&r, &a, sizeof r);
    h = static_cast<uint16_t>(r - 0x3f000000u);
  } else {  // normal: rebias the exponent (127 -> 15), round the 13 dropped bits to nearest even
    const uint32_t odd = (x >> 13) & 1u;
    x += (static_cast<uint32_t>(15 - 127) << 23) + 0xfffu + odd;
    h = static_cast<uint16_t>(x >> 13);
  }
  return static_cast<uint16_t>(h | (sign >> 16));
}

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant · 2^-24
    const float v = std::ldexp(static_cast<float>(mant), -24);
    return sign ? -v : v;
  }
  const uint32_t bits = sign | (exp == 31 ? 0x7f800000u | (mant << 13) : ((exp + 112) << 23) | (mant << 13));
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// (65536) every half as a float: the reader decodes 49152 values per position.
const std::vector<float>& half_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t i = 0; i < t.size(); ++i) t[i] = half_to_float(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

// ---- Baseline file ----------------------------------------------------------------------------

constexpr std::array<char, 8> kMagic = {'Q', 'E', 'P', 'P', 'L', 'L', 'O', 'G'};
constexpr uint32_t kVersion = 1;

struct FileHeader {
  std::array<char, 8> magic;
  uint32_t version, n_vocab, n_ctx, n_chunks, first, reserved;
};
static_assert(sizeof(FileHeader) == 32);

// Leads each position's fp16 row.
struct RecordHead {
  int32_t argmax;
  float logprob_next;
};
static_assert(sizeof(RecordHead) == 8);

size_t record_bytes(uint32_t n_vocab) { return sizeof(RecordHead) + sizeof(uint16_t) * n_vocab; }

struct FileClose {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileClose>;

// Writes PATH.tmp and renames it to PATH in finish(), so an interrupted run leaves no file that
// looks complete.
class BaselineWriter {
 public:
  BaselineWriter(std::string path, const FileHeader& h, std::span<const int32_t> tokens)
      : path_(std::move(path)), tmp_(path_ + ".tmp"), f_(std::fopen(tmp_.c_str(), "wb")) {
    if (!f_) throw Failure(tmp_ + ": cannot create (" + std::strerror(errno) + ")");
    write(&h, sizeof h);
    write(tokens.data(), tokens.size_bytes());
  }
  ~BaselineWriter() {
    if (f_) {
      f_.reset();
      std::remove(tmp_.c_str());
    }
  }
  void write(const void* data, size_t n) {
    if (std::fwrite(data, 1, n, f_.get()) != n) throw Failure(tmp_ + ": write failed (" + std::strerror(errno) + ")");
  }
  void finish() {
    if (std::fclose(f_.release()) != 0) throw Failure(tmp_ + ": write failed (" + std::strerror(errno) + ")");
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      std::remove(tmp_.c_str());
      throw Failure(path_ + ": cannot write (" + std::strerror(errno) + ")");
    }
  }

 private:
  std::string path_, tmp_;
  FilePtr f_;
};

class BaselineReader {
 public:
  // Opens and validates the file against this run: same vocabulary size and window length, and
  // complete for the windows its header announces.
  BaselineReader(const std::string& path, uint32_t n_vocab, uint32_t n_ctx) : path_(path) {
    f_.reset(std::fopen(path.c_str(), "rb"));
    if (!f_) throw Failure(path + ": cannot open (" + std::strerror(errno) + ")");
    if (std::fread(&h_, sizeof h_, 1, f_.get()) != 1 || h_.magic != kMagic) {
      throw Failure(path + ": not a baseline file of qengine perplexity --save-logits (bad magic)");
    }
    if (h_.version != kVersion) {
      throw Failure(path + ": baseline file version " + std::to_string(h_.version) + "; this qengine reads version " +
                    std::to_string(kVersion));
    }
    if (h_.n_vocab != n_vocab) {
      throw Failure(path + ": baseline has n_vocab " + std::to_string(h_.n_vocab) + " but this model has " +
                    std::to_string(n_vocab) + " (a baseline compares modes of the same model)");
    }
    if (h_.n_ctx != n_ctx) {
      throw Failure(path + ": baseline was saved with -c " + std::to_string(h_.n_ctx) + " but this run uses -c " +
                    std::to_string(n_ctx) + "; use the baseline's context size");
    }
    if (h_.n_chunks == 0 || h_.first != n_ctx / 2) {
      throw Failure(path + ": corrupt header (n_chunks " + std::to_string(h_.n_chunks) + ", first " +
                    std::to_string(h_.first) + ")");
    }
    const uint64_t n_scored = uint64_t{h_.n_ctx} - 1 - h_.first;
    const uint64_t expect = sizeof h_ + sizeof(int32_t) * uint64_t{h_.n_chunks} * h_.n_ctx +
                            uint64_t{h_.n_chunks} * n_scored * record_bytes(h_.n_vocab);
    std::error_code ec;
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec || size != expect) {
      throw Failure(path + ": " + std::to_string(size) + " bytes where the header announces " +
                    std::to_string(expect) + " (truncated or not written to the end)");
    }
    tokens_.resize(size_t{h_.n_chunks} * h_.n_ctx);
    read(tokens_.data(), tokens_.size() * sizeof(int32_t));
  }
  const FileHeader& header() const { return h_; }
  // (n_chunks, n_ctx) the windows the baseline evaluated.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  void read(void* out, size_t n) {
    if (std::fread(out, 1, n, f_.get()) != n) throw Failure(path_ + ": read failed");
  }

 private:
  std::string path_;
  FilePtr f_;
  FileHeader h_{};
  std::vector<int32_t> tokens_;
};

// ---- Scoring ----------------------------------------------------------------------------------

// log Σ exp(x), in double, and the index of the largest element (the first on ties).
double log_sum_exp(const float* x, int32_t n, int32_t* argmax) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  const double mx = x[best];
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - mx);
  *argmax = best;
  return mx + std::log(sum);
}

// What one scored position contributes.
struct Scored {
  double nll = 0;       // -log p(next token)
  double nll_base = 0;  // the same under the baseline
  double kld = 0;       // KL(baseline || this run)
  bool agree = false;   // same most likely token as the baseline
};

// Scores the logits x (n_vocab) that predict `next`. With `save`, fills its record (head and fp16
// row, n_vocab); with `base`, compares against the baseline's record.
Scored score(const float* x, int32_t n_vocab, int32_t next, RecordHead* save_head, uint16_t* save_row,
             const RecordHead* base_head, const uint16_t* base_row) {
  Scored s;
  int32_t argmax = 0;
  const double lse = log_sum_exp(x, n_vocab, &argmax);
  s.nll = lse - x[next];
  if (save_head != nullptr) {
    *save_head = {argmax, static_cast<float>(x[next] - lse)};
    for (int32_t v = 0; v < n_vocab; ++v) save_row[v] = half_from_float(static_cast<float>(x[v] - lse));
  }
  if (base_head != nullptr) {
    // Renormalize the decoded row (fp16 rounding leaves Σp off 1 by ~1e-4), then
    // KL = Σ p_base · (log p_base - log p_this).
    const float* table = half_table().data();
    double mx = -INFINITY;
    for (int32_t v = 0; v < n_vocab; ++v) mx = std::max(mx, static_cast<double>(table[base_row[v]]));
    double sum = 0;
    for (int32_t v = 0; v < n_vocab; ++v) sum += std::exp(table[base_row[v]] - mx);
    const double lse_base = mx + std::log(sum);
    double kld = 0;
    for (int32_t v = 0; v < n_vocab; ++v) {
      const double lb = table[base_row[v]] - lse_base;
      kld += std::exp(lb) * (lb - (x[v] - lse));
    }
    s.kld = kld;
    s.nll_base = -static_cast<double>(base_head->logprob_next);
    s.agree = base_head->argmax == argmax;
  }
  return s;
}

// The value below which a fraction p of the sorted values lie, interpolating between neighbours.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double pos = p * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

// ---- Flags and display ------------------------------------------------------------------------

std::string format_duration(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
  return buf;
}

// Running estimates on stderr: "[1]12.3456,[2]12.9876,..." as each window completes; on a terminal
// instead one line rewritten in place with a progress bar, the latest estimate and the time left,
// and the whole list once at the end.
class Display {
 public:
  explicit Display(int32_t n_chunks) : n_chunks_(n_chunks), tty_(isatty(STDERR_FILENO) != 0), t0_(Clock::now()) {}
  ~Display() {
    if (tty_) std::fprintf(stderr, "\r\033[K");
  }
  // fraction of the whole run done; estimate: the latest running perplexity (0: none yet).
  void progress(double fraction, const std::string& estimate) {
    if (!tty_) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - t0_).count();
    const int width = 30, fill = std::clamp(static_cast<int>(fraction * width), 0, width);
    std::string left = fraction > 0.02 ? ", " + format_duration(elapsed * (1 - fraction) / fraction) + " left" : "";
    std::fprintf(stderr, "\r\033[Kperplexity [%.*s%*s] %3d%% %s%s", fill, "##############################",
                 width - fill, "", static_cast<int>(fraction * 100), estimate.c_str(), left.c_str());
    std::fflush(stderr);
  }
  void chunk_done(int32_t c, double ppl, double seconds_per_chunk) {
    char item[48];
    std::snprintf(item, sizeof item, "[%d]%.4f,", c + 1, ppl);
    list_ += item;
    if (c == 0) {
      if (tty_) std::fprintf(stderr, "\r\033[K");
      std::fprintf(stderr, "perplexity: %.2f s per window, about %s for %d\n", seconds_per_chunk,
                   format_duration(seconds_per_chunk * n_chunks_).c_str(), n_chunks_);
    }
    if (!tty_) {
      std::fputs(item, stderr);
      std::fflush(stderr);
    }
  }
  void finish() {
    if (tty_) std::fprintf(stderr, "\r\033[K%s\n", list_.c_str());
    else std::fputc('\n', stderr);
  }

 private:
  int32_t n_chunks_;
  bool tty_;
  Clock::time_point t0_;
  std::string list_;
};

std::vector<int32_t> tokenize_text(qe_model* m, const std::string& text) {
  size_t n = 0;
  const qe_status s = qe_tokenize(m, text.data(), text.size(), true, false, nullptr, 0, &n);
  if (s != QE_ERR_BUFFER_TOO_SMALL) check(s, "tokenizing the text");
  std::vector<int32_t> ids(n);
  if (n > 0) check(qe_tokenize(m, text.data(), text.size(), true, false, ids.data(), n, &n), "tokenizing the text");
  ids.resize(n);
  return ids;
}

}  // namespace

int cmd_perplexity(const PerplexityFlags& f) {
  if (!f.save_logits.empty() && !f.kl_divergence.empty()) {
    throw Failure("give --save-logits (write a baseline) or --kl-divergence (compare with one), not both");
  }
  ModelPtr model = load_model(f.gen.model, f.gen.no_repack);
  qe_model_desc desc{};
  check(qe_model_describe(model.get(), &desc), "describing the model");
  const int32_t n_vocab = desc.n_vocab;

  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = f.gen.n_ctx;
  cp.n_batch = f.gen.n_batch;
  cp.n_threads = f.gen.n_threads;
  cp.act = parse_act(f.gen.act);
  apply_context_flags(f.gen, &cp);
  cp.pin_threads = true;  // a command-line run owns the process
  qe_context* raw_ctx = nullptr;
  check(qe_context_create(model.get(), &cp, &raw_ctx), "creating the context");
  ContextPtr ctx(raw_ctx);
  const int32_t n_ctx = qe_context_n_ctx(ctx.get());
  if (n_ctx < 4) throw Failure("context size " + std::to_string(n_ctx) + " is too small to score (at least 4)");
  const int32_t first = n_ctx / 2, n_scored = n_ctx - 1 - first;
  const int32_t n_batch = std::min(f.gen.n_batch, n_ctx);
  const int n_threads = f.gen.n_threads > 0 ? f.gen.n_threads : omp_get_num_procs();

  // The windows: consecutive n_ctx tokens, the first of each replaced by BOS when the vocabulary
  // uses one (qe_tokenize put one at the start of the text if so).
  const std::vector<int32_t> text_tokens = tokenize_text(model.get(), read_file(f.text));
  const int32_t bos = qe_token_bos(model.get());
  const bool use_bos = bos >= 0 && !text_tokens.empty() && text_tokens[0] == bos;
  if (text_tokens.size() < 2 * static_cast<size_t>(n_ctx)) {
    throw Failure(f.text + ": " + std::to_string(text_tokens.size()) + " tokens; perplexity with -c " +
                  std::to_string(n_ctx) + " needs at least " + std::to_string(2 * n_ctx) + " (two windows)");
  }
  int32_t n_chunks = static_cast<int32_t>(text_tokens.size() / static_cast<size_t>(n_ctx));
  if (f.n_chunks > 0) n_chunks = std::min(n_chunks, f.n_chunks);

  std::unique_ptr<BaselineReader> base;
  if (!f.kl_divergence.empty()) {
    base = std::make_unique<BaselineReader>(f.kl_divergence, static_cast<uint32_t>(n_vocab), static_cast<uint32_t>(n_ctx));
    const int32_t n_base = static_cast<int32_t>(base->header().n_chunks);
    if (n_base > n_chunks && (f.n_chunks <= 0 || f.n_chunks > n_chunks)) {
      throw Failure(f.kl_divergence + ": baseline has " + std::to_string(n_base) + " windows but " + f.text +
                    " gives only " + std::to_string(n_chunks) + " at -c " + std::to_string(n_ctx) +
                    " (a different text?)");
    }
    n_chunks = std::min(n_chunks, n_base);
  }
  // (n_chunks, n_ctx) the tokens as evaluated.
  std::vector<int32_t> windows(text_tokens.begin(), text_tokens.begin() + static_cast<ptrdiff_t>(n_chunks) * n_ctx);
  for (int32_t c = 0; c < n_chunks && use_bos; ++c) windows[static_cast<size_t>(c) * n_ctx] = bos;
  if (base) {
    for (size_t i = 0; i < windows.size(); ++i) {
      if (windows[i] != base->tokens()[i]) {
        throw Failure(f.kl_divergence + ": token " + std::to_string(i) + " of the baseline is " +
                      std::to_string(base->tokens()[i]) + " but " + std::to_string(windows[i]) + " here (" + f.text +
                      " is not the text the baseline was saved from, or the tokenizer differs)");
      }
    }
  }
  std::unique_ptr<BaselineWriter> save;
  if (!f.save_logits.empty()) {
    const FileHeader h{kMagic, kVersion, static_cast<uint32_t>(n_vocab), static_cast<uint32_t>(n_ctx),
                       static_cast<uint32_t>(n_chunks), static_cast<uint32_t>(first), 0};
    save = std::make_unique<BaselineWriter>(f.save_logits, h, windows);
  }

  std::fprintf(stderr, "perplexity: %zu tokens, %d windows of %d (%d scored each), act %s, kv %s, attn %s%s%s\n",
               text_tokens.size(), n_chunks, n_ctx, n_scored, f.gen.act.c_str(), f.gen.kv.c_str(), f.gen.attn.c_str(),
               base ? ", baseline " : "", base ? f.kl_divergence.c_str() : "");

  // Per scored position of the current batch: results and baseline/save records, (n_batch, ...).
  const size_t rec = record_bytes(static_cast<uint32_t>(n_vocab));
  std::vector<Scored> results(static_cast<size_t>(n_batch));
  std::vector<uint8_t> records(save || base ? static_cast<size_t>(n_batch) * rec : 0);
  std::vector<double> klds;
  klds.reserve(base ? static_cast<size_t>(n_chunks) * n_scored : 0);
  double nll = 0, nll2 = 0, nll_base = 0;
  int64_t count = 0, agree = 0;
  auto running = [&] { return std::exp(nll / static_cast<double>(count)); };

  Display display(n_chunks);
  const auto t0 = Clock::now();
  for (int32_t c = 0; c < n_chunks; ++c) {
    const auto tc = Clock::now();
    const int32_t* win = &windows[static_cast<size_t>(c) * n_ctx];
    check(qe_context_truncate(ctx.get(), 0), "clearing the cache");
    for (int32_t b0 = 0; b0 < n_ctx; b0 += n_batch) {
      const int32_t len = std::min(n_batch, n_ctx - b0);
      // Only batches reaching the scored half need every position's logits.
      const bool need = b0 + len > first;
      check(qe_eval(ctx.get(), win + b0, static_cast<size_t>(len), need), "evaluating window " + std::to_string(c + 1));
      // Scored positions j in [lo, hi) of this batch; logits row j - b0.
      const int32_t lo = std::max(b0, first), hi = std::min(b0 + len, n_ctx - 1);
      if (need && hi > lo) {
        const int32_t n = hi - lo;
        if (base) base->read(records.data(), static_cast<size_t>(n) * rec);
        std::vector<const float*> rows(static_cast<size_t>(n));
        for (int32_t j = lo; j < hi; ++j) {
          rows[static_cast<size_t>(j - lo)] = qe_get_logits(ctx.get(), j - b0);
          if (rows[static_cast<size_t>(j - lo)] == nullptr) throw Failure("no logits for position " + std::to_string(j));
        }
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 4)
        for (int32_t k = 0; k < n; ++k) {
          uint8_t* r = records.empty() ? nullptr : &records[static_cast<size_t>(k) * rec];
          auto* head = reinterpret_cast<RecordHead*>(r);
          auto* row = reinterpret_cast<uint16_t*>(r + sizeof(RecordHead));
          results[static_cast<size_t>(k)] =
              score(rows[static_cast<size_t>(k)], n_vocab, win[lo + k + 1], save ? head : nullptr,
                    save ? row : nullptr, base ? head : nullptr, base ? row : nullptr);
        }
        if (save) save->write(records.data(), static_cast<size_t>(n) * rec);
        // Sums in position order, so the result does not depend on the thread count.
        for (int32_t k = 0; k < n; ++k) {
          const Scored& s = results[static_cast<size_t>(k)];
          nll += s.nll;
          nll2 += s.nll * s.nll;
          nll_base += s.nll_base;
          agree += s.agree;
          if (base) klds.push_back(s.kld);
        }
        count += n;
      }
      const double done = (c + static_cast<double>(b0 + len) / n_ctx) / n_chunks;
      char est[64] = "";
      if (count > 0) std::snprintf(est, sizeof est, "PPL %.4f", running());
      display.progress(done, est);
    }
    display.chunk_done(c, running(), std::chrono::duration<double>(Clock::now() - tc).count());
  }
  display.finish();
  if (save) save->finish();
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  // PPL = exp(mean NLL); standard error by the delta method.
  const double n_tok = static_cast<double>(count);
  const double mean = nll / n_tok, var = std::max(0.0, nll2 / n_tok - mean * mean);
  const double ppl = std::exp(mean), ppl_err = ppl * std::sqrt(var / (n_tok - 1));

  nlohmann::json out = {{"ppl", ppl},       {"ppl_err", ppl_err}, {"n_tokens", count},  {"n_chunks", n_chunks},
                        {"n_ctx", n_ctx},   {"act", f.gen.act},   {"kv", f.gen.kv},     {"attn", f.gen.attn},
                        {"model", f.gen.model}, {"text", f.text}, {"seconds", seconds}};
  // The report goes to stdout, or to stderr when stdout carries the JSON.
  std::FILE* report = f.output == "json" ? stderr : stdout;
  std::fprintf(report, "PPL = %.4f +/- %.5f over %lld tokens (%d windows of %d)\n", ppl, ppl_err,
               static_cast<long long>(count), n_chunks, n_ctx);
  if (base) {
    std::vector<double> sorted = klds;
    std::sort(sorted.begin(), sorted.end());
    double kld_sum = 0, kld_sum2 = 0;
    for (double k : klds) {
      kld_sum += k;
      kld_sum2 += k * k;
    }
    const double kld_mean = kld_sum / n_tok;
    const double kld_err = std::sqrt(std::max(0.0, kld_sum2 / n_tok - kld_mean * kld_mean) / (n_tok - 1));
    const double ppl_base = std::exp(nll_base / n_tok), top1 = static_cast<double>(agree) / n_tok;
    std::fprintf(report, "baseline PPL = %.4f, delta PPL = %+.4f\n", ppl_base, ppl - ppl_base);
    std::fprintf(report, "mean KLD = %.6f +/- %.6f, median %.6f, 99th percentile %.6f, max %.6f\n", kld_mean, kld_err,
                 percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.back());
    std::fprintf(report, "top-1 agreement = %.2f%% (%lld of %lld)\n", 100.0 * top1, static_cast<long long>(agree),
                 static_cast<long long>(count));
    out.update({{"kld_mean", kld_mean},
                {"kld_mean_err", kld_err},
                {"kld_median", percentile(sorted, 0.5)},
                {"kld_p99", percentile(sorted, 0.99)},
                {"kld_max", sorted.back()},
                {"top1_agree", top1},
                {"ppl_base", ppl_base},
                {"delta_ppl", ppl - ppl_base},
                {"baseline", f.kl_divergence}});
  }
  if (f.output == "json") std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace qe::app
