// qengine complete and qengine chat: streaming generation from the command line.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "common.h"

namespace qe::app {
namespace {

// Writes generated text to stdout as it arrives.
bool print_text(const char* text, size_t len, void*) {
  std::fwrite(text, 1, len, stdout);
  std::fflush(stdout);
  return true;
}

const char* stop_name(qe_stop_reason r) {
  switch (r) {
    case QE_STOP_EOG: return "end of turn";
    case QE_STOP_MAX_TOKENS: return "token limit (-n)";
    case QE_STOP_STRING: return "stop string";
    case QE_STOP_CONTEXT_FULL: return "context full (-c)";
    case QE_STOP_CANCELLED: return "cancelled";
  }
  return "?";
}

void print_timings(const qe_generate_stats& st) {
  const double pp = st.prompt_ms > 0 ? 1000.0 * st.n_prompt_evaluated / st.prompt_ms : 0.0;
  const double tg = st.generate_ms > 0 ? 1000.0 * st.n_generated / st.generate_ms : 0.0;
  std::fprintf(stderr, "\nprompt: %d tokens (%d evaluated) in %.1f ms, %.2f tokens/s\n", st.n_prompt,
               st.n_prompt_evaluated, st.prompt_ms, pp);
  std::fprintf(stderr, "generation: %d tokens in %.1f ms, %.2f tokens/s; stopped by %s\n", st.n_generated,
               st.generate_ms, tg, stop_name(st.stop));
}

qe_generate_stats run(qe_context* ctx, qe_sampler* s, const std::string& prompt, const GenFlags& f) {
  std::vector<const char*> stops;
  for (const auto& x : f.stop) stops.push_back(x.c_str());
  qe_generate_params p = qe_generate_default_params();
  p.max_tokens = f.n_predict;
  p.stop = stops.data();
  p.n_stop = stops.size();
  p.on_text = &print_text;
  Progress bar("prompt");  // on a terminal; cleared before the first generated text
  p.on_prompt_progress = &Progress::callback;
  p.progress_user_data = &bar;
  qe_generate_stats st{};
  check(qe_generate(ctx, s, prompt.c_str(), &p, &st), "generating");
  return st;
}

void describe(qe_model* m, qe_context* c) {
  qe_model_desc d{};
  check(qe_model_describe(m, &d), "describing the model");
  std::fprintf(stderr, "model: %s (%s, %.1fM parameters, %.1f MiB of weights), context %d tokens\n", d.name, d.arch,
               static_cast<double>(d.n_params) / 1e6, static_cast<double>(d.weight_bytes) / (1 << 20),
               qe_context_n_ctx(c));
}

}  // namespace

int cmd_complete(const GenFlags& f, bool chat) {
  const std::string prompt = read_prompt(f);
  ModelPtr model = load_model(f.model, f.no_repack);
  ContextPtr ctx = make_context(model.get(), f);
  SamplerPtr sampler = make_sampler(f);
  if (f.verbose) describe(model.get(), ctx.get());
  std::string text = prompt;
  if (chat) {
    std::vector<std::pair<std::string, std::string>> msgs;
    if (!f.system.empty()) msgs.emplace_back("system", f.system);
    msgs.emplace_back("user", prompt);
    text = render_chat(model.get(), f.chat_template, msgs, true);
  }
  const qe_generate_stats st = run(ctx.get(), sampler.get(), text, f);
  std::printf("\n");
  if (f.verbose) print_timings(st);
  return 0;
}

int cmd_chat(const GenFlags& f) {
  ModelPtr model = load_model(f.model, f.no_repack);
  ContextPtr ctx = make_context(model.get(), f);
  SamplerPtr sampler = make_sampler(f);
  if (f.verbose) describe(model.get(), ctx.get());
  const bool tty = isatty(STDIN_FILENO) != 0;
  std::vector<std::pair<std::string, std::string>> history;
  if (!f.system.empty()) history.emplace_back("system", f.system);
  const size_t n_system = history.size();
  // Tokens kept free for the reply when trimming old turns.
  const size_t reserve = f.n_predict > 0 ? static_cast<size_t>(f.n_predict) : 256;
  const size_t n_ctx = static_cast<size_t>(qe_context_n_ctx(ctx.get()));
  if (tty) std::fprintf(stderr, "chat: type a message; /reset starts over; Ctrl-D exits\n");
  std::string line;
  while (true) {
    if (tty) {
      std::fprintf(stderr, "> ");
      std::fflush(stderr);
    }
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/reset") {
      history.resize(n_system);
      check(qe_context_truncate(ctx.get(), 0), "resetting");
      qe_sampler_reset(sampler.get());
      std::fprintf(stderr, "(conversation cleared)\n");
      continue;
    }
    history.emplace_back("user", line);
    // Drop the oldest turns (never the system prompt) until the conversation leaves room.
    std::string prompt = render_chat(model.get(), f.chat_template, history, true);
    while (count_tokens(model.get(), prompt) + reserve > n_ctx && history.size() > n_system + 1) {
      history.erase(history.begin() + static_cast<std::ptrdiff_t>(n_system));
      prompt = render_chat(model.get(), f.chat_template, history, true);
    }
    if (count_tokens(model.get(), prompt) >= n_ctx) {
      std::fprintf(stderr, "qengine: error: this message does not fit in the %zu-token context; raise it with -c\n", n_ctx);
      history.pop_back();
      continue;
    }
    std::string reply;
    std::vector<const char*> stops;
    for (const auto& x : f.stop) stops.push_back(x.c_str());
    qe_generate_params p = qe_generate_default_params();
    p.max_tokens = f.n_predict;
    p.stop = stops.data();
    p.n_stop = stops.size();
    p.on_text = [](const char* t, size_t n, void* u) {
      static_cast<std::string*>(u)->append(t, n);
      return print_text(t, n, nullptr);
    };
    p.user_data = &reply;
    Progress bar("prompt");
    p.on_prompt_progress = &Progress::callback;
    p.progress_user_data = &bar;
    qe_generate_stats st{};
    check(qe_generate(ctx.get(), sampler.get(), prompt.c_str(), &p, &st), "generating");
    std::printf("\n");
    std::fflush(stdout);
    history.emplace_back("assistant", reply);
    if (f.verbose) print_timings(st);
  }
  if (tty) std::fprintf(stderr, "\n");
  return 0;
}

}  // namespace qe::app
