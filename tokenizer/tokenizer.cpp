// Tokenizer: vocabulary tables, special-token handling, encode/decode for both families, and
// the streaming UTF-8 detokenizer.
//
// The split of work mirrors llama.cpp's llama_vocab: special tokens are cut out of the text
// first (tokenizer_st_partition), then each remaining text fragment goes through the family's
// model; detokenization concatenates per-token pieces.
#include "tokenizer.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "bpe.h"
#include "pretokenizer.h"
#include "spm.h"
#include "unicode.h"

namespace qe::tok {

namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space
constexpr uint8_t kLStrip = 1, kRStrip = 2;

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "<0xAB>" -> 0xAB, read the lenient way llama.cpp does (the two characters after "<0x").
int byte_of_piece(std::string_view t) {
  if (t.size() < 5) return -1;
  const int hi = hex_value(t[3]), lo = hex_value(t[4]);
  if (hi < 0) return -1;
  return lo < 0 ? hi : hi * 16 + lo;
}

// Undo the GPT-2 byte-level mapping. Code points outside the 256-symbol alphabet (some vocabs
// carry raw UTF-8 in added tokens) pass through unchanged.
std::string decode_byte_level(std::string_view t) {
  std::string out;
  out.reserve(t.size());
  size_t i = 0;
  while (i < t.size()) {
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(t, i, &cp, &len) == Utf8Status::kOk) {
      const int b = unicode_to_byte(cp);
      if (b >= 0) out.push_back(static_cast<char>(b));
      else out.append(t.substr(i, len));
    } else {
      out.append(t.substr(i, len));
    }
    i += len;
  }
  return out;
}

// Token texts llama.cpp recognizes (load_vocab's "auto-detect special tokens by text").
#define QE_FULLWIDTH_BAR "\xEF\xBD\x9C"  // U+FF5C, DeepSeek's special-token bracket
#define QE_SPM_SPACE "\xE2\x96\x81"      // U+2581
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "[EOT]",
    "<" QE_FULLWIDTH_BAR "end" QE_SPM_SPACE "of" QE_SPM_SPACE "sentence" QE_FULLWIDTH_BAR ">",
    "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {
    "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
    "<" QE_FULLWIDTH_BAR "fim" QE_SPM_SPACE "begin" QE_FULLWIDTH_BAR ">", "<PRE>",
    QE_SPM_SPACE "<PRE>", "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {
    "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
    "<" QE_FULLWIDTH_BAR "fim" QE_SPM_SPACE "hole" QE_FULLWIDTH_BAR ">", "<SUF>",
    QE_SPM_SPACE "<SUF>", "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {
    "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
    "<" QE_FULLWIDTH_BAR "fim" QE_SPM_SPACE "end" QE_FULLWIDTH_BAR ">", "<MID>",
    QE_SPM_SPACE "<MID>", "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<" QE_FULLWIDTH_BAR "end" QE_SPM_SPACE "of" QE_SPM_SPACE "sentence" QE_FULLWIDTH_BAR ">",
    "[e~["};
#undef QE_FULLWIDTH_BAR
#undef QE_SPM_SPACE
// gpt-oss formatting tokens llama.cpp always renders.
constexpr std::string_view kAlwaysRenderTexts[] = {"<|channel|>", "<|message|>", "<|start|>",
                                                   "<|constrain|>"};

}  // namespace

// Byte trie over the special-token texts: one pass over the input tells which of them occur,
// so the ordered splitting below only loops over tokens actually present (vocabularies with
// thousands of added tokens would otherwise cost thousands of passes over the text).
class SpecialMatcher {
 public:
  SpecialMatcher() : nodes_(1) { root_.fill(-1); }

  void add(std::string_view s, int32_t rank) {
    int32_t node = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto b = static_cast<uint8_t>(s[i]);
      int32_t child = node == 0 ? root_[b] : find_child(node, b);
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        if (node == 0) root_[b] = child;
        else nodes_[node].kids.emplace_back(b, child);
      }
      node = child;
    }
    nodes_[node].ranks.push_back(rank);
  }

  // Appends the ranks of all special texts occurring anywhere in `text` (with repeats).
  void find_all(std::string_view text, std::vector<int32_t>* ranks) const {
    const auto* p = reinterpret_cast<const uint8_t*>(text.data());
    for (size_t i = 0; i < text.size(); ++i) {
      int32_t node = root_[p[i]];
      for (size_t j = i; node >= 0;) {
        const Node& nd = nodes_[node];
        ranks->insert(ranks->end(), nd.ranks.begin(), nd.ranks.end());
        if (++j >= text.size()) break;
        node = find_child(node, p[j]);
      }
    }
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> kids;  // (byte, child); fan-out is small below root
    std::vector<int32_t> ranks;                      // texts ending here (duplicates possible)
  };
  int32_t find_child(int32_t node, uint8_t b) const {
    for (const auto& [kb, child] : nodes_[node].kids)
      if (kb == b) return child;
    return -1;
  }
  std::array<int32_t, 256> root_;
  std::vector<Node> nodes_;
};

