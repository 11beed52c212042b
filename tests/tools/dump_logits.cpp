// qe_dump_logits: evaluates a token sequence and writes float32 logits (n_tokens, n_vocab).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "qengine/qengine.h"

int main(int argc, char** argv) {
  std::string model, tokens, out;
  int threads = 0;
  std::string act = "f32";  // the oracle compares the fp32-activation path
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "-m")) model = argv[i + 1];
    else if (!std::strcmp(argv[i], "--tokens")) tokens = argv[i + 1];
    else if (!std::strcmp(argv[i], "-o")) out = argv[i + 1];
    else if (!std::strcmp(argv[i], "-t")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--act")) act = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (model.empty() || tokens.empty() || out.empty()) {
    std::fprintf(stderr, "usage: qe_dump_logits -m FILE --tokens \"1 2 3\" -o OUT.f32 [-t N] [--act f32|q8]\n");
    return 2;
  }
  std::vector<int32_t> ids;
  std::istringstream ss(tokens);
  for (int32_t x; ss >> x;) ids.push_back(x);
  qe_model* m = nullptr;
  qe_context* c = nullptr;
  auto die = [](const char* what) {
    std::fprintf(stderr, "qe_dump_logits: %s: %s\n", what, qe_last_error());
    return 1;
  };
  if (qe_model_load(model.c_str(), nullptr, &m) != QE_OK) return die("load");
  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = static_cast<int32_t>(ids.size()) + 1;
  cp.n_threads = threads;
  cp.act = act == "q8" ? QE_ACT_Q8 : QE_ACT_F32;
  // The oracle checks the arithmetic to 1e-3 relative: an fp32 cache keeps K and V exact (the
  // default fp16 cache alone costs about 2e-3 on stories260K).
  cp.kv = QE_KV_F32;
  if (qe_context_create(m, &cp, &c) != QE_OK) return die("context");
  if (qe_eval(c, ids.data(), ids.size(), true) != QE_OK) return die("eval");
  qe_model_desc d{};
  if (qe_model_describe(m, &d) != QE_OK) return die("describe");
  FILE* f = std::fopen(out.c_str(), "wb");
  if (f == nullptr) return die("open output");
  for (size_t i = 0; i < ids.size(); ++i) {
    std::fwrite(qe_get_logits(c, static_cast<int32_t>(i)), sizeof(float), static_cast<size_t>(d.n_vocab), f);
  }
  const bool ok = std::fclose(f) == 0;
  qe_context_free(c);
  qe_model_free(m);
  return ok ? 0 : 1;
}
