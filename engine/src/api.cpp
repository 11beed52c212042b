// The C API: handle types, argument checks, and the wall that keeps exceptions inside.
#include "qengine/qengine.h"

#include <cmath>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "chat_template.h"
#include "cpu/dispatch.h"
#include "context.h"
#include "generate.h"
#include "gguf.h"
#include "model.h"
#include "sampler.h"
#include "synth.h"

struct qe_model {
  std::unique_ptr<qe::Model> m;
  std::string name;
};
struct qe_context {
  std::unique_ptr<qe::Context> c;
};
struct qe_sampler {
  qe::SamplerParams params;
  qe::Sampler s;
};
struct qe_gguf {
  std::unique_ptr<qe::gguf::File> f;
};

namespace {

thread_local std::string g_last_error;

qe_status to_c(qe::Code c) { return static_cast<qe_status>(static_cast<int>(c)); }

qe_status fail(qe_status s, std::string msg) {
  g_last_error = std::move(msg);
  return s;
}
qe_status fail(const qe::Status& st) { return fail(to_c(st.code()), st.message()); }

// Runs `body`, turning any exception into a status: no exception crosses the C API.
template <typename F>
qe_status guard(F&& body) {
  try {
    g_last_error.clear();
    return body();
  } catch (const std::bad_alloc&) {
    return fail(QE_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(QE_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(QE_ERR_INTERNAL, "internal error: unknown exception");
  }
}

#define QE_REQUIRE(cond, what)                                                       \
  do {                                                                               \
    if (!(cond)) return fail(QE_ERR_INVALID_ARGUMENT, std::string(__func__) + ": " + (what)); \
  } while (0)

// Copies `data` into a caller buffer (NUL-terminated when it fits, for text).
qe_status copy_out(const std::string& data, char* buf, size_t capacity, size_t* n_needed) {
  if (n_needed != nullptr) *n_needed = data.size();
  if (buf == nullptr || capacity < data.size() + 1) {
    if (buf != nullptr && capacity == data.size()) {  // exact fit without NUL is fine
      std::memcpy(buf, data.data(), data.size());
      return QE_OK;
    }
    return fail(QE_ERR_BUFFER_TOO_SMALL, "buffer of " + std::to_string(capacity) + " bytes is too small; " +
                                             std::to_string(data.size() + 1) + " needed");
  }
  std::memcpy(buf, data.data(), data.size());
  buf[data.size()] = '\0';
  return QE_OK;
}

// A params struct must come from its *_default_params() function (size field set).
template <typename T>
bool size_ok(const T* p) {
  return p == nullptr || p->size == sizeof(T);
}

std::string render_value(const qe::gguf::Value& v, int32_t max_items) {
  std::ostringstream os;
  auto list = [&](const auto& vec, auto fmt) {
    os << '[';
    const size_t n = vec.size();
    const size_t show = max_items < 0 ? n : std::min(n, static_cast<size_t>(max_items));
    for (size_t i = 0; i < show; ++i) {
      if (i) os << ", ";
      fmt(vec[i]);
    }
    if (show < n) os << (show ? ", " : "") << "... (" << n << " items)";
    os << ']';
  };
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) os << x;
        else if constexpr (std::is_same_v<T, bool>) os << (x ? "true" : "false");
        else if constexpr (std::is_same_v<T, double>) os << x;
        else if constexpr (std::is_same_v<T, uint64_t> || std::is_same_v<T, int64_t>) os << x;
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) list(x, [&](const std::string& s) { os << '"' << s << '"'; });
        else if constexpr (std::is_same_v<T, std::vector<bool>>) list(x, [&](bool b) { os << (b ? "true" : "false"); });
        else list(x, [&](const auto& e) { os << e; });
      },
      v.v);
  return os.str();
}

qe::SamplerParams to_cpp(const qe_sampler_params& p) {
  qe::SamplerParams s;
  s.temperature = p.temperature;
  s.top_k = p.top_k;
  s.top_p = p.top_p;
  s.min_p = p.min_p;
  s.repeat_penalty = p.repeat_penalty;
  s.repeat_last_n = p.repeat_last_n;
  s.presence_penalty = p.presence_penalty;
  s.frequency_penalty = p.frequency_penalty;
  s.seed = p.seed;
  return s;
}

}  // namespace