struct Tokenizer::Fragment {
  int32_t id;    // token id, or -1 for raw text
  size_t begin;  // raw text: byte range in the input
  size_t len;
};

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::create(const VocabData& v, std::string* error) {
  auto fail = [&](std::string msg) -> std::unique_ptr<Tokenizer> {
    if (error) *error = std::move(msg);
    return nullptr;
  };
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  if (v.model == "llama") {
    t->family_ = Family::kSpm;
  } else if (v.model == "gpt2") {
    t->family_ = Family::kBpe;
  } else {
    return fail("unsupported tokenizer.ggml.model '" + v.model +
                "' (supported: 'llama' = SentencePiece, 'gpt2' = byte-level BPE)");
  }
  const size_t n = v.tokens.size();
  if (n == 0) return fail("tokenizer.ggml.tokens is empty");
  if (n > static_cast<size_t>(INT32_MAX) - 1) return fail("tokenizer.ggml.tokens is too large");
  if (!v.scores.empty() && v.scores.size() != n) {
    return fail("tokenizer.ggml.scores has " + std::to_string(v.scores.size()) +
                " entries but tokenizer.ggml.tokens has " + std::to_string(n));
  }
  if (!v.token_types.empty() && v.token_types.size() != n) {
    return fail("tokenizer.ggml.token_type has " + std::to_string(v.token_types.size()) +
                " entries but tokenizer.ggml.tokens has " + std::to_string(n));
  }

  // --- token tables ---
  t->text_.resize(n);
  t->type_.assign(n, TokenType::kNormal);
  t->strip_.assign(n, 0);
  t->id_of_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    // llama.cpp renames empty tokens so they can never match text.
    t->text_[i] = v.tokens[i].empty() ? "[EMPTY_" + std::to_string(i) + "]" : v.tokens[i];
    t->id_of_[t->text_[i]] = static_cast<int32_t>(i);  // last duplicate wins, as in llama.cpp
    if (!v.token_types.empty()) {
      const int32_t ty = v.token_types[i];
      t->type_[i] = ty >= 0 && ty <= 6 ? static_cast<TokenType>(ty) : TokenType::kUndefined;
    }
  }

  // --- special ids and flags (llama.cpp defaults, then the GGUF values) ---
  const auto n32 = static_cast<int32_t>(n);
  struct IdField {
    const char* key;
    int32_t value;
    int32_t* dst;
  };
  const IdField ids[] = {
      {"tokenizer.ggml.bos_token_id", v.bos_id, &t->bos_},
      {"tokenizer.ggml.eos_token_id", v.eos_id, &t->eos_},
      {"tokenizer.ggml.eot_token_id", v.eot_id, &t->eot_},
      {"tokenizer.ggml.eom_token_id", v.eom_id, &t->eom_},
      {"tokenizer.ggml.unknown_token_id", v.unk_id, &t->unk_},
      {"tokenizer.ggml.padding_token_id", v.pad_id, &t->pad_},
      {"tokenizer.ggml.seperator_token_id", v.sep_id, &t->sep_},
  };
  for (const IdField& f : ids) {
    if (f.value < -1 || f.value >= n32) {
      return fail(std::string(f.key) + " = " + std::to_string(f.value) +
                  " is out of range (vocabulary has " + std::to_string(n) + " tokens)");
    }
    *f.dst = f.value;
  }
  if (t->family_ == Family::kSpm) {
    // SentencePiece conventions when the file does not say: <unk>=0, <s>=1, </s>=2.
    if (v.unk_id < 0 && n > 0) t->unk_ = 0;
    if (v.bos_id < 0 && n > 1) t->bos_ = 1;
    if (v.eos_id < 0 && n > 2) t->eos_ = 2;
    t->add_bos_ = v.add_bos.value_or(true);
    t->add_eos_ = v.add_eos.value_or(false);
    t->add_space_prefix_ = v.add_space_prefix.value_or(true);
    t->pre_ = "default";
  } else {
    std::string err;
    t->pretok_ = PreTokenizer::create(v.pre, &err);
    if (!t->pretok_) return fail(err);
    t->pre_ = t->pretok_->name();
    t->add_bos_ = v.add_bos.value_or(t->pretok_->add_bos());
    t->add_eos_ = v.add_eos.value_or(false);
    t->add_space_prefix_ = v.add_space_prefix.value_or(false);
  }

  // --- end-of-generation set and llama.cpp's type fix-ups by token text ---
  auto find_first = [&](std::span<const std::string_view> texts) -> int32_t {
    for (std::string_view s : texts)
      if (auto id = t->find_token(s)) return *id;
    return -1;
  };
  auto force_control = [&](int32_t id) {
    if (id >= 0) t->type_[id] = TokenType::kControl;
  };
  if (t->eot_ < 0) {
    t->eot_ = find_first(kEotTexts);
    force_control(t->eot_);
  }
  if (t->eom_ < 0) {
    t->eom_ = find_first(kEomTexts);
    force_control(t->eom_);
  }
  for (auto texts : {std::span<const std::string_view>(kFimPreTexts),
                     std::span<const std::string_view>(kFimSufTexts),
                     std::span<const std::string_view>(kFimMidTexts)}) {
    force_control(find_first(texts));
  }
  std::vector<int32_t> eog;
  for (auto texts : {std::span<const std::string_view>(kFimPadTexts),
                     std::span<const std::string_view>(kFimRepTexts),
                     std::span<const std::string_view>(kFimSepTexts)}) {
    const int32_t id = find_first(texts);
    force_control(id);
    if (id >= 0) eog.push_back(id);
  }
  for (std::string_view s : kEogTexts) {
    if (auto id = t->find_token(s)) {
      eog.push_back(*id);
      force_control(*id);
    }
  }
  for (std::string_view s : kAlwaysRenderTexts)
    if (auto id = t->find_token(s)) t->type_[*id] = TokenType::kUserDefined;
  for (int32_t id : {t->eos_, t->eot_, t->eom_})
    if (id >= 0) eog.push_back(id);
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  auto eog_id = [&](std::string_view text) {
    auto id = t->find_token(text);
    return id && std::binary_search(eog.begin(), eog.end(), *id) ? *id : -1;
  };
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  if (const int32_t end_id = eog_id("<|end|>"); end_id >= 0) {
    const bool call = eog_id("<|call|>") >= 0 || eog_id("<|calls|>") >= 0;
    if ((eog_id("<|return|>") >= 0 && call) || (call && eog_id("<|flush|>") >= 0)) {
      eog.erase(std::find(eog.begin(), eog.end(), end_id));
      t->type_[end_id] = TokenType::kUserDefined;
    }
  }
  // Gemma 4 / PLaMo: "</s>" is an ordinary token there.
  if (const int32_t s_id = eog_id("</s>"); s_id >= 0) {
    if (eog_id("<|tool_response>") >= 0 || eog_id("<|plamo:eos|>") >= 0) {
      eog.erase(std::find(eog.begin(), eog.end(), s_id));
      t->type_[s_id] = TokenType::kNormal;
    }
  }
  t->eog_ = std::move(eog);

  // --- tokens split out before the model runs, longest text first ---
  for (int32_t id = 0; id < n32; ++id) {
    const TokenType ty = t->type_[id];
    if (ty == TokenType::kControl || ty == TokenType::kUserDefined || ty == TokenType::kUnknown)
      t->special_.push_back(id);
  }
  std::stable_sort(t->special_.begin(), t->special_.end(), [&](int32_t a, int32_t b) {
    return t->text_[a].size() > t->text_[b].size();
  });
  auto matcher = std::make_unique<SpecialMatcher>();
  for (size_t r = 0; r < t->special_.size(); ++r)
    matcher->add(t->text_[t->special_[r]], static_cast<int32_t>(r));
  t->matcher_ = std::move(matcher);

  // Whitespace-swallowing attributes llama.cpp assigns by model name / pre-tokenizer.
  std::string lname = v.name;
  for (char& c : lname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v.pre.find("jina-v2-de") != std::string::npos || v.pre.find("jina-v2-es") != std::string::npos ||
      v.pre.find("jina-v2-code") != std::string::npos) {
    if (auto id = t->find_token("<mask>")) t->strip_[*id] |= kLStrip;
  } else if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
    for (int32_t id : t->special_) t->strip_[id] |= kRStrip;
    if (auto id = t->find_token("</s>")) t->strip_[*id] |= kRStrip;
    for (std::string_view s : {"<unk>", "<s>", "<|endoftext|>"})
      if (auto id = t->find_token(s)) t->strip_[*id] &= static_cast<uint8_t>(~kRStrip);
  }

  // --- rendered pieces ---
  t->piece_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& txt = t->text_[i];
    switch (t->type_[i]) {
      case TokenType::kControl:
      case TokenType::kUnknown:
      case TokenType::kUserDefined:
        t->piece_[i] = txt;
        break;
      case TokenType::kNormal:
        t->piece_[i] = t->family_ == Family::kSpm ? replace_all(txt, kSpmSpace, " ")
                                                  : decode_byte_level(txt);
        break;
      case TokenType::kByte:
        if (t->family_ == Family::kSpm) {
          const int b = byte_of_piece(txt);
          if (b >= 0) t->piece_[i] = std::string(1, static_cast<char>(b));
        }
        break;
      default:  // unused / undefined render as nothing, like llama.cpp
        break;
    }
  }

  // --- the family model ---
  std::string err;
  if (t->family_ == Family::kSpm) {
    t->spm_ = SpmModel::create(t->text_, v.scores, t->unk_, &err);
    if (!t->spm_) return fail(err);
  } else {
    t->bpe_ = BpeModel::create(t->text_, v.merges, t->pretok_->ignore_merges(), &err);
    if (!t->bpe_) return fail(err);
  }
  return t;
}

