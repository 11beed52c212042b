// Byte-level BPE pre-tokenizer: the regex list chosen by tokenizer.ggml.pre, run with PCRE2.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace qe::tok {

class PreTokenizer {
 public:
  // Unknown `pre` falls back to llama.cpp's default list (with a one-time stderr warning);
  // nullptr + *error only when a regex fails to compile (a bug in the table).
  static std::unique_ptr<PreTokenizer> create(std::string_view pre, std::string* error);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits valid UTF-8 `text` into words (views into text, in order, covering it exactly).
  // Regexes are applied in sequence; each one runs inside every piece left by the previous ones
  // (a piece's end is its end of subject) and the unmatched gaps between matches stay pieces.
  void split(std::string_view text, std::vector<std::string_view>* words) const;

  const std::string& name() const { return name_; }  // canonical config name actually used
  bool ignore_merges() const { return ignore_merges_; }  // llama3: whole-word vocab hits skip BPE
  bool add_bos() const { return add_bos_; }              // default add_bos for this pre type

 private:
  struct Regex;
  PreTokenizer();
  std::string name_;
  bool ignore_merges_ = false;
  bool add_bos_ = false;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace qe::tok
