// Shared pieces of the qengine subcommands.
#include "common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace qe::app {

void check(qe_status s, const std::string& what) {
  if (s != QE_OK) {
    const std::string msg = qe_last_error();
    throw Failure(msg.empty() ? what + ": " + qe_status_string(s) : msg);
  }
}

void add_model_flags(CLI::App* cmd, GenFlags* f) {
  cmd->add_option("-m,--model", f->model, "GGUF model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("-c,--ctx-size", f->n_ctx, "context window in tokens (0: the model's, at most 4096)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-b,--batch-size", f->n_batch, "prompt tokens per forward pass")->check(CLI::PositiveNumber);
  cmd->add_option("-t,--threads", f->n_threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--act", f->act,
                  "activations of the matrix products: f32 (the default: weights dequantized in registers) or q8 "
                  "(int8 per block and integer dot products: faster, slightly less exact)")
      ->check(CLI::IsMember({"default", "f32", "q8"}));
  cmd->add_flag("--no-repack", f->no_repack, "keep the file's weight layout (slower scalar kernels, no extra memory)");
  add_kv_flags(cmd, f);
  cmd->add_option("--rope-scaling", f->rope_scaling,
                  "linear RoPE scaling factor: positions are divided by it, so -c may exceed the model's trained "
                  "length up to this many times (at some cost in quality)")
      ->check(CLI::Range(1.0f, 64.0f));
}

void add_kv_flags(CLI::App* cmd, GenFlags* f) {
  cmd->add_option("--kv", f->kv,
                  "KV cache type: f16 (default), f32, bf16, q8 (int8 per head and token) or q4 (4-bit; keys per "
                  "channel with the most recent tokens in fp16)")
      ->check(CLI::IsMember({"default", "f32", "f16", "bf16", "q8", "q4"}));
  cmd->add_option("--attn", f->attn,
                  "attention on a q8/q4 cache: int (the default: integer dot products on the packed cache) or float "
                  "(dequantized tiles, for comparison)")
      ->check(CLI::IsMember({"default", "float", "int"}));
  cmd->add_option("--kv-group", f->kv_group, "q4 scale group: 32 (default), 64 or 128 dimensions (and key tokens)")
      ->check(CLI::IsMember({32, 64, 128}));
  cmd->add_flag("--kv-k-per-token", f->kv_k_per_token, "q4: quantize keys per token like values (less accurate)");
}

qe_kv_type parse_kv(const std::string& kv) {
  static constexpr std::pair<const char*, qe_kv_type> kTable[] = {
      {"f32", QE_KV_F32}, {"f16", QE_KV_F16}, {"bf16", QE_KV_BF16}, {"q8", QE_KV_Q8}, {"q4", QE_KV_Q4}};
  for (const auto& [name, t] : kTable) {
    if (kv == name) return t;
  }
  return QE_KV_DEFAULT;
}

qe_attn_mode parse_attn(const std::string& attn) {
  if (attn == "float") return QE_ATTN_FLOAT;
  if (attn == "int") return QE_ATTN_INT;
  return QE_ATTN_DEFAULT;
}

void apply_context_flags(const GenFlags& f, qe_context_params* p) {
  p->kv = parse_kv(f.kv);
  p->attn = parse_attn(f.attn);
  p->kv_group = f.kv_group;
  p->kv_k_per_channel = !f.kv_k_per_token;
  p->rope_scaling = f.rope_scaling;
}

qe_act_mode parse_act(const std::string& act) {
  if (act == "f32") return QE_ACT_F32;
  if (act == "q8") return QE_ACT_Q8;
  return QE_ACT_DEFAULT;
}

void add_gen_flags(CLI::App* cmd, GenFlags* f) {
  cmd->add_option("-p,--prompt", f->prompt, "prompt text");
  cmd->add_option("-f,--file", f->prompt_file, "read the prompt from a file")->check(CLI::ExistingFile);
  cmd->add_option("-n,--n-predict", f->n_predict, "tokens to generate (-1: until the model stops or the context is full)")
      ->check(CLI::Range(-1, 1 << 30));
  auto* s = "Sampling";
  cmd->add_option("--temp", f->temp, "temperature; 0 = greedy (always the most likely token)")->group(s)
      ->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", f->top_k, "keep the k most likely tokens (0: off)")->group(s)->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", f->top_p, "keep the smallest set whose probability reaches p (1: off)")->group(s)
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", f->min_p, "drop tokens less likely than min-p times the best (0: off)")->group(s)
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", f->repeat_penalty, "penalize recently seen tokens (1: off)")->group(s)
      ->check(CLI::Range(0.0f, 10.0f));
  cmd->add_option("--repeat-last-n", f->repeat_last_n, "how many recent tokens the penalties consider")->group(s)
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--presence-penalty", f->presence_penalty, "subtract for every seen token (0: off)")->group(s);
  cmd->add_option("--frequency-penalty", f->frequency_penalty, "subtract per occurrence (0: off)")->group(s);
  cmd->add_option("-s,--seed", f->seed, "random seed (default: random); the same seed gives the same text")->group(s);
  cmd->add_option("--stop", f->stop, "stop before this text (repeatable)");
  cmd->add_option("--chat-template", f->chat_template,
                  "override the model's chat template: chatml, llama2, llama3, mistral, phi3, gemma, zephyr");
  cmd->add_option("--system", f->system, "system prompt for --chat and chat");
  cmd->add_flag("-v,--verbose", f->verbose, "print load details and a timing summary to stderr");
}

Progress::Progress(std::string label) : label_(std::move(label)), tty_(isatty(STDERR_FILENO) != 0) {}

Progress::~Progress() {
  if (tty_ && last_ >= 0 && !done_) std::fprintf(stderr, "\r\033[K");
}

void Progress::update(float fraction) {
  if (!tty_ || done_) return;
  if (fraction >= 1.0f && last_ < 0) {  // finished in one step: nothing was worth showing
    done_ = true;
    return;
  }
  if (fraction >= 1.0f) {  // clear the line: what follows (generated text) starts clean
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    done_ = true;
    return;
  }
  const int pct = static_cast<int>(fraction * 100.0f + 0.5f);
  if (pct == last_) return;
  last_ = pct;
  const int width = 30, fill = pct * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), fill, "##############################", width - fill, "", pct);
  std::fflush(stderr);
}

