// Model loading: hyper-parameters from metadata, tensor shape validation, weight views.
#include "model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "cpu/dispatch.h"
#include "ref/ref.h"
#include "vocab.h"

namespace qe {
namespace {

Status bad(const std::string& path, const std::string& what) {
  return error(Code::kBadFormat, path + ": " + what);
}

// Reads a required or optional positive integer hyper-parameter.
Status read_int(const gguf::File& f, const std::string& key, bool required, int32_t* out) {
  auto v = f.get_int(key);
  if (!v) return v.status();
  if (!v->has_value()) {
    return required ? bad(f.path(), "missing required metadata key '" + key + "'") : Status();
  }
  const int64_t x = **v;
  if (x <= 0 || x > (int64_t{1} << 30)) {
    return bad(f.path(), "metadata key '" + key + "' = " + std::to_string(x) + " is out of range");
  }
  *out = static_cast<int32_t>(x);
  return {};
}

Status read_float(const gguf::File& f, const std::string& key, float* out) {
  auto v = f.get_float(key);
  if (!v) return v.status();
  if (v->has_value()) {
    const double x = **v;
    if (!std::isfinite(x) || x <= 0) {
      return bad(f.path(), "metadata key '" + key + "' = " + std::to_string(x) + " must be positive");
    }
    *out = static_cast<float>(x);
  }
  return {};
}

std::string dims_str(const std::vector<uint64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

class Loader {
 public:
  Loader(const gguf::File& f, uint64_t* n_params, uint64_t* bytes) : f_(f), n_params_(n_params), bytes_(bytes) {}

  // A 2-D matrix of `rows` rows and `cols` columns (GGUF dims [cols, rows]).
  Status matrix(std::string_view name, int64_t rows, int64_t cols, Matrix* out, bool optional = false) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      return optional ? Status() : bad(f_.path(), "missing tensor '" + std::string(name) + "'");
    }
    const bool ok = (t->dims.size() == 2 && t->dims[0] == static_cast<uint64_t>(cols) &&
                     t->dims[1] == static_cast<uint64_t>(rows));
    if (!ok) {
      return bad(f_.path(), "tensor '" + std::string(name) + "' has shape " + dims_str(t->dims) +
                                ", expected [" + std::to_string(cols) + ", " + std::to_string(rows) + "]");
    }
    if (qe::ref::type_ops(static_cast<qe_type>(t->type)) == nullptr) {
      return error(Code::kUnsupported, f_.path() + ": tensor '" + std::string(name) + "' has type " +
                                           qe_type_get(t->type)->name + ", which has no kernel yet");
    }
    out->type = static_cast<qe_type>(t->type);
    out->data = t->data;
    out->rows = rows;
    out->cols = cols;
    out->row_bytes = qe_row_bytes(t->type, cols);
    account(*t);
    return {};
  }

  // A 1-D vector of `n` elements, converted to float.
  Status vector(std::string_view name, int64_t n, std::vector<float>* out, bool optional = false) {
    const gguf::TensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) {
      return optional ? Status() : bad(f_.path(), "missing tensor '" + std::string(name) + "'");
    }
    if (t->n_elements != static_cast<uint64_t>(n) || t->dims[0] != static_cast<uint64_t>(n)) {
      return bad(f_.path(), "tensor '" + std::string(name) + "' has shape " + dims_str(t->dims) +
                                ", expected [" + std::to_string(n) + "]");
    }
    if (qe::ref::type_ops(static_cast<qe_type>(t->type)) == nullptr) {
      return error(Code::kUnsupported, f_.path() + ": tensor '" + std::string(name) + "' has unsupported type " +
                                           qe_type_get(t->type)->name);
    }
    out->resize(static_cast<size_t>(n));
    qe::ref::dequantize_row(static_cast<qe_type>(t->type), t->data, out->data(), n);
    for (float x : *out) {
      if (!std::isfinite(x)) return bad(f_.path(), "tensor '" + std::string(name) + "' holds NaN or Inf");
    }
    account(*t);
    return {};
  }

 private:
  void account(const gguf::TensorInfo& t) {
    *n_params_ += t.n_elements;
    *bytes_ += t.n_bytes;
  }
  const gguf::File& f_;
  uint64_t* n_params_;
  uint64_t* bytes_;
};

}  // namespace

