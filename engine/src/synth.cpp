// Synthetic model writer: preset shapes, random weights quantized by the reference codecs.
#include "synth.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "format/qe_format.h"
#include "gguf.h"
#include "ref/ref.h"

namespace qe {
namespace {

constexpr std::array<SynthPreset, 8> kPresets = {{
    // name              arch     embd   layer head kv   ff     vocab   ctx    base      tied   freqs
    {"llama2-7b",        "llama", 4096,  32,   32,  32,  11008, 32000,  4096,  10000.f,  false, false},
    {"llama3-8b",        "llama", 4096,  32,   32,  8,   14336, 128256, 8192,  500000.f, false, false},
    {"tinyllama-1.1b",   "llama", 2048,  22,   32,  4,   5632,  32000,  2048,  10000.f,  false, false},
    {"smollm2-135m",     "llama", 576,   30,   9,   3,   1536,  49152,  8192,  100000.f, true,  false},
    {"qwen2.5-7b",       "qwen2", 3584,  28,   28,  4,   18944, 152064, 32768, 1e6f,     false, false},
    // Tiny models for tests: row lengths divisible by 256 so every K-quant applies.
    {"tiny-llama",       "llama", 256,   2,    4,   2,   512,   512,    512,   10000.f,  false, false},
    {"tiny-qwen2",       "qwen2", 256,   2,    4,   2,   512,   512,    512,   1e6f,     true,  false},
    {"tiny-llama3",      "llama", 256,   2,    4,   2,   512,   512,    512,   500000.f, true,  true},
}};

// splitmix64: a fast, well-mixed generator; one stream per (tensor, row) so rows can be
// generated in parallel and the output does not depend on the thread count.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() { return static_cast<float>(static_cast<double>(next() >> 40) * 0x1.0p-23 - 1.0); }
};

uint64_t hash_name(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return h;
}

// GPT-2's byte-to-unicode map: printable bytes stand for themselves, the rest are shifted
// to code points from U+0100 so every byte has a visible, non-space character.
std::string byte_token(int b) {
  static const std::array<uint32_t, 256> kMap = [] {
    std::array<uint32_t, 256> m{};
    uint32_t next = 256;
    for (int i = 0; i < 256; ++i) {
      const bool printable = (i >= 33 && i <= 126) || (i >= 161 && i <= 172) || (i >= 174 && i <= 255);
      m[static_cast<size_t>(i)] = printable ? static_cast<uint32_t>(i) : next++;
    }
    return m;
  }();
  const uint32_t cp = kMap[static_cast<size_t>(b)];
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// A byte-level BPE vocabulary: 256 byte tokens, ChatML specials, merges of lowercase letter
// pairs and of space + letter while room remains, and unused fillers up to n_vocab.
void add_vocab(gguf::Writer& w, int32_t n_vocab) {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_token(b));
    types.push_back(1);  // normal
  }
  const int32_t eos = static_cast<int32_t>(tokens.size());
  for (const char* s : {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}) {
    tokens.push_back(s);
    types.push_back(3);  // control
  }
  const std::string space = byte_token(' ');
  for (char a = 'a'; a <= 'z' && static_cast<int32_t>(tokens.size()) < n_vocab; ++a) {
    merges.push_back(space + " " + std::string(1, a));
    tokens.push_back(space + std::string(1, a));
    types.push_back(1);
  }
  for (char a = 'a'; a <= 'z'; ++a) {
    for (char b = 'a'; b <= 'z' && static_cast<int32_t>(tokens.size()) < n_vocab; ++b) {
      merges.push_back(std::string(1, a) + " " + std::string(1, b));
      tokens.push_back(std::string(1, a) + std::string(1, b));
      types.push_back(1);
    }
  }
  while (static_cast<int32_t>(tokens.size()) < n_vocab) {
    tokens.push_back("<|unused_" + std::to_string(tokens.size()) + "|>");
    types.push_back(5);  // unused
  }
  w.set("tokenizer.ggml.model", gguf::Value::str("gpt2"));
  w.set("tokenizer.ggml.pre", gguf::Value::str("default"));
  w.set("tokenizer.ggml.tokens", gguf::Value::str_array(std::move(tokens)));
  w.set("tokenizer.ggml.token_type", gguf::Value::i32_array(std::move(types)));
  w.set("tokenizer.ggml.merges", gguf::Value::str_array(std::move(merges)));
  w.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(static_cast<uint32_t>(eos)));
  w.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(static_cast<uint32_t>(eos + 2)));  // <|im_end|>
  w.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(false));
  w.set("tokenizer.chat_template",
        gguf::Value::str("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                         "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
                         "{{ '<|im_start|>assistant\\n' }}{% endif %}"));
}