bool Tokenizer::is_special_candidate(int32_t id, bool parse_special) const {
  // User-defined tokens are always cut out (llama.cpp follows HF added-token handling here);
  // control and unknown ones only when the caller asks for special parsing.
  return type_[id] == TokenType::kUserDefined || parse_special;
}

void Tokenizer::partition(std::string_view text, bool parse_special,
                          std::vector<Fragment>* out) const {
  out->clear();
  if (text.empty()) return;
  out->push_back({-1, 0, text.size()});
  if (special_.empty()) return;

  std::vector<int32_t> ranks;
  matcher_->find_all(text, &ranks);
  if (ranks.empty()) return;
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());

  // llama.cpp order: each special token in turn (longest first) splits every raw fragment
  // at all of its non-overlapping occurrences. Not the same as a left-to-right longest match.
  std::vector<Fragment> next;
  for (int32_t rank : ranks) {
    const int32_t id = special_[rank];
    if (!is_special_candidate(id, parse_special)) continue;
    const std::string_view tok = text_[id];
    next.clear();
    for (const Fragment& f : *out) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.begin;
      const size_t end = f.begin + f.len;
      while (off < end) {
        const size_t m = text.substr(0, end).find(tok, off);
        if (m == std::string_view::npos) break;
        size_t left_end = m;
        if (strip_[id] & kLStrip)
          while (left_end > off && is_ascii_space(text[left_end - 1])) --left_end;
        if (left_end > off) next.push_back({-1, off, left_end - off});
        next.push_back({id, 0, 0});
        off = m + tok.size();
        if (strip_[id] & kRStrip)
          while (off < end && is_ascii_space(text[off])) ++off;
      }
      if (off < end) next.push_back({-1, off, end - off});
    }
    out->swap(next);
  }
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  std::vector<Fragment> frags;
  partition(text, parse_special, &frags);
  if (family_ == Family::kSpm) encode_spm(frags, text, &out);
  else encode_bpe(frags, text, &out);
  if (add_bos && add_eos_ && eos_ >= 0) out.push_back(eos_);
  return out;
}

