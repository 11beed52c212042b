// Byte-level BPE merge model: ranked merges applied to one pre-tokenized word at a time.
//
// Same result as llama.cpp's llm_tokenizer_bpe_session: start from UTF-8 characters, repeatedly
// merge the adjacent pair with the lowest merge rank (leftmost on ties), emit each final symbol
// as its token id, or as single-byte tokens when the symbol is not in the vocabulary. Pairs are
// keyed by symbol ids instead of strings so a merge costs one hash lookup.
#include "bpe.h"

#include <algorithm>

#include "unicode.h"

namespace qe::tok {

namespace {

using Symbol = BpeModel::Scratch::Symbol;
using Bigram = BpeModel::Scratch::Bigram;

struct BigramOrder {  // priority_queue top = lowest rank, then leftmost
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

uint64_t pair_key(int32_t l, int32_t r) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(l)) << 32) | static_cast<uint32_t>(r);
}

}  // namespace

BpeModel::~BpeModel() = default;

std::unique_ptr<BpeModel> BpeModel::create(std::span<const std::string> tokens,
                                           std::span<const std::string> merges, bool ignore_merges,
                                           std::string* error) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  m->n_vocab_ = static_cast<int32_t>(tokens.size());
  m->ignore_merges_ = ignore_merges;
  m->sym_.reserve(tokens.size() + merges.size() / 8);
  for (size_t i = 0; i < tokens.size(); ++i) m->sym_[tokens[i]] = static_cast<int32_t>(i);

  // Merge halves that are not tokens get ids past the vocabulary so every pair has a key.
  int32_t next_aux = m->n_vocab_;
  auto intern_aux = [&](std::string_view s) {
    auto it = m->sym_.find(s);
    if (it != m->sym_.end()) return it->second;
    m->sym_.emplace(std::string(s), next_aux);
    return next_aux++;
  };

  m->ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& mg = merges[i];
    // The separator is the first space after position 0, so a left half may itself be " ".
    const size_t sp = mg.size() > 1 ? mg.find(' ', 1) : std::string::npos;
    if (sp == std::string::npos) continue;
    const int32_t l = intern_aux(std::string_view(mg).substr(0, sp));
    const int32_t r = intern_aux(std::string_view(mg).substr(sp + 1));
    m->ranks_.emplace(pair_key(l, r), static_cast<int32_t>(i));  // first rank wins on duplicates
  }
  (void)error;  // nothing to reject yet: malformed merge lines are skipped, as llama.cpp does
  return m;
}

int32_t BpeModel::symbol_id(std::string_view s) const {
  auto it = sym_.find(s);
  return it == sym_.end() ? -1 : it->second;
}

int32_t BpeModel::rank(int32_t l, int32_t r) const {
  if (l < 0 || r < 0) return -1;
  auto it = ranks_.find(pair_key(l, r));
  return it == ranks_.end() ? -1 : it->second;
}

void BpeModel::encode_word(std::string_view word, Scratch* sc, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const int32_t id = symbol_id(word);
    if (id >= 0 && id < n_vocab_) {
      out->push_back(id);
      return;
    }
  }

  auto& syms = sc->symbols;
  syms.clear();
  for (size_t off = 0; off < word.size();) {
    const size_t n = std::min(word.size() - off,
                              static_cast<size_t>(utf8_len_from_lead(static_cast<uint8_t>(word[off]))));
    Symbol s;
    s.begin = static_cast<uint32_t>(off);
    s.len = static_cast<uint32_t>(n);
    s.id = symbol_id(word.substr(off, n));
    s.prev = static_cast<int32_t>(syms.size()) - 1;
    off += n;
    s.next = off == word.size() ? -1 : static_cast<int32_t>(syms.size()) + 1;
    syms.push_back(s);
  }

  auto& heap = sc->heap;  // a binary heap under BigramOrder: front = next merge
  heap.clear();
  auto try_pair = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t rk = rank(syms[l].id, syms[r].id);
    if (rk < 0) return;
    heap.push_back(Bigram{rk, l, r, syms[l].len + syms[r].len});
    std::push_heap(heap.begin(), heap.end(), BigramOrder{});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_pair(i - 1, i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramOrder{});
    const Bigram bg = heap.back();
    heap.pop_back();
    Symbol& l = syms[bg.left];
    Symbol& r = syms[bg.right];
    // Stale: one side was merged away, or grew since the pair was queued.
    if (l.len == 0 || r.len == 0 || l.len + r.len != bg.size) continue;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = bg.left;
    l.id = symbol_id(word.substr(l.begin, l.len));
    try_pair(l.prev, bg.left);
    try_pair(bg.left, l.next);
  }

  for (int32_t i = 0; i != -1 && i < static_cast<int32_t>(syms.size()); i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.id >= 0 && s.id < n_vocab_) {
      out->push_back(s.id);
      continue;
    }
    // Not a token: llama.cpp emits whichever single bytes of the symbol are tokens.
    for (uint32_t k = 0; k < s.len; ++k) {
      const int32_t b = symbol_id(word.substr(s.begin + k, 1));
      if (b >= 0 && b < n_vocab_) out->push_back(b);
    }
  }
}

}  // namespace qe::tok
