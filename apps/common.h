// Shared pieces of the qengine subcommands: flags, model loading with progress, errors.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "qengine/qengine.h"

namespace qe::app {

// A failure to report as "qengine: error: ..." with exit status 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws Failure with the library's message when s is not QE_OK.
void check(qe_status s, const std::string& what);

// Flags shared by the generating subcommands.
struct GenFlags {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  int32_t n_predict = -1;
  int32_t n_ctx = 0;
  int32_t n_batch = 512;
  int32_t n_threads = 0;
  float temp = 0.8f;
  int32_t top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::string chat_template;
  std::string system;
  std::string act = "default";
  std::string kv = "default";    // KV cache type (--kv)
  std::string attn = "default";  // attention on a quantized cache (--attn)
  int32_t kv_group = 32;         // q4 group size (--kv-group)
  bool kv_k_per_token = false;   // q4 keys per token instead of per channel (--kv-k-per-token)
  float rope_scaling = 0.0f;     // linear RoPE scaling factor (--rope-scaling)
  bool no_repack = false;
  bool verbose = false;
};

// Adds -m, -c, -t, --act, the KV-cache flags and --rope-scaling (every model subcommand).
void add_model_flags(CLI::App* cmd, GenFlags* f);
// Adds --kv, --attn, --kv-group, --kv-k-per-token (add_model_flags, and bench).
void add_kv_flags(CLI::App* cmd, GenFlags* f);
// Adds -p, -f, -n, sampling flags, --stop, --verbose.
void add_gen_flags(CLI::App* cmd, GenFlags* f);

struct ModelFree {
  void operator()(qe_model* m) const { qe_model_free(m); }
};
struct ContextFree {
  void operator()(qe_context* c) const { qe_context_free(c); }
};
struct SamplerFree {
  void operator()(qe_sampler* s) const { qe_sampler_free(s); }
};
using ModelPtr = std::unique_ptr<qe_model, ModelFree>;
using ContextPtr = std::unique_ptr<qe_context, ContextFree>;
using SamplerPtr = std::unique_ptr<qe_sampler, SamplerFree>;

// Loads with a progress bar on stderr when it is a terminal.
ModelPtr load_model(const std::string& path, bool no_repack = false);
// "default" | "f32" | "q8" as the API's enum.
qe_act_mode parse_act(const std::string& act);
// The flags' KV-cache type, attention mode, q4 options and RoPE scaling into p.
void apply_context_flags(const GenFlags& f, qe_context_params* p);
// "f32" | "f16" | "bf16" | "q8" | "q4" (else the default) and "float" | "int" as the API's enums.
qe_kv_type parse_kv(const std::string& kv);
qe_attn_mode parse_attn(const std::string& attn);
ContextPtr make_context(qe_model* m, const GenFlags& f);
SamplerPtr make_sampler(const GenFlags& f);

// The prompt from -p, -f, or standard input when neither is given.
std::string read_prompt(const GenFlags& f);
std::string read_file(const std::string& path);
std::string read_stdin();

// Renders messages with the model's (or the --chat-template) chat template.
std::string render_chat(qe_model* m, const std::string& template_name,
                        const std::vector<std::pair<std::string, std::string>>& messages, bool add_assistant);
// Number of tokens in text (parse_special, with BOS as generation would add it).
size_t count_tokens(qe_model* m, const std::string& text);

// Progress bar for long operations: "label [#####     ] 42%" on stderr, only on a terminal.
class Progress {
 public:
  explicit Progress(std::string label);
  ~Progress();
  void update(float fraction);
  static void callback(float fraction, void* self) { static_cast<Progress*>(self)->update(fraction); }

 private:
  std::string label_;
  bool tty_;
  int last_ = -1;
  bool done_ = false;
};

int cmd_complete(const GenFlags& f, bool chat);
int cmd_chat(const GenFlags& f);
struct TokenizeFlags {
  std::string model;
  std::string prompt;
  bool ids = false;
  bool no_bos = false;
  bool use_stdin = false;
  bool parse_special = false;
};
int cmd_tokenize(const TokenizeFlags& f);
int cmd_info(const std::string& path, bool all);
int cmd_cpu_info();
struct SynthFlags {
  std::string preset;
  std::string type = "Q4_0";
  std::string out;
  uint64_t seed = 1;
  int32_t n_layer = 0;
};
int cmd_synth(const SynthFlags& f);
struct BenchFlags {
  std::string model;
  int32_t n_prompt = 512;
  int32_t n_gen = 128;
  int32_t reps = 5;
  int32_t n_threads = 0;
  int32_t n_batch = 512;
  std::string output = "md";
  std::string act = "default";
  bool no_repack = false;
  GenFlags kv;            // the KV-cache flags (add_kv_flags)
  int32_t depth = 0;      // context depth the tests start at (synthetic positions)
};
int cmd_bench(const BenchFlags& f);
// qengine perplexity: model flags (-c defaults to 512 there), the text, and the baseline files.
struct PerplexityFlags {
  GenFlags gen;
  std::string text;
  int32_t n_chunks = 0;  // 0: every whole window of the text
  std::string save_logits;
  std::string kl_divergence;
  std::string output = "text";
};
int cmd_perplexity(const PerplexityFlags& f);

}  // namespace qe::app