std::string Model::name() const {
  auto n = file_->get_string("general.name");
  if (n && n->has_value()) return **n;
  return std::string(arch_->name);
}

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& options) {
  auto file = gguf::File::open(path);
  if (!file) return file.status();
  std::unique_ptr<Model> m(new Model());
  m->file_ = std::move(file.value());
  const gguf::File& f = *m->file_;

  auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return arch_name.status();
  if (!arch_name->has_value()) return bad(path, "missing metadata key 'general.architecture'");
  m->arch_ = models::find_arch(**arch_name);
  if (m->arch_ == nullptr) {
    std::string known;
    for (const auto& a : models::all_archs()) known += (known.empty() ? "" : ", ") + std::string(a.name);
    return error(Code::kUnsupported, path + ": architecture '" + **arch_name +
                                         "' is not supported (supported: " + known + ")");
  }
  const models::ArchDesc& arch = *m->arch_;
  HParams& hp = m->hp_;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "embedding_length"), true, &hp.n_embd));
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "block_count"), true, &hp.n_layer));
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "feed_forward_length"), true, &hp.n_ff));
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "attention.head_count"), true, &hp.n_head));
  hp.n_head_kv = hp.n_head;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "attention.head_count_kv"), false, &hp.n_head_kv));
  hp.n_ctx_train = 2048;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "context_length"), false, &hp.n_ctx_train));
  if (hp.n_embd % hp.n_head != 0) {
    return bad(path, "embedding_length " + std::to_string(hp.n_embd) + " is not a multiple of head_count " +
                         std::to_string(hp.n_head));
  }
  hp.head_dim = hp.n_embd / hp.n_head;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "attention.key_length"), false, &hp.head_dim));
  int32_t v_len = hp.head_dim;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "attention.value_length"), false, &v_len));
  if (v_len != hp.head_dim) {
    return error(Code::kUnsupported, path + ": key_length " + std::to_string(hp.head_dim) +
                                         " != value_length " + std::to_string(v_len) + " is not supported");
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return bad(path, "head_count " + std::to_string(hp.n_head) + " is not a multiple of head_count_kv " +
                         std::to_string(hp.n_head_kv));
  }
  hp.n_rot = hp.head_dim;
  QE_RETURN_IF_ERROR(read_int(f, models::key(arch, "rope.dimension_count"), false, &hp.n_rot));
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0) {
    return bad(path, "rope.dimension_count " + std::to_string(hp.n_rot) + " must be even and at most the head size " +
                         std::to_string(hp.head_dim));
  }
  QE_RETURN_IF_ERROR(read_float(f, models::key(arch, "rope.freq_base"), &hp.rope_base));
  QE_RETURN_IF_ERROR(read_float(f, models::key(arch, "attention.layer_norm_rms_epsilon"), &hp.rms_eps));
  if (auto scaling = f.get_string(models::key(arch, "rope.scaling.type")); !scaling) {
    return scaling.status();
  } else if (scaling->has_value() && **scaling != "none") {
    return error(Code::kUnsupported, path + ": rope.scaling.type '" + **scaling + "' is not supported yet");
  }

  // Tokenizer first: its size fixes the vocabulary dimension of the embedding.
  auto vocab = load_vocab(f);
  if (!vocab) return vocab.status();
  std::string tok_error;
  m->tokenizer_ = tok::Tokenizer::create(vocab.value(), &tok_error);
  if (!m->tokenizer_) return bad(path, "tokenizer: " + tok_error);
  hp.n_vocab = m->tokenizer_->n_vocab();
  if (const gguf::TensorInfo* te = f.find_tensor(models::kTokenEmbd); te != nullptr && te->dims.size() == 2 &&
                                                                        te->dims[1] != static_cast<uint64_t>(hp.n_vocab)) {
    return bad(path, "token_embd.weight has " + std::to_string(te->dims[1]) + " rows but the vocabulary has " +
                         std::to_string(hp.n_vocab) + " tokens");
  }
  if (auto tmpl = f.get_string("tokenizer.chat_template"); !tmpl) {
    return tmpl.status();
  } else if (tmpl->has_value()) {
    m->chat_template_ = **tmpl;
  }

  Loader ld(f, &m->n_params_, &m->weight_bytes_);
  ModelWeights& w = m->w_;
  const int64_t d = hp.n_embd;
  QE_RETURN_IF_ERROR(ld.matrix(models::kTokenEmbd, hp.n_vocab, d, &w.tok_embd));
  QE_RETURN_IF_ERROR(ld.vector(models::kOutputNorm, d, &w.output_norm));
  QE_RETURN_IF_ERROR(ld.matrix(models::kOutput, hp.n_vocab, d, &w.output, arch.output_optional));
  if (w.output.data == nullptr) w.output = w.tok_embd;
  QE_RETURN_IF_ERROR(ld.vector(models::kRopeFreqs, hp.n_rot / 2, &w.rope_freqs, /*optional=*/true));

  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerWeights& l = w.layers[static_cast<size_t>(i)];
    auto name = [i](std::string_view s) { return models::layer_tensor(i, s); };
    QE_RETURN_IF_ERROR(ld.vector(name("attn_norm.weight"), d, &l.attn_norm));
    QE_RETURN_IF_ERROR(ld.matrix(name("attn_q.weight"), hp.q_dim(), d, &l.wq));
    QE_RETURN_IF_ERROR(ld.matrix(name("attn_k.weight"), hp.kv_dim(), d, &l.wk));
    QE_RETURN_IF_ERROR(ld.matrix(name("attn_v.weight"), hp.kv_dim(), d, &l.wv));
    QE_RETURN_IF_ERROR(ld.matrix(name("attn_output.weight"), d, hp.q_dim(), &l.wo));
    if (arch.qkv_bias) {
      QE_RETURN_IF_ERROR(ld.vector(name("attn_q.bias"), hp.q_dim(), &l.bq));
      QE_RETURN_IF_ERROR(ld.vector(name("attn_k.bias"), hp.kv_dim(), &l.bk));
      QE_RETURN_IF_ERROR(ld.vector(name("attn_v.bias"), hp.kv_dim(), &l.bv));
    }
    QE_RETURN_IF_ERROR(ld.vector(name("ffn_norm.weight"), d, &l.ffn_norm));
    QE_RETURN_IF_ERROR(ld.matrix(name("ffn_gate.weight"), hp.n_ff, d, &l.w_gate));
    QE_RETURN_IF_ERROR(ld.matrix(name("ffn_up.weight"), hp.n_ff, d, &l.w_up));
    QE_RETURN_IF_ERROR(ld.matrix(name("ffn_down.weight"), d, hp.n_ff, &l.w_down));
  }

  std::vector<uint64_t> bytes_by_type(QE_TYPE_COUNT, 0);
  for (const auto& t : f.tensors()) bytes_by_type[t.type] += t.n_bytes;
  m->dominant_type_ = static_cast<qe_type>(std::max_element(bytes_by_type.begin(), bytes_by_type.end()) - bytes_by_type.begin());
  QE_RETURN_IF_ERROR(m->pack_weights(options));
  return m;
}