void Tokenizer::encode_spm(std::span<const Fragment> frags, std::string_view text,
                           std::vector<int32_t>* out) const {
  // Bytes the processor cannot take as they are (it would turn them into U+FFFD): llama.cpp
  // gives them to its merge loop as one symbol per lead-byte length, which never merges and
  // comes out as the symbol's token or its byte tokens.
  auto byte_token = [&](uint8_t b) -> int32_t {
    static constexpr char kHex[] = "0123456789ABCDEF";
    const char piece[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    if (auto id = find_token(std::string_view(piece, 6))) return *id;
    if (auto id = find_token(std::string_view(reinterpret_cast<const char*>(&b), 1))) return *id;
    return unk_;
  };
  bool prev_special = true;  // the first fragment gets the dummy prefix too
  std::string buf;
  for (const Fragment& f : frags) {
    if (f.id >= 0) {
      out->push_back(f.id);
      prev_special = true;
      continue;
    }
    buf.clear();
    if (add_space_prefix_ && prev_special) buf.push_back(' ');
    buf.append(text.substr(f.begin, f.len));
    const std::string s = replace_all(buf, " ", kSpmSpace);
    prev_special = false;

    size_t run = 0, i = 0;
    while (i < s.size()) {
      const auto lead = static_cast<uint8_t>(s[i]);
      if (lead < 0x80) {
        ++i;
        continue;
      }
      const size_t n = std::min(s.size() - i, static_cast<size_t>(utf8_len_from_lead(lead)));
      uint32_t cp = 0;
      size_t len = 0;
      if (decode_utf8(s, i, &cp, &len) == Utf8Status::kOk && len == n) {
        i += n;
        continue;
      }
      spm_->encode(std::string_view(s).substr(run, i - run), out);
      const std::string_view sym = std::string_view(s).substr(i, n);
      if (auto id = find_token(sym)) {
        out->push_back(*id);
      } else {
        for (char c : sym) {
          const int32_t id2 = byte_token(static_cast<uint8_t>(c));
          if (id2 >= 0) out->push_back(id2);
        }
      }
      i += n;
      run = i;
    }
    spm_->encode(std::string_view(s).substr(run), out);
  }
}

void Tokenizer::encode_bpe(std::span<const Fragment> frags, std::string_view text,
                           std::vector<int32_t>* out) const {
  BpeModel::Scratch scratch;
  std::vector<std::string_view> words;
  std::string mapped;
  for (const Fragment& f : frags) {
    if (f.id >= 0) {
      out->push_back(f.id);
      continue;
    }
    // llama.cpp decodes the text to code points (bad bytes -> U+FFFD) before splitting.
    const std::string clean = sanitize_utf8_lenient(text.substr(f.begin, f.len));
    pretok_->split(clean, &words);
    for (std::string_view w : words) {
      mapped.clear();
      for (char c : w) mapped.append(byte_to_unicode(static_cast<uint8_t>(c)));
      bpe_->encode_word(mapped, &scratch, out);
    }
  }
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  if (id < 0 || id >= n_vocab()) return {};
  if (!render_special && is_control(id)) return {};
  return piece_[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  bool remove_space = add_space_prefix_;
  if (skip_special && add_bos_ && !ids.empty() && ids.front() == bos_) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (skip_special && add_eos_ && !ids.empty() && ids.back() == eos_) ids = ids.first(ids.size() - 1);
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab() || (skip_special && is_control(id))) {
      remove_space = false;
      continue;
    }
    std::string_view p = piece_[id];
    if (remove_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);
    remove_space = false;
    out.append(p);
  }
  return out;
}

