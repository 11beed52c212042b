// Reads a GGUF file's tokenizer.ggml.* metadata into the tokenizer box's VocabData.
#include "vocab.h"

#include <cstdio>
#include <limits>

namespace qe {

namespace {

Status bad(const gguf::File& f, std::string_view key, const std::string& what) {
  return error(Code::kBadFormat, f.path() + ": " + std::string(key) + " " + what);
}

// A special-token id: absent -> -1; -1 and 0xFFFFFFFF (uint32 -1) are the converters' "unset".
// `lenient`: an out-of-range value is dropped with a warning instead of failing the load.
// Fine-tunes often declare a padding token they never added to the vocabulary (pad = n_vocab);
// llama.cpp loads those, and a wrong pad/sep id cannot change what the model generates.
Status read_id(const gguf::File& f, std::string_view key, size_t n_vocab, bool lenient, int32_t* out) {
  auto v = f.get_int(key);
  if (!v) return v.status();
  *out = -1;
  if (!v->has_value()) return Status::ok();
  const int64_t id = **v;
  if (id == -1 || id == static_cast<int64_t>(std::numeric_limits<uint32_t>::max())) return Status::ok();
  if (id < 0 || id >= static_cast<int64_t>(n_vocab)) {
    if (lenient) {
      std::fprintf(stderr, "qengine: warning: %s: %s = %lld is outside the vocabulary of %zu tokens; ignored\n",
                   f.path().c_str(), std::string(key).c_str(), static_cast<long long>(id), n_vocab);
      return Status::ok();
    }
    return bad(f, key, "= " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n_vocab) +
                           " tokens");
  }
  *out = static_cast<int32_t>(id);
  return Status::ok();
}

Status read_flag(const gguf::File& f, std::string_view key, std::optional<bool>* out) {
  auto v = f.get_bool(key);
  if (!v) return v.status();
  *out = *v;
  return Status::ok();
}

}  // namespace

Result<tok::VocabData> load_vocab(const gguf::File& f) {
  tok::VocabData v;

  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return model.status();
  if (!model->has_value()) return bad(f, "tokenizer.ggml.model", "is missing: the file carries no vocabulary");
  v.model = **model;
  if (v.model != "llama" && v.model != "gpt2") {
    return error(Code::kUnsupported, f.path() + ": tokenizer.ggml.model '" + v.model +
                                         "' is not supported (supported: 'llama' = SentencePiece, 'gpt2' = "
                                         "byte-level BPE)");
  }

  auto pre = f.get_string("tokenizer.ggml.pre");
  if (!pre) return pre.status();
  v.pre = pre->value_or("");

  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return tokens.status();
  if (!tokens->has_value()) return bad(f, "tokenizer.ggml.tokens", "is missing");
  v.tokens = std::move(**tokens);
  const size_t n = v.tokens.size();
  if (n == 0) return bad(f, "tokenizer.ggml.tokens", "is empty");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max() - 1)) {
    return bad(f, "tokenizer.ggml.tokens", "has " + std::to_string(n) + " entries, more than token ids can address");
  }
  auto length_error = [&](std::string_view key, size_t got) {
    return bad(f, key, "has " + std::to_string(got) + " entries but tokenizer.ggml.tokens has " + std::to_string(n));
  };

  auto scores = f.get_float_array("tokenizer.ggml.scores");
  if (!scores) return scores.status();
  if (scores->has_value()) {
    if ((*scores)->size() != n) return length_error("tokenizer.ggml.scores", (*scores)->size());
    v.scores.assign((*scores)->begin(), (*scores)->end());  // stored as float32; exact
  }

  auto types = f.get_int_array("tokenizer.ggml.token_type");
  if (!types) return types.status();
  if (types->has_value()) {
    if ((*types)->size() != n) return length_error("tokenizer.ggml.token_type", (*types)->size());
    v.token_types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (**types)[i];
      if (t < std::numeric_limits<int32_t>::min() || t > std::numeric_limits<int32_t>::max()) {
        return bad(f, "tokenizer.ggml.token_type", "[" + std::to_string(i) + "] = " + std::to_string(t) +
                                                     " is not a token type");
      }
      v.token_types.push_back(static_cast<int32_t>(t));
    }
  }

  auto merges = f.get_string_array("tokenizer.ggml.merges");
  if (!merges) return merges.status();
  if (merges->has_value()) v.merges = std::move(**merges);
  if (v.model == "gpt2" && !merges->has_value()) {
    return bad(f, "tokenizer.ggml.merges", "is missing: a 'gpt2' (byte-level BPE) vocabulary needs its merges");
  }

  struct IdKey {
    const char* key;
    bool lenient;
    int32_t* dst;
  };
  const IdKey ids[] = {
      {"tokenizer.ggml.bos_token_id", false, &v.bos_id},
      {"tokenizer.ggml.eos_token_id", false, &v.eos_id},
      {"tokenizer.ggml.eot_token_id", false, &v.eot_id},
      {"tokenizer.ggml.eom_token_id", false, &v.eom_id},
      {"tokenizer.ggml.unknown_token_id", false, &v.unk_id},
      {"tokenizer.ggml.padding_token_id", true, &v.pad_id},
      {"tokenizer.ggml.seperator_token_id", true, &v.sep_id},  // sic: the GGUF key is misspelled
  };
  for (const IdKey& k : ids) QE_RETURN_IF_ERROR(read_id(f, k.key, n, k.lenient, k.dst));

  QE_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_bos_token", &v.add_bos));
  QE_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_eos_token", &v.add_eos));
  QE_RETURN_IF_ERROR(read_flag(f, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix));

  // Only used to pick per-model token attributes; a malformed name is not worth failing over.
  if (auto name = f.get_string("general.name"); name && name->has_value()) v.name = **name;
  return v;
}

}  // namespace qe
