// Byte-level BPE merge model: ranked merges applied to one pre-tokenized word at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qe::tok {

class BpeModel {
 public:
  // Working buffers reused across the words of one encode call.
  struct Scratch {
    struct Symbol {
      uint32_t begin = 0;  // byte offset into the word
      uint32_t len = 0;    // 0 once merged into its left neighbour
      int32_t id = -1;     // symbol id of word[begin, begin + len), -1 if none
      int32_t prev = -1, next = -1;
    };
    struct Bigram {
      int32_t rank;
      int32_t left, right;
      uint32_t size;  // left.len + right.len when queued; a mismatch later means it is stale
    };
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;  // binary heap, front = next merge
  };

  // tokens: (n_vocab) raw vocabulary strings (already in the byte-level alphabet).
  // merges: "left right" per entry, rank = index. Bad entries are skipped, not fatal.
  static std::unique_ptr<BpeModel> create(std::span<const std::string> tokens,
                                          std::span<const std::string> merges,
                                          bool ignore_merges, std::string* error);
  ~BpeModel();

  // Appends the ids of `word`, a pre-tokenized word already mapped to the byte-level alphabet.
  void encode_word(std::string_view word, Scratch* scratch, std::vector<int32_t>* out) const;

  size_t n_merges() const { return ranks_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  BpeModel() = default;
  // Symbol string -> id: vocabulary ids first (last duplicate wins, like llama.cpp's map),
  // then ids >= n_vocab for merge halves that are not tokens themselves.
  int32_t symbol_id(std::string_view s) const;
  int32_t rank(int32_t left_id, int32_t right_id) const;

  int32_t n_vocab_ = 0;
  bool ignore_merges_ = false;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> sym_;
  std::unordered_map<uint64_t, int32_t> ranks_;  // (left_id << 32 | right_id) -> rank
};

}  // namespace qe::tok