bool Tokenizer::is_eog(int32_t id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

TokenType Tokenizer::token_type(int32_t id) const {
  return id >= 0 && id < n_vocab() ? type_[id] : TokenType::kUndefined;
}

bool Tokenizer::is_control(int32_t id) const {
  const TokenType ty = token_type(id);
  return ty == TokenType::kControl || ty == TokenType::kUnknown;
}

const std::string& Tokenizer::token_text(int32_t id) const {
  static const std::string kEmpty;
  return id >= 0 && id < n_vocab() ? text_[id] : kEmpty;
}

std::optional<int32_t> Tokenizer::find_token(std::string_view piece) const {
  auto it = id_of_.find(piece);
  if (it == id_of_.end()) return std::nullopt;
  return it->second;
}

// --- StreamDecoder ---

std::string StreamDecoder::feed(int32_t id) {
  pending_ += tok_->token_to_piece(id, render_special_);
  std::string out;
  size_t i = 0;
  while (i < pending_.size()) {
    uint32_t cp = 0;
    size_t len = 0;
    const Utf8Status st = decode_utf8(pending_, i, &cp, &len);
    if (st == Utf8Status::kTruncated) break;  // may complete with the next token
    if (st == Utf8Status::kOk) out.append(pending_, i, len);
    else append_utf8(&out, kReplacementChar);
    i += len;
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = replace_invalid_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace qe::tok