extern "C" {

const char* qe_version(void) { return "0.1.0"; }
const char* qe_last_error(void) { return g_last_error.c_str(); }

const char* qe_status_string(qe_status s) {
  switch (s) {
    case QE_OK: return "ok";
    case QE_ERR_INVALID_ARGUMENT: return "invalid argument";
    case QE_ERR_IO: return "i/o error";
    case QE_ERR_BAD_FORMAT: return "bad format";
    case QE_ERR_UNSUPPORTED: return "unsupported";
    case QE_ERR_OUT_OF_MEMORY: return "out of memory";
    case QE_ERR_CONTEXT_FULL: return "context full";
    case QE_ERR_INTERNAL: return "internal error";
    case QE_ERR_BUFFER_TOO_SMALL: return "buffer too small";
  }
  return "unknown status";
}

// ---- CPU --------------------------------------------------------------------------------------

qe_status qe_cpu_info(char* buf, size_t capacity, size_t* n_needed) {
  return guard([&] {
    const qe::cpu::CpuFeatures& f = qe::cpu::cpu_features();
    std::ostringstream os;
    os << "cpu: " << (f.brand.empty() ? "unknown" : f.brand) << "\n";
    os << "features:";
    const std::pair<const char*, bool> flags[] = {
        {"avx2", f.avx2},       {"fma", f.fma},         {"f16c", f.f16c},         {"avx512f", f.avx512f},
        {"avx512bw", f.avx512bw}, {"avx512vl", f.avx512vl}, {"avx512dq", f.avx512dq}, {"avx512vnni", f.avx512vnni},
        {"avx512bf16", f.avx512bf16}, {"avxvnni", f.avxvnni}, {"neon", f.neon}, {"dotprod", f.dotprod}, {"i8mm", f.i8mm}};
    for (const auto& [name, on] : flags) {
      if (on) os << ' ' << name;
    }
    os << "\nos saves: " << (f.os_avx ? "ymm" : "") << (f.os_avx512 ? " zmm" : "") << "\n";
    os << "usable kernel levels:";
    for (int i = 0; i < static_cast<int>(qe::cpu::Isa::kCount); ++i) {
      if (qe::cpu::isa_usable(static_cast<qe::cpu::Isa>(i))) os << ' ' << qe::cpu::isa_name(static_cast<qe::cpu::Isa>(i));
    }
    os << "\nbest: " << qe::cpu::isa_name(qe::cpu::best_isa()) << ", in use: " << qe::cpu::isa_name(qe::cpu::active_isa())
       << " (set QE_CPU_ISA to force a lower level)\n";
    os << "kernels per weight type (rows per tile; a16 = fp32 activations, a8 = int8):\n";
    const qe::cpu::KernelTable& k = qe::cpu::kernels();
    for (int t = 0; t < QE_TYPE_COUNT; ++t) {
      if (k.mm[t].tile == 0) continue;
      // Which table the entry came from: the highest usable level holding the same pack function.
      const char* from = "scalar";
      for (int i = 0; i < static_cast<int>(qe::cpu::Isa::kCount); ++i) {
        const qe::cpu::KernelTable* tbl = qe::cpu::isa_table(static_cast<qe::cpu::Isa>(i));
        if (tbl != nullptr && tbl->mm[t].pack == k.mm[t].pack) from = qe::cpu::isa_name(static_cast<qe::cpu::Isa>(i));
      }
      os << "  " << qe_type_get(static_cast<uint32_t>(t))->name << ": " << from << ", tile " << k.mm[t].tile
         << (k.mm[t].gemm_a8 != nullptr ? ", a16 + a8" : ", a16") << "\n";
    }
    return copy_out(os.str(), buf, capacity, n_needed);
  });
}

// ---- GGUF -------------------------------------------------------------------------------------

qe_status qe_gguf_open(const char* path, qe_gguf** out) {
  return guard([&] {
    QE_REQUIRE(path != nullptr && out != nullptr, "path and out must not be NULL");
    *out = nullptr;
    auto f = qe::gguf::File::open(path);
    if (!f) return fail(f.status());
    *out = new qe_gguf{std::move(f.value())};
    return QE_OK;
  });
}
void qe_gguf_free(qe_gguf* g) { delete g; }
uint32_t qe_gguf_version(const qe_gguf* g) { return g ? g->f->version() : 0; }
int64_t qe_gguf_n_metadata(const qe_gguf* g) { return g ? static_cast<int64_t>(g->f->metadata().size()) : 0; }
int64_t qe_gguf_n_tensors(const qe_gguf* g) { return g ? static_cast<int64_t>(g->f->tensors().size()) : 0; }

qe_status qe_gguf_metadata(const qe_gguf* g, int64_t i, char* key, size_t key_capacity, size_t* key_needed,
                           char* value, size_t value_capacity, size_t* value_needed, int32_t max_array_items) {
  return guard([&] {
    QE_REQUIRE(g != nullptr, "gguf must not be NULL");
    QE_REQUIRE(i >= 0 && i < qe_gguf_n_metadata(g), "index " + std::to_string(i) + " out of range");
    const auto& kv = g->f->metadata()[static_cast<size_t>(i)];
    const qe_status a = copy_out(kv.first, key, key_capacity, key_needed);
    const qe_status b = copy_out(render_value(kv.second, max_array_items), value, value_capacity, value_needed);
    return a != QE_OK ? a : b;
  });
}

qe_status qe_gguf_tensor(const qe_gguf* g, int64_t i, qe_tensor_desc* d) {
  return guard([&] {
    QE_REQUIRE(g != nullptr && d != nullptr, "gguf and desc must not be NULL");
    QE_REQUIRE(i >= 0 && i < qe_gguf_n_tensors(g), "index " + std::to_string(i) + " out of range");
    const auto& t = g->f->tensors()[static_cast<size_t>(i)];
    d->name = t.name.c_str();
    d->type = qe_type_get(t.type)->name;
    d->n_dims = static_cast<int32_t>(t.dims.size());
    for (size_t k = 0; k < 4; ++k) d->dims[k] = k < t.dims.size() ? t.dims[k] : 1;
    d->offset = t.offset;
    d->n_bytes = t.n_bytes;
    return QE_OK;
  });
}

// ---- Model ------------------------------------------------------------------------------------

qe_model_params qe_model_default_params(void) {
  qe_model_params p{};
  p.size = sizeof(p);
  return p;
}

qe_status qe_model_load(const char* path, const qe_model_params* params, qe_model** out) {
  return guard([&] {
    QE_REQUIRE(path != nullptr && out != nullptr, "path and out must not be NULL");
    QE_REQUIRE(size_ok(params), "params->size is not a known qe_model_params size");
    *out = nullptr;
    qe::LoadOptions opt;
    if (params != nullptr && params->progress != nullptr) {
      opt.progress = [params](float f) { params->progress(f, params->progress_user_data); };
    }
    opt.repack = params == nullptr || !params->no_repack;
    auto m = qe::Model::load(path, opt);
    if (!m) return fail(m.status());
    auto* h = new qe_model{std::move(m.value()), {}};
    h->name = h->m->name();
    *out = h;
    return QE_OK;
  });
}

void qe_model_free(qe_model* model) { delete model; }

qe_status qe_model_describe(const qe_model* model, qe_model_desc* d) {
  return guard([&] {
    QE_REQUIRE(model != nullptr && d != nullptr, "model and desc must not be NULL");
    const qe::HParams& hp = model->m->hparams();
    d->name = model->name.c_str();
    d->arch = model->m->arch().name.data();
    d->n_vocab = hp.n_vocab;
    d->n_ctx_train = hp.n_ctx_train;
    d->n_embd = hp.n_embd;
    d->n_layer = hp.n_layer;
    d->n_head = hp.n_head;
    d->n_head_kv = hp.n_head_kv;
    d->n_ff = hp.n_ff;
    d->n_params = model->m->n_params();
    d->weight_bytes = model->m->weight_bytes();
    d->weight_type = qe_type_get(model->m->dominant_type())->name;
    return QE_OK;
  });
}

const char* qe_model_chat_template(const qe_model* model) {
  return model != nullptr ? model->m->chat_template().c_str() : "";
}

// ---- Tokenizer --------------------------------------------------------------------------------

qe_status qe_tokenize(const qe_model* model, const char* text, size_t len, bool add_bos, bool parse_special,
                      int32_t* tokens, size_t capacity, size_t* n_needed) {
  return guard([&] {
    QE_REQUIRE(model != nullptr, "model must not be NULL");
    QE_REQUIRE(text != nullptr || len == 0, "text must not be NULL");
    const std::string_view sv(text == nullptr ? "" : text, len);
    if (!qe::tok::is_valid_utf8(sv)) return fail(QE_ERR_INVALID_ARGUMENT, "the text is not valid UTF-8");
    const auto& tk = model->m->tokenizer();
    const std::vector<int32_t> ids = tk.encode(sv, add_bos && tk.add_bos_default(), parse_special);
    if (n_needed != nullptr) *n_needed = ids.size();
    if (tokens == nullptr || capacity < ids.size()) {
      return fail(QE_ERR_BUFFER_TOO_SMALL, std::to_string(ids.size()) + " tokens do not fit in a buffer of " +
                                               std::to_string(capacity));
    }
    std::copy(ids.begin(), ids.end(), tokens);
    return QE_OK;
  });
}

qe_status qe_token_to_piece(const qe_model* model, int32_t token, char* buf, size_t capacity, size_t* n_needed) {
  return guard([&] {
    QE_REQUIRE(model != nullptr, "model must not be NULL");
    QE_REQUIRE(token >= 0 && token < model->m->tokenizer().n_vocab(), "token id " + std::to_string(token) + " out of range");
    return copy_out(model->m->tokenizer().token_to_piece(token), buf, capacity, n_needed);
  });
}

qe_status qe_detokenize(const qe_model* model, const int32_t* tokens, size_t n, bool skip_special, char* buf,
                        size_t capacity, size_t* n_needed) {
  return guard([&] {
    QE_REQUIRE(model != nullptr, "model must not be NULL");
    QE_REQUIRE(tokens != nullptr || n == 0, "tokens must not be NULL");
    const auto& tk = model->m->tokenizer();
    for (size_t i = 0; i < n; ++i) {
      QE_REQUIRE(tokens[i] >= 0 && tokens[i] < tk.n_vocab(), "token id " + std::to_string(tokens[i]) + " out of range");
    }
    return copy_out(tk.decode(std::span<const int32_t>(tokens, n), skip_special), buf, capacity, n_needed);
  });
}

int32_t qe_token_bos(const qe_model* model) { return model ? model->m->tokenizer().bos() : -1; }
int32_t qe_token_eos(const qe_model* model) { return model ? model->m->tokenizer().eos() : -1; }
bool qe_token_is_eog(const qe_model* model, int32_t token) {
  return model != nullptr && token >= 0 && token < model->m->tokenizer().n_vocab() && model->m->tokenizer().is_eog(token);
}

// ---- Chat templates ---------------------------------------------------------------------------

qe_status qe_chat_apply_template(const qe_model* model, const char* template_name, const qe_chat_message* messages,
                                 size_t n_messages, bool add_assistant, char* buf, size_t capacity,
                                 size_t* n_needed) {
  return guard([&] {
    QE_REQUIRE(model != nullptr, "model must not be NULL");
    QE_REQUIRE(messages != nullptr || n_messages == 0, "messages must not be NULL");
    const auto& tk = model->m->tokenizer();
    auto piece = [&](int32_t id) { return id >= 0 ? tk.token_to_piece(id) : std::string(); };
    std::optional<std::string_view> name;
    if (template_name != nullptr && *template_name != '\0') name = template_name;
    auto tmpl = qe::make_chat_template(model->m->chat_template(), name, piece(tk.bos()), piece(tk.eos()));
    if (!tmpl) return fail(tmpl.status());
    std::vector<qe::ChatMessage> msgs;
    for (size_t i = 0; i < n_messages; ++i) {
      QE_REQUIRE(messages[i].role != nullptr && messages[i].content != nullptr,
                 "message " + std::to_string(i) + " has a NULL role or content");
      msgs.push_back({messages[i].role, messages[i].content});
    }
    auto text = qe::apply_chat_template(*tmpl, msgs, add_assistant);
    if (!text) return fail(text.status());
    return copy_out(*text, buf, capacity, n_needed);
  });
}

// ---- Context ----------------------------------------------------------------------------------

qe_context_params qe_context_default_params(void) {
  qe_context_params p{};
  p.size = sizeof(p);
  p.n_ctx = 0;
  p.n_batch = 512;
  p.n_threads = 0;
  p.kv = QE_KV_DEFAULT;
  p.attn = QE_ATTN_DEFAULT;
  p.kv_group = 32;
  p.kv_k_per_channel = true;  // q4's accurate mode (docs/accuracy.md); other types ignore it
  return p;
}

}  // extern "C"

