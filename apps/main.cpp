// qengine: the command-line front end; every subcommand goes through the public C API.
#include <cstdio>
#include <string>

#include "common.h"

int main(int argc, char** argv) {
  using namespace qe::app;
  CLI::App app{"qengine: run quantized LLMs (GGUF) on the CPU.\n\n"
               "Examples:\n"
               "  qengine complete -m model.gguf --chat -p \"What is the capital of France?\"\n"
               "  qengine chat -m model.gguf\n"
               "  qengine info model.gguf\n"
               "  qengine synth --preset tinyllama-1.1b --type Q4_0 -o tiny.gguf\n",
               "qengine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("qengine ") + qe_version());

  GenFlags gen;
  bool as_chat = false;
  auto* complete = app.add_subcommand("complete", "continue a prompt; the generated text goes to stdout, logs to stderr");
  add_model_flags(complete, &gen);
  add_gen_flags(complete, &gen);
  complete->add_flag("--chat", as_chat, "wrap the prompt as one user turn in the model's chat template");

  GenFlags chat_flags;
  auto* chat = app.add_subcommand("chat", "interactive multi-turn chat (/reset clears the history, Ctrl-D exits)");
  add_model_flags(chat, &chat_flags);
  add_gen_flags(chat, &chat_flags);

  TokenizeFlags tk;
  auto* tokenize = app.add_subcommand("tokenize", "print the tokens of a text");
  tokenize->add_option("-m,--model", tk.model, "GGUF model (or vocabulary-only) file")->required()->check(CLI::ExistingFile);
  tokenize->add_option("-p,--prompt", tk.prompt, "text to tokenize (default: standard input)");
  tokenize->add_flag("--stdin", tk.use_stdin, "read the text from standard input");
  tokenize->add_flag("--ids", tk.ids, "print only the ids, space-separated");
  tokenize->add_flag("--no-bos", tk.no_bos, "do not add the BOS token");
  tokenize->add_flag("--parse-special", tk.parse_special, "turn special-token texts such as <|im_start|> into their ids");

  std::string info_path, info_model;
  bool info_all = false;
  auto* info = app.add_subcommand("info", "print a GGUF file's metadata and tensor table");
  info->add_option("file", info_path, "GGUF file")->check(CLI::ExistingFile);
  info->add_option("-m,--model", info_model, "GGUF file (same as the positional argument)")->check(CLI::ExistingFile);
  info->add_flag("-a,--all", info_all, "print arrays and long values in full");
  bool info_cpu = false;
  info->add_flag("--cpu", info_cpu, "print the CPU features and the kernels chosen for this machine");

  SynthFlags sy;
  auto* synth = app.add_subcommand("synth", "write a random-weight model with the shape of a real one (for benchmarks and tests)");
  synth->add_option("--preset", sy.preset, std::string("model shape: ") + qe_synth_presets())->required();
  synth->add_option("--type", sy.type, "weight type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K or Q4_K_M");
  synth->add_option("-o,--output", sy.out, "output GGUF file")->required();
  synth->add_option("--seed", sy.seed, "random seed of the weights");
  synth->add_option("--layers", sy.n_layer, "override the number of layers")->check(CLI::NonNegativeNumber);

  BenchFlags bf;
  auto* bench = app.add_subcommand("bench", "measure prompt and decode tokens/s against the memory-bandwidth limit");
  bench->add_option("-m,--model", bf.model, "GGUF model file")->required()->check(CLI::ExistingFile);
  bench->add_option("-p,--n-prompt", bf.n_prompt, "prompt tokens per run (0: skip the prompt test)")->check(CLI::NonNegativeNumber);
  bench->add_option("-n,--n-gen", bf.n_gen, "generated tokens per run (0: skip the decode test)")->check(CLI::NonNegativeNumber);
  bench->add_option("-r,--repetitions", bf.reps, "runs per test (medians are reported)")->check(CLI::PositiveNumber);
  bench->add_option("-t,--threads", bf.n_threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  bench->add_option("-b,--batch-size", bf.n_batch, "prompt tokens per forward pass")->check(CLI::PositiveNumber);
  bench->add_option("-o,--output", bf.output, "md or json")->check(CLI::IsMember({"md", "json"}));
  bench->add_option("--act", bf.act, "activations: f32 (default) or q8")
      ->check(CLI::IsMember({"default", "f32", "q8"}));
  bench->add_flag("--no-repack", bf.no_repack, "keep the file's weight layout (scalar kernels)");
  add_kv_flags(bench, &bf.kv);
  bench->add_option("-d,--depth", bf.depth,
                    "start every test at this context depth: positions of random keys and values are written "
                    "first (no prompt is run), RoPE-scaled past the trained length")
      ->check(CLI::NonNegativeNumber);

  PerplexityFlags pf;
  pf.gen.n_ctx = 512;
  auto* ppl = app.add_subcommand("perplexity",
                                 "perplexity of a text over fixed windows (llama.cpp's method), and the "
                                 "KL-divergence of any mode against a saved baseline");
  add_model_flags(ppl, &pf.gen);
  ppl->add_option("-f,--file", pf.text, "text to score, e.g. WikiText-2's wiki.test.raw")->required();
  ppl->add_option("--chunks", pf.n_chunks, "score at most this many windows (0: all)")->check(CLI::NonNegativeNumber);
  ppl->add_option("--save-logits", pf.save_logits, "write this run's next-token distributions as a baseline file");
  ppl->add_option("--kl-divergence", pf.kl_divergence,
                  "compare with a --save-logits baseline: KL-divergence, top-1 agreement, delta perplexity");
  ppl->add_option("--output", pf.output, "text (default) or json (one object on stdout at the end)")
      ->check(CLI::IsMember({"text", "json"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  try {
    if (complete->parsed()) return cmd_complete(gen, as_chat);
    if (chat->parsed()) return cmd_chat(chat_flags);
    if (tokenize->parsed()) return cmd_tokenize(tk);
    if (info->parsed()) {
      if (info_cpu && info_path.empty() && info_model.empty()) return cmd_cpu_info();
      if (info_cpu) cmd_cpu_info();
      if (info_path.empty() == info_model.empty()) throw Failure("give one GGUF file: qengine info FILE");
      return cmd_info(info_path.empty() ? info_model : info_path, info_all);
    }
    if (synth->parsed()) return cmd_synth(sy);
    if (bench->parsed()) return cmd_bench(bf);
    if (ppl->parsed()) return cmd_perplexity(pf);
  } catch (const Failure& e) {
    std::fprintf(stderr, "qengine: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qengine: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
