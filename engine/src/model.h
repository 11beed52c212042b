// A loaded model: hyper-parameters, zero-copy weight views into the GGUF mapping, tokenizer.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch.h"
#include "cpu/cpu_kernels.h"
#include "format/qe_format.h"
#include "gguf.h"
#include "status.h"
#include "tokenizer.h"

namespace qe {

struct HParams {
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;
  int32_t n_embd = 0;     // model width
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;  // < n_head for grouped-query attention
  int32_t head_dim = 0;   // n_embd / n_head unless the file says otherwise
  int32_t n_ff = 0;       // feed-forward width
  int32_t n_rot = 0;      // rotary dimensions per head (<= head_dim)
  float rope_base = 10000.0f;
  float rms_eps = 1e-5f;

  int32_t q_dim() const { return n_head * head_dim; }
  int32_t kv_dim() const { return n_head_kv * head_dim; }
};

// A 2-D weight matrix: `rows` rows of `cols` elements in `type`, row stride row_bytes.
struct Matrix {
  qe_type type = QE_TYPE_F32;
  const uint8_t* data = nullptr;  // (rows, cols) in the GGUF mapping
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
  // What the matmul kernels read: `data` itself when the kernels use the GGUF layout, else a
  // copy repacked at load into the kernels' layout (owned by the Model).
  const uint8_t* packed = nullptr;
  cpu::MatmulKernels kernels;
};

struct LayerWeights {
  std::vector<float> attn_norm;  // (n_embd)
  Matrix wq;                     // (q_dim, n_embd)
  Matrix wk;                     // (kv_dim, n_embd)
  Matrix wv;                     // (kv_dim, n_embd)
  Matrix wo;                     // (n_embd, q_dim)
  std::vector<float> bq, bk, bv; // (q_dim), (kv_dim), (kv_dim); empty without QKV bias
  std::vector<float> ffn_norm;   // (n_embd)
  Matrix w_gate;                 // (n_ff, n_embd)
  Matrix w_up;                   // (n_ff, n_embd)
  Matrix w_down;                 // (n_embd, n_ff)
};

struct ModelWeights {
  Matrix tok_embd;                // (n_vocab, n_embd)
  std::vector<float> output_norm; // (n_embd)
  Matrix output;                  // (n_vocab, n_embd); aliases tok_embd when tied
  std::vector<float> rope_freqs;  // (n_rot/2) frequency divisors; empty when absent
  std::vector<LayerWeights> layers;
};

// Called with the fraction of the load done, in [0, 1].
using ProgressFn = std::function<void(float)>;

struct LoadOptions {
  ProgressFn progress;
  // Repack every matrix into the layout of the best CPU kernels (and release the mapped
  // pages it came from); false keeps the GGUF layout in the mapping and uses the scalar kernels.
  bool repack = true;
};

class Model {
 public:
  // Opens `path`, validates the architecture, every hyper-parameter and every tensor shape,
  // and builds the tokenizer. Errors name the file and the offending key or tensor.
  static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options = {});

  const models::ArchDesc& arch() const { return *arch_; }
  const HParams& hparams() const { return hp_; }
  const ModelWeights& weights() const { return w_; }
  const tok::Tokenizer& tokenizer() const { return *tokenizer_; }
  const gguf::File& file() const { return *file_; }
  const std::string& chat_template() const { return chat_template_; }  // empty when absent
  std::string name() const;
  uint64_t n_params() const { return n_params_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  qe_type dominant_type() const { return dominant_type_; }  // the type holding most weight bytes

 private:
  Model() = default;
  std::unique_ptr<gguf::File> file_;
  const models::ArchDesc* arch_ = nullptr;
  HParams hp_;
  ModelWeights w_;
  std::unique_ptr<tok::Tokenizer> tokenizer_;
  std::string chat_template_;
  uint64_t n_params_ = 0;
  uint64_t weight_bytes_ = 0;
  qe_type dominant_type_ = QE_TYPE_F32;
  struct FreeDeleter {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> packed_;  // repacked weight copies
  Status pack_weights(const LoadOptions& options);
};

}  // namespace qe