namespace {

// The engine's context parameters for p; an empty string, or what is wrong with p.
std::string to_cpp(const qe_context_params& p, qe::ContextParams* cp) {
  cp->n_ctx = p.n_ctx;
  cp->n_batch = p.n_batch;
  cp->n_threads = p.n_threads;
  if (p.act < QE_ACT_DEFAULT || p.act > QE_ACT_Q8) return "unknown activation mode " + std::to_string(static_cast<int>(p.act));
  // The default stays fp32 until int8 activations meet the accuracy bar (docs/accuracy.md).
  cp->act = p.act == QE_ACT_Q8 ? qe::ActMode::kQ8 : qe::ActMode::kF32;
  cp->pin_threads = p.pin_threads;
  static constexpr qe::cpu::KvType kTypes[] = {qe::cpu::KvType::kF16, qe::cpu::KvType::kF32, qe::cpu::KvType::kF16,
                                               qe::cpu::KvType::kBf16, qe::cpu::KvType::kQ8, qe::cpu::KvType::kQ4};
  if (p.kv < QE_KV_DEFAULT || p.kv > QE_KV_Q4) return "unknown KV cache type " + std::to_string(static_cast<int>(p.kv));
  cp->kv.type = kTypes[p.kv];
  if (p.attn < QE_ATTN_DEFAULT || p.attn > QE_ATTN_INT) return "unknown attention mode " + std::to_string(static_cast<int>(p.attn));
  if (p.attn == QE_ATTN_INT && p.kv != QE_KV_Q8 && p.kv != QE_KV_Q4) {
    return "integer attention needs a quantized KV cache (kv = q8 or q4)";
  }
  cp->kv.attn = p.attn == QE_ATTN_FLOAT ? qe::AttnMode::kFloat : p.attn == QE_ATTN_INT ? qe::AttnMode::kInt : qe::AttnMode::kDefault;
  if (p.kv_group != 0 && p.kv_group != 32 && p.kv_group != 64 && p.kv_group != 128) {
    return "kv_group " + std::to_string(p.kv_group) + " is not 32, 64 or 128";
  }
  cp->kv.group = p.kv_group == 0 ? 32 : p.kv_group;
  cp->kv.k_per_channel = p.kv_k_per_channel && p.kv == QE_KV_Q4;
  cp->rope_scaling = p.rope_scaling;
  return {};
}

}  // namespace

