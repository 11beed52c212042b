// Public tokenizer API: the GGUF vocabulary record, the Tokenizer built from it, and streaming detokenization.
//
// Behaviour follows llama.cpp's llama_tokenize / llama_detokenize for the two families GGUF files
// use for decoder LLMs: SentencePiece ("llama") and byte-level BPE ("gpt2").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qe::tok {

// GGUF tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Everything the GGUF holds about the vocabulary (tokenizer.ggml.* plus general.name).
struct VocabData {
  std::string model;  // tokenizer.ggml.model: "llama" (SentencePiece) | "gpt2" (byte-level BPE)
  std::string pre;    // tokenizer.ggml.pre ("" or "default" = llama.cpp's default regex list)
  std::vector<std::string> tokens;
  std::vector<float> scores;         // (n_vocab) or empty
  std::vector<int32_t> token_types;  // (n_vocab) TokenType values, or empty (all normal)
  std::vector<std::string> merges;   // BPE, "a b" per entry, rank = index
  int32_t bos_id = -1, eos_id = -1, eot_id = -1, eom_id = -1, unk_id = -1, pad_id = -1, sep_id = -1;
  std::optional<bool> add_bos, add_eos, add_space_prefix;  // tokenizer.ggml.add_bos_token etc.
  // general.name: llama.cpp keys a few per-model token attributes on it (Phi-3's special tokens
  // swallow the whitespace that follows them). Optional.
  std::string name;
};

class SpmModel;
class BpeModel;
class PreTokenizer;
class SpecialMatcher;

class Tokenizer {  // immutable after create; all const methods are thread-safe
 public:
  enum class Family { kSpm, kBpe };

  // nullptr and a message naming the problem on a bad vocabulary.
  static std::unique_ptr<Tokenizer> create(const VocabData& v, std::string* error);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // add_bos plays llama.cpp's add_special: BOS is prepended when the vocab has one, EOS appended
  // when the vocab's add_eos flag is set. parse_special: control/unknown token texts in `text`
  // become their ids; user-defined tokens are always split out (as llama.cpp does).
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

  // Raw bytes of one token (SPM "▁" -> space, "<0x41>" -> byte, BPE byte mapping undone).
  // Control and unknown tokens render as their text, or as "" when !render_special;
  // unused/undefined tokens render as "". Out-of-range ids render as "".
  std::string token_to_piece(int32_t id, bool render_special = true) const;

  // llama_detokenize(remove_special = skip_special, unparse_special = !skip_special): the
  // dummy-prefix space the encoder added is stripped from the first token. No
  // clean_up_tokenization_spaces pass, so decode(encode(x)) == x for valid UTF-8 x.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  int32_t n_vocab() const { return static_cast<int32_t>(text_.size()); }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  int32_t eot() const { return eot_; }
  int32_t eom() const { return eom_; }
  int32_t unk() const { return unk_; }
  int32_t pad() const { return pad_; }
  int32_t sep() const { return sep_; }
  bool add_bos_default() const { return add_bos_; }
  bool add_eos_default() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  Family family() const { return family_; }
  const std::string& pre() const { return pre_; }  // the pre-tokenizer actually used (BPE)

  // EOS, EOT, EOM and the control tokens conventionally ending a turn (<|im_end|>, <|eot_id|>,
  // <|end|>, <end_of_turn>, <|endoftext|>, ...) plus FIM pad/repo/sep, as llama.cpp lists them.
  bool is_eog(int32_t id) const;
  // Effective type after llama.cpp's fix-ups (EOG-looking texts are forced to control).
  TokenType token_type(int32_t id) const;
  bool is_control(int32_t id) const;  // control or unknown: the ones render_special hides
  const std::string& token_text(int32_t id) const;  // raw vocabulary string
  std::optional<int32_t> find_token(std::string_view piece) const;  // by raw vocabulary string
  std::span<const int32_t> eog_ids() const { return eog_; }

 private:
  struct Fragment;  // a run of raw text or one already-resolved token
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Tokenizer();
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;
  void encode_spm(std::span<const Fragment> frags, std::string_view text,
                  std::vector<int32_t>* out) const;
  void encode_bpe(std::span<const Fragment> frags, std::string_view text,
                  std::vector<int32_t>* out) const;
  bool is_special_candidate(int32_t id, bool parse_special) const;

  Family family_ = Family::kSpm;
  std::string pre_;
  std::vector<std::string> text_;   // (n_vocab) raw token strings ("[EMPTY_i]" for empty ones)
  std::vector<TokenType> type_;     // (n_vocab)
  std::vector<uint8_t> strip_;      // (n_vocab) bit 0: lstrip, bit 1: rstrip whitespace around it
  std::vector<std::string> piece_;  // (n_vocab) rendered bytes, special tokens included
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> id_of_;
  // Tokens split out of the text before the model sees it (control, user-defined, unknown),
  // longest text first: llama.cpp's partition order.
  std::vector<int32_t> special_;
  std::unique_ptr<const SpecialMatcher> matcher_;  // finds which of special_ occur in a text
  std::vector<int32_t> eog_;                       // sorted
  int32_t bos_ = -1, eos_ = -1, eot_ = -1, eom_ = -1, unk_ = -1, pad_ = -1, sep_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  std::unique_ptr<const SpmModel> spm_;
  std::unique_ptr<const BpeModel> bpe_;
  std::unique_ptr<const PreTokenizer> pretok_;
};

// Incremental detokenizer: feed ids one at a time and get back only complete UTF-8; partial
// multibyte sequences are held across calls, bytes that can never become valid are replaced by
// U+FFFD at once. flush() returns the remainder (an incomplete tail becomes U+FFFD).
// Pieces are concatenated as token_to_piece renders them (no dummy-prefix stripping).
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tok, bool render_special = true)
      : tok_(&tok), render_special_(render_special) {}
  std::string feed(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tok_;
  bool render_special_;
  std::string pending_;  // bytes of an incomplete UTF-8 sequence
};

bool is_valid_utf8(std::string_view s);

}  // namespace qe::tok