ModelPtr load_model(const std::string& path, bool no_repack) {
  Progress bar("loading " + path);
  qe_model_params p = qe_model_default_params();
  p.no_repack = no_repack;
  p.progress = &Progress::callback;
  p.progress_user_data = &bar;
  qe_model* m = nullptr;
  check(qe_model_load(path.c_str(), &p, &m), "loading " + path);
  return ModelPtr(m);
}

ContextPtr make_context(qe_model* m, const GenFlags& f) {
  qe_context_params p = qe_context_default_params();
  p.n_ctx = f.n_ctx;
  p.n_batch = f.n_batch;
  p.n_threads = f.n_threads;
  p.act = parse_act(f.act);
  apply_context_flags(f, &p);
  p.pin_threads = true;  // a command-line run owns the process
  qe_context* c = nullptr;
  check(qe_context_create(m, &p, &c), "creating the context");
  return ContextPtr(c);
}

SamplerPtr make_sampler(const GenFlags& f) {
  qe_sampler_params p = qe_sampler_default_params();
  p.temperature = f.temp;
  p.top_k = f.top_k;
  p.top_p = f.top_p;
  p.min_p = f.min_p;
  p.repeat_penalty = f.repeat_penalty;
  p.repeat_last_n = f.repeat_last_n;
  p.presence_penalty = f.presence_penalty;
  p.frequency_penalty = f.frequency_penalty;
  p.seed = f.seed ? *f.seed
                  : static_cast<uint64_t>(std::chrono::high_resolution_clock::now().time_since_epoch().count());
  qe_sampler* s = nullptr;
  check(qe_sampler_create(&p, &s), "creating the sampler");
  return SamplerPtr(s);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure(path + ": cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_stdin() {
  return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
}

std::string read_prompt(const GenFlags& f) {
  if (!f.prompt.empty() && !f.prompt_file.empty()) throw Failure("give the prompt with -p or -f, not both");
  if (!f.prompt_file.empty()) return read_file(f.prompt_file);
  if (!f.prompt.empty()) return f.prompt;
  if (isatty(STDIN_FILENO)) std::fprintf(stderr, "reading the prompt from standard input (end with Ctrl-D)\n");
  return read_stdin();
}

std::string render_chat(qe_model* m, const std::string& template_name,
                        const std::vector<std::pair<std::string, std::string>>& messages, bool add_assistant) {
  std::vector<qe_chat_message> msgs;
  for (const auto& [role, content] : messages) msgs.push_back({role.c_str(), content.c_str()});
  const char* name = template_name.empty() ? nullptr : template_name.c_str();
  size_t needed = 0;
  qe_status s = qe_chat_apply_template(m, name, msgs.data(), msgs.size(), add_assistant, nullptr, 0, &needed);
  if (s != QE_ERR_BUFFER_TOO_SMALL) check(s, "applying the chat template");
  std::string out(needed + 1, '\0');
  check(qe_chat_apply_template(m, name, msgs.data(), msgs.size(), add_assistant, out.data(), out.size(), &needed),
        "applying the chat template");
  out.resize(needed);
  return out;
}

size_t count_tokens(qe_model* m, const std::string& text) {
  size_t n = 0;
  const qe_status s = qe_tokenize(m, text.data(), text.size(), true, true, nullptr, 0, &n);
  if (s != QE_ERR_BUFFER_TOO_SMALL && s != QE_OK) check(s, "tokenizing");
  return n;
}

}  // namespace qe::app