extern "C" {

qe_status qe_context_kv_bytes_per_token(const qe_model* model, const qe_context_params* params, uint64_t* bytes) {
  return guard([&] {
    QE_REQUIRE(model != nullptr && bytes != nullptr, "model and bytes must not be NULL");
    const qe_context_params p = params != nullptr ? *params : qe_context_default_params();
    QE_REQUIRE(p.size == sizeof(qe_context_params), "params->size is not sizeof(qe_context_params)");
    qe::ContextParams cp;
    const std::string bad = to_cpp(p, &cp);
    QE_REQUIRE(bad.empty(), bad);
    const qe::HParams& hp = model->m->hparams();
    *bytes = static_cast<uint64_t>(std::ceil(qe::KvCache::bytes_per_token(hp.n_layer, hp.n_head_kv, hp.head_dim, cp.kv)));
    return QE_OK;
  });
}

qe_status qe_context_create(const qe_model* model, const qe_context_params* params, qe_context** out) {
  return guard([&] {
    QE_REQUIRE(model != nullptr && out != nullptr, "model and out must not be NULL");
    *out = nullptr;
    const qe_context_params p = params != nullptr ? *params : qe_context_default_params();
    QE_REQUIRE(p.size == sizeof(qe_context_params), "params->size is not sizeof(qe_context_params)");
    qe::ContextParams cp;
    const std::string bad = to_cpp(p, &cp);
    QE_REQUIRE(bad.empty(), bad);
    auto c = qe::Context::create(*model->m, cp);
    if (!c) return fail(c.status());
    *out = new qe_context{std::move(c.value())};
    return QE_OK;
  });
}

void qe_context_free(qe_context* ctx) { delete ctx; }
int32_t qe_context_n_ctx(const qe_context* ctx) { return ctx ? ctx->c->n_ctx() : 0; }
int32_t qe_context_n_past(const qe_context* ctx) { return ctx ? ctx->c->n_past() : 0; }

qe_status qe_context_truncate(qe_context* ctx, int32_t n_keep) {
  return guard([&] {
    QE_REQUIRE(ctx != nullptr, "ctx must not be NULL");
    const qe::Status st = ctx->c->truncate(n_keep);
    return st ? QE_OK : fail(st);
  });
}

qe_status qe_context_fill_synthetic(qe_context* ctx, int32_t n_tokens, uint64_t seed) {
  return guard([&] {
    QE_REQUIRE(ctx != nullptr, "ctx must not be NULL");
    const qe::Status st = ctx->c->fill_synthetic(n_tokens, seed);
    return st ? QE_OK : fail(st);
  });
}

qe_status qe_eval(qe_context* ctx, const int32_t* tokens, size_t n, bool all_logits) {
  return guard([&] {
    QE_REQUIRE(ctx != nullptr && tokens != nullptr, "ctx and tokens must not be NULL");
    const qe::Status st = ctx->c->eval(std::span<const int32_t>(tokens, n), all_logits);
    return st ? QE_OK : fail(st);
  });
}

const float* qe_get_logits(const qe_context* ctx, int32_t i) { return ctx ? ctx->c->logits(i) : nullptr; }

// ---- Sampling ---------------------------------------------------------------------------------

qe_sampler_params qe_sampler_default_params(void) {
  const qe::SamplerParams d;
  qe_sampler_params p{};
  p.size = sizeof(p);
  p.temperature = d.temperature;
  p.top_k = d.top_k;
  p.top_p = d.top_p;
  p.min_p = d.min_p;
  p.repeat_penalty = d.repeat_penalty;
  p.repeat_last_n = d.repeat_last_n;
  p.presence_penalty = d.presence_penalty;
  p.frequency_penalty = d.frequency_penalty;
  p.seed = d.seed;
  return p;
}

qe_status qe_sampler_create(const qe_sampler_params* params, qe_sampler** out) {
  return guard([&] {
    QE_REQUIRE(out != nullptr, "out must not be NULL");
    *out = nullptr;
    const qe_sampler_params p = params != nullptr ? *params : qe_sampler_default_params();
    QE_REQUIRE(p.size == sizeof(qe_sampler_params), "params->size is not sizeof(qe_sampler_params)");
    const qe::SamplerParams sp = to_cpp(p);
    const qe::Status st = qe::validate(sp);
    if (!st) return fail(st);
    *out = new qe_sampler{sp, qe::Sampler(sp)};
    return QE_OK;
  });
}

void qe_sampler_free(qe_sampler* s) { delete s; }

qe_status qe_sampler_sample(qe_sampler* s, const qe_context* ctx, int32_t* token) {
  return guard([&] {
    QE_REQUIRE(s != nullptr && ctx != nullptr && token != nullptr, "sampler, ctx and token must not be NULL");
    const float* logits = ctx->c->logits(-1);
    if (logits == nullptr) return fail(QE_ERR_INVALID_ARGUMENT, "qe_sampler_sample: no logits yet; call qe_eval first");
    *token = s->s.sample(std::span<const float>(logits, static_cast<size_t>(ctx->c->model().hparams().n_vocab)));
    return QE_OK;
  });
}

void qe_sampler_accept(qe_sampler* s, int32_t token) {
  if (s != nullptr) s->s.accept(token);
}
void qe_sampler_reset(qe_sampler* s) {
  if (s != nullptr) s->s.reset();
}

// ---- Generation -------------------------------------------------------------------------------

qe_generate_params qe_generate_default_params(void) {
  qe_generate_params p{};
  p.size = sizeof(p);
  p.max_tokens = -1;
  p.add_bos = true;
  p.parse_special = true;
  return p;
}

qe_status qe_generate(qe_context* ctx, qe_sampler* sampler, const char* prompt, const qe_generate_params* params,
                      qe_generate_stats* stats) {
  return guard([&] {
    QE_REQUIRE(ctx != nullptr && sampler != nullptr && prompt != nullptr, "ctx, sampler and prompt must not be NULL");
    const qe_generate_params p = params != nullptr ? *params : qe_generate_default_params();
    QE_REQUIRE(p.size == sizeof(qe_generate_params), "params->size is not sizeof(qe_generate_params)");
    QE_REQUIRE(p.stop != nullptr || p.n_stop == 0, "stop must not be NULL when n_stop > 0");
    if (!qe::tok::is_valid_utf8(prompt)) return fail(QE_ERR_INVALID_ARGUMENT, "the prompt is not valid UTF-8");
    qe::GenerateParams gp;
    gp.max_tokens = p.max_tokens;
    gp.add_bos = p.add_bos;
    gp.parse_special = p.parse_special;
    for (size_t i = 0; i < p.n_stop; ++i) {
      QE_REQUIRE(p.stop[i] != nullptr, "stop string " + std::to_string(i) + " is NULL");
      gp.stop.emplace_back(p.stop[i]);
    }
    qe::TextFn on_text;
    if (p.on_text != nullptr) {
      on_text = [&p](std::string_view t) { return p.on_text(t.data(), t.size(), p.user_data); };
    }
    if (p.on_prompt_progress != nullptr) {
      gp.on_prompt_progress = [&p](float f) { p.on_prompt_progress(f, p.progress_user_data); };
    }
    auto r = qe::generate(*ctx->c, sampler->s, prompt, gp, on_text);
    if (!r) return fail(r.status());
    if (stats != nullptr) {
      stats->n_prompt = r->n_prompt;
      stats->n_prompt_evaluated = r->n_prompt_evaluated;
      stats->n_generated = r->n_generated;
      stats->prompt_ms = r->prompt_ms;
      stats->generate_ms = r->gen_ms;
      stats->stop = static_cast<qe_stop_reason>(static_cast<int>(r->stop));
    }
    return QE_OK;
  });
}

// ---- Synthetic models -------------------------------------------------------------------------

qe_synth_params qe_synth_default_params(void) {
  qe_synth_params p{};
  p.size = sizeof(p);
  p.preset = "tiny-llama";
  p.type = "Q4_0";
  p.seed = 1;
  return p;
}

const char* qe_synth_presets(void) {
  static const std::string names = [] {
    std::string s;
    for (const auto& p : qe::synth_presets()) s += (s.empty() ? "" : ",") + std::string(p.name);
    return s;
  }();
  return names.c_str();
}

qe_status qe_synth_write(const qe_synth_params* params, const char* path) {
  return guard([&] {
    QE_REQUIRE(params != nullptr && path != nullptr, "params and path must not be NULL");
    QE_REQUIRE(params->size == sizeof(qe_synth_params), "params->size is not sizeof(qe_synth_params)");
    QE_REQUIRE(params->preset != nullptr && params->type != nullptr, "preset and type must not be NULL");
    qe::SynthOptions o;
    o.preset = params->preset;
    o.type = params->type;
    o.seed = params->seed;
    o.n_layer = params->n_layer;
    if (params->progress != nullptr) {
      o.progress = [params](float f) { params->progress(f, params->progress_user_data); };
    }
    const qe::Status st = qe::synth_write(o, path);
    return st ? QE_OK : fail(st);
  });
}

}  // extern "C"