Status Model::pack_weights(const LoadOptions& options) {
  std::vector<Matrix*> all = {&w_.output};
  for (auto& l : w_.layers) {
    for (Matrix* x : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) all.push_back(x);
  }
  // The embedding table stays in the mapping for row lookups; a tied output gets its own copy.
  const bool tied = w_.output.data == w_.tok_embd.data;
  uint64_t total = 0, done = 0;
  for (const Matrix* x : all) total += static_cast<uint64_t>(x->rows) * x->row_bytes;
  const cpu::KernelTable& best = options.repack ? cpu::kernels() : *cpu::scalar_table();
  const long page = sysconf(_SC_PAGESIZE);
  for (Matrix* x : all) {
    x->kernels = best.mm[x->type];
    if (x->kernels.tile == 0) {
      return error(Code::kUnsupported, file_->path() + ": no CPU kernel for weight type " + qe_type_get(x->type)->name);
    }
    const size_t bytes = static_cast<size_t>(x->rows) * x->row_bytes;
    if (x->kernels.pack == cpu::scalar_table()->mm[x->type].pack) {
      x->packed = x->data;  // the kernels read the GGUF layout: use the mapping as it is
    } else {
      const size_t n = (x->kernels.packed_bytes(x->rows, x->cols) + 63) / 64 * 64;
      auto* buf = static_cast<uint8_t*>(std::aligned_alloc(64, n));
      if (buf == nullptr) return error(Code::kOutOfMemory, "out of memory repacking weights of " + file_->path());
      packed_.emplace_back(buf);
      x->kernels.pack(x->data, x->rows, x->cols, buf);
      x->packed = buf;
      // The mapped copy is not read again: drop its pages so resident memory does not double.
      if (!(tied && x == &w_.output)) {
        const auto begin = (reinterpret_cast<uintptr_t>(x->data) + page - 1) / page * page;
        const auto end = (reinterpret_cast<uintptr_t>(x->data) + bytes) / page * page;
        if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
      }
    }
    done += bytes;
    if (options.progress) options.progress(static_cast<float>(static_cast<double>(done) / static_cast<double>(total)));
  }
  if (!options.repack || all.empty()) {
    // Fault the mapped weights in now so the first token is not slowed by page faults.
    file_->advise_willneed();
  }
  return {};
}

}  // namespace qe