Result<qe_type> parse_type(std::string_view name) {
  for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id) {
    const qe_type_info* info = qe_type_get(id);
    if (info != nullptr && name == info->name && ref::type_ops(static_cast<qe_type>(id)) != nullptr &&
        id != QE_TYPE_Q8_K && id != QE_TYPE_Q8_1) {
      return static_cast<qe_type>(id);
    }
  }
  return error(Code::kInvalidArgument, "unknown weight type '" + std::string(name) +
                                           "' (use F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K "
                                           "or Q4_K_M)");
}

// The type a matrix gets: the requested one when its block divides the row length, else a
// fallback, as llama.cpp's quantizer does for odd shapes.
qe_type fit_type(qe_type want, int64_t cols) {
  for (qe_type t : {want, QE_TYPE_Q8_0, QE_TYPE_F16}) {
    if (cols % qe_type_get(t)->block_elems == 0) return t;
  }
  return QE_TYPE_F32;
}

}  // namespace

std::span<const SynthPreset> synth_presets() { return kPresets; }

Status synth_write(const SynthOptions& opt, const std::string& path) {
  const auto* preset = std::find_if(kPresets.begin(), kPresets.end(), [&](const SynthPreset& p) { return p.name == opt.preset; });
  if (preset == kPresets.end()) {
    std::string names;
    for (const auto& p : kPresets) names += (names.empty() ? "" : ", ") + std::string(p.name);
    return error(Code::kInvalidArgument, "unknown preset '" + opt.preset + "' (choose one of: " + names + ")");
  }
  const SynthPreset& p = *preset;
  const bool mix = opt.type == "Q4_K_M";
  qe_type base = QE_TYPE_Q4_K;
  if (!mix) {
    auto t = parse_type(opt.type);
    if (!t) return t.status();
    base = *t;
  }
  if (opt.n_layer < 0) return error(Code::kInvalidArgument, "layer count must not be negative");
  const int32_t n_layer = opt.n_layer > 0 ? opt.n_layer : p.n_layer;
  const std::string arch(p.arch);
  const int32_t head_dim = p.n_embd / p.n_head;

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::str(arch));
  w.set("general.name", gguf::Value::str("synth " + std::string(p.name) + " " + opt.type));
  w.set(arch + ".context_length", gguf::Value::u32(static_cast<uint32_t>(p.n_ctx)));
  w.set(arch + ".embedding_length", gguf::Value::u32(static_cast<uint32_t>(p.n_embd)));
  w.set(arch + ".block_count", gguf::Value::u32(static_cast<uint32_t>(n_layer)));
  w.set(arch + ".feed_forward_length", gguf::Value::u32(static_cast<uint32_t>(p.n_ff)));
  w.set(arch + ".attention.head_count", gguf::Value::u32(static_cast<uint32_t>(p.n_head)));
  w.set(arch + ".attention.head_count_kv", gguf::Value::u32(static_cast<uint32_t>(p.n_head_kv)));
  w.set(arch + ".rope.freq_base", gguf::Value::f32(p.rope_base));
  w.set(arch + ".rope.dimension_count", gguf::Value::u32(static_cast<uint32_t>(head_dim)));
  w.set(arch + ".attention.layer_norm_rms_epsilon", gguf::Value::f32(1e-5f));
  w.set(arch + ".vocab_size", gguf::Value::u32(static_cast<uint32_t>(p.n_vocab)));
  add_vocab(w, p.n_vocab);

  // Every tensor is generated lazily, row by row, from its own RNG stream.
  const uint64_t seed = opt.seed;
  auto total = std::make_shared<std::atomic<uint64_t>>(0);
  uint64_t grand_total = 0;
  auto add_matrix = [&](const std::string& name, int64_t rows, int64_t cols, qe_type want) -> Status {
    const qe_type t = fit_type(want, cols);
    const size_t row_bytes = qe_row_bytes(t, cols);
    grand_total += static_cast<uint64_t>(rows) * row_bytes;
    // Uniform weights with variance 1/cols keep activations of order one through the layers.
    const float amp = std::sqrt(3.0f / static_cast<float>(cols));
    const uint64_t stream = hash_name(name) ^ (seed * 0x9E3779B97F4A7C15ull);
    ProgressFn progress = opt.progress;
    const uint64_t* grand = &grand_total;
    return w.add_tensor_lazy(name, t, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)},
                             [=](uint8_t* dst, uint64_t) {
#pragma omp parallel
                               {
                                 std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
                                 for (int64_t r = 0; r < rows; ++r) {
                                   Rng rng{stream + static_cast<uint64_t>(r) * 0xD1B54A32D192ED03ull};
                                   for (auto& x : row) x = amp * rng.uniform();
                                   ref::quantize_row(t, row.data(), dst + static_cast<size_t>(r) * row_bytes, cols);
                                 }
                               }
                               const uint64_t done = total->fetch_add(static_cast<uint64_t>(rows) * row_bytes) +
                                                     static_cast<uint64_t>(rows) * row_bytes;
                               if (progress) progress(static_cast<float>(static_cast<double>(done) / static_cast<double>(*grand)));
                             });
  };
  auto add_vector = [&](const std::string& name, int64_t n, float center, float spread) -> Status {
    Rng rng{hash_name(name) ^ seed};
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = center + spread * rng.uniform();
    return w.add_tensor(name, QE_TYPE_F32, {static_cast<uint64_t>(n)},
                        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)));
  };

  const int64_t d = p.n_embd, qd = static_cast<int64_t>(p.n_head) * head_dim,
                kvd = static_cast<int64_t>(p.n_head_kv) * head_dim;
  // Q4_K_M-like mix: embeddings Q4_K, output Q6_K, attn_v and ffn_down Q6_K in every other layer.
  QE_RETURN_IF_ERROR(add_matrix("token_embd.weight", p.n_vocab, d, base));
  QE_RETURN_IF_ERROR(add_vector("output_norm.weight", d, 1.0f, 0.1f));
  if (!p.tied) QE_RETURN_IF_ERROR(add_matrix("output.weight", p.n_vocab, d, mix ? QE_TYPE_Q6_K : base));
  if (p.rope_freqs) {
    // Llama 3.1's scaling divides the low frequencies by up to 8, keeps the high ones.
    std::vector<float> f(static_cast<size_t>(head_dim / 2));
    for (size_t i = 0; i < f.size(); ++i) f[i] = 1.0f + 7.0f * static_cast<float>(i) / static_cast<float>(f.size() - 1);
    QE_RETURN_IF_ERROR(w.add_tensor("rope_freqs.weight", QE_TYPE_F32, {f.size()},
                                    std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(f.data()), f.size() * sizeof(float))));
  }
  for (int32_t l = 0; l < n_layer; ++l) {
    auto n = [l](const char* s) { return models::layer_tensor(l, s); };
    const qe_type heavy = mix && l % 2 == 0 ? QE_TYPE_Q6_K : base;
    QE_RETURN_IF_ERROR(add_vector(n("attn_norm.weight"), d, 1.0f, 0.1f));
    QE_RETURN_IF_ERROR(add_matrix(n("attn_q.weight"), qd, d, base));
    QE_RETURN_IF_ERROR(add_matrix(n("attn_k.weight"), kvd, d, base));
    QE_RETURN_IF_ERROR(add_matrix(n("attn_v.weight"), kvd, d, heavy));
    QE_RETURN_IF_ERROR(add_matrix(n("attn_output.weight"), d, qd, base));
    if (p.arch == "qwen2") {
      QE_RETURN_IF_ERROR(add_vector(n("attn_q.bias"), qd, 0.0f, 0.1f));
      QE_RETURN_IF_ERROR(add_vector(n("attn_k.bias"), kvd, 0.0f, 0.1f));
      QE_RETURN_IF_ERROR(add_vector(n("attn_v.bias"), kvd, 0.0f, 0.1f));
    }
    QE_RETURN_IF_ERROR(add_vector(n("ffn_norm.weight"), d, 1.0f, 0.1f));
    QE_RETURN_IF_ERROR(add_matrix(n("ffn_gate.weight"), p.n_ff, d, base));
    QE_RETURN_IF_ERROR(add_matrix(n("ffn_up.weight"), p.n_ff, d, base));
    QE_RETURN_IF_ERROR(add_matrix(n("ffn_down.weight"), d, p.n_ff, heavy));
  }
  return w.write(path);
}

}  // namespace qe
