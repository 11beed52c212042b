// SentencePiece BPE model for "llama" vocabularies, run by libsentencepiece on a ModelProto
// built from the GGUF pieces (no .model file, no protobuf library).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace qe::tok {

class SpmModel {
 public:
  // tokens/scores/types: (n_vocab) each; scores may be empty (all 0).
  static std::unique_ptr<SpmModel> create(std::span<const std::string> tokens,
                                          std::span<const float> scores, int32_t unk_id,
                                          std::string* error);
  ~SpmModel();

  // Appends the ids of `text`: well-formed UTF-8 (the processor's normalizer would turn bad
  // bytes into U+FFFD), already given its dummy prefix and with spaces escaped to U+2581
  // (llama.cpp does both outside the model).
  void encode(std::string_view text, std::vector<int32_t>* out) const;

 private:
  SpmModel();

  void encode_segment(std::string_view text, std::vector<int32_t>* out) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  // Sorted (code point a << 32 | code point b) for every "ab" adjacent inside some mergeable
  // piece. A boundary between a and b outside this set can never be merged across, so long
  // inputs are cut there and encoded piecewise with identical results (and cache-sized merge
  // heaps: one 1 MB sequence is several times slower in libsentencepiece).
  std::vector<uint64_t> adjacent_;
  int32_t n_vocab_ = 0;
  int32_t unk_id_ = -1;         // vocabulary's unknown token (-1 if none)
  int32_t synthetic_unk_ = -1;  // the UNKNOWN piece appended so the proto always has one
};

}  // namespace qe::tok
