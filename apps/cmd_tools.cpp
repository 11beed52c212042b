// qengine tokenize, info and synth.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "common.h"

namespace qe::app {

int cmd_tokenize(const TokenizeFlags& f) {
  if (f.use_stdin && !f.prompt.empty()) throw Failure("give the text with -p or --stdin, not both");
  const std::string text = f.use_stdin || f.prompt.empty() ? read_stdin() : f.prompt;
  ModelPtr model = load_model(f.model);
  size_t n = 0;
  qe_status s = qe_tokenize(model.get(), text.data(), text.size(), !f.no_bos, f.parse_special, nullptr, 0, &n);
  if (s != QE_ERR_BUFFER_TOO_SMALL) check(s, "tokenizing");
  std::vector<int32_t> ids(n);
  if (n > 0) check(qe_tokenize(model.get(), text.data(), text.size(), !f.no_bos, f.parse_special, ids.data(), n, &n), "tokenizing");
  if (f.ids) {
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  }
  std::vector<char> buf(256);
  for (int32_t id : ids) {
    size_t len = 0;
    s = qe_token_to_piece(model.get(), id, buf.data(), buf.size(), &len);
    if (s == QE_ERR_BUFFER_TOO_SMALL) {
      buf.resize(len + 1);
      s = qe_token_to_piece(model.get(), id, buf.data(), buf.size(), &len);
    }
    check(s, "detokenizing");
    std::string piece(buf.data(), len);
    std::string shown;
    for (unsigned char c : piece) {
      if (c == '\n') shown += "\\n";
      else if (c == '\t') shown += "\\t";
      else if (c < 0x20) { char e[8]; std::snprintf(e, sizeof e, "\\x%02x", c); shown += e; }
      else shown += static_cast<char>(c);
    }
    std::printf("%6d -> '%s'\n", id, shown.c_str());
  }
  return 0;
}

namespace {

// KV-cache memory per token of context for each --kv type, when the file is a model qengine runs
// (a vocabulary-only GGUF just gets a note). Loads without repacking: only the mapping is touched.
void print_kv_memory(const std::string& path) {
  qe_model_params mp = qe_model_default_params();
  mp.no_repack = true;
  qe_model* raw = nullptr;
  if (qe_model_load(path.c_str(), &mp, &raw) != QE_OK) {
    std::printf("\n  KV cache: not shown (%s)\n", qe_last_error());
    return;
  }
  ModelPtr model(raw);
  qe_model_desc d{};
  check(qe_model_describe(model.get(), &d), "describing the model");
  struct Row { const char* name; qe_kv_type kv; };
  const Row rows[] = {{"f32", QE_KV_F32}, {"f16", QE_KV_F16}, {"bf16", QE_KV_BF16}, {"q8", QE_KV_Q8}, {"q4", QE_KV_Q4}};
  qe_context_params cp = qe_context_default_params();
  cp.kv = QE_KV_F16;
  uint64_t f16 = 0;
  check(qe_context_kv_bytes_per_token(model.get(), &cp, &f16), "KV cache size");
  std::printf("\n  KV cache (%d layers x %d KV heads, keys and values; q4 in groups of %d):\n", d.n_layer, d.n_head_kv,
              cp.kv_group);
  std::printf("  %-5s %16s %10s %22s\n", "--kv", "bytes per token", "x f16", "MiB at trained length");
  for (const Row& r : rows) {
    cp.kv = r.kv;
    uint64_t b = 0;
    check(qe_context_kv_bytes_per_token(model.get(), &cp, &b), "KV cache size");
    std::printf("  %-5s %16" PRIu64 " %10.3f %14.1f (%d)\n", r.name, b, static_cast<double>(b) / static_cast<double>(f16),
                static_cast<double>(b) * d.n_ctx_train / (1 << 20), d.n_ctx_train);
  }
}

}  // namespace

int cmd_info(const std::string& path, bool all) {
  qe_gguf* raw = nullptr;
  check(qe_gguf_open(path.c_str(), &raw), "opening " + path);
  std::unique_ptr<qe_gguf, void (*)(qe_gguf*)> g(raw, qe_gguf_free);
  const int64_t n_kv = qe_gguf_n_metadata(g.get()), n_t = qe_gguf_n_tensors(g.get());
  std::printf("%s: GGUF v%u, %" PRId64 " metadata entries, %" PRId64 " tensors\n\n", path.c_str(),
              qe_gguf_version(g.get()), n_kv, n_t);
  std::vector<char> key(256), value(4096);
  for (int64_t i = 0; i < n_kv; ++i) {
    size_t kn = 0, vn = 0;
    qe_status s = qe_gguf_metadata(g.get(), i, key.data(), key.size(), &kn, value.data(), value.size(), &vn, all ? -1 : 8);
    if (s == QE_ERR_BUFFER_TOO_SMALL) {
      key.resize(kn + 1);
      value.resize(vn + 1);
      s = qe_gguf_metadata(g.get(), i, key.data(), key.size(), &kn, value.data(), value.size(), &vn, all ? -1 : 8);
    }
    check(s, "reading metadata");
    std::string v(value.data(), vn);
    if (!all && v.size() > 200) v = v.substr(0, 200) + "... (" + std::to_string(vn) + " bytes)";
    for (auto& c : v) if (c == '\n') c = ' ';
    std::printf("  %-45s %s\n", key.data(), v.c_str());
  }
  std::printf("\n  %-5s %-40s %-6s %-28s %12s\n", "#", "tensor", "type", "shape", "bytes");
  uint64_t total = 0;
  for (int64_t i = 0; i < n_t; ++i) {
    qe_tensor_desc d{};
    check(qe_gguf_tensor(g.get(), i, &d), "reading tensor info");
    std::string shape = "[";
    for (int k = 0; k < d.n_dims; ++k) shape += (k ? ", " : "") + std::to_string(d.dims[k]);
    shape += "]";
    std::printf("  %-5" PRId64 " %-40s %-6s %-28s %12" PRIu64 "\n", i, d.name, d.type, shape.c_str(), d.n_bytes);
    total += d.n_bytes;
  }
  std::printf("\n  total tensor data: %.2f MiB\n", static_cast<double>(total) / (1 << 20));
  print_kv_memory(path);
  return 0;
}

int cmd_cpu_info() {
  size_t n = 0;
  qe_status s = qe_cpu_info(nullptr, 0, &n);
  if (s != QE_ERR_BUFFER_TOO_SMALL) check(s, "cpu info");
  std::string text(n + 1, '\0');
  check(qe_cpu_info(text.data(), text.size(), &n), "cpu info");
  text.resize(n);
  std::printf("%s", text.c_str());
  return 0;
}

int cmd_synth(const SynthFlags& f) {
  qe_synth_params p = qe_synth_default_params();
  p.preset = f.preset.c_str();
  p.type = f.type.c_str();
  p.seed = f.seed;
  p.n_layer = f.n_layer;
  Progress bar("writing " + f.out);
  p.progress = &Progress::callback;
  p.progress_user_data = &bar;
  check(qe_synth_write(&p, f.out.c_str()), "writing " + f.out);
  std::fprintf(stderr, "wrote %s (%s, %s, seed %" PRIu64 ")\n", f.out.c_str(), f.preset.c_str(), f.type.c_str(), f.seed);
  return 0;
}

}  // namespace qe::app
