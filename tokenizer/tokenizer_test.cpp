// Unit tests of the tokenizer box on small hand-built vocabularies: merge order, byte fallback,
// special tokens, pre-tokenizer splits, streaming UTF-8 and decode(encode(x)) round trips.
#include "tokenizer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <thread>

#include "pretokenizer.h"
#include "unicode.h"

namespace qe::tok {
namespace {

using Ids = std::vector<int32_t>;

// --- vocabulary builders ------------------------------------------------------------------------

// SentencePiece vocab laid out like Llama's: <unk>, <s>, </s>, the 256 byte tokens, then the
// given normal pieces (first one gets id kSpmFirst).
constexpr int32_t kSpmFirst = 259;

int32_t byte_id(uint8_t b) { return 3 + b; }

struct SpmBuilder {
  VocabData v;
  SpmBuilder() {
    v.model = "llama";
    add("<unk>", 0, TokenType::kUnknown);
    add("<s>", 0, TokenType::kControl);
    add("</s>", 0, TokenType::kControl);
    char buf[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
      add(buf, 0, TokenType::kByte);
    }
    v.unk_id = 0;
    v.bos_id = 1;
    v.eos_id = 2;
  }
  int32_t add(std::string piece, float score, TokenType type = TokenType::kNormal) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.token_types.push_back(static_cast<int32_t>(type));
    return static_cast<int32_t>(v.tokens.size()) - 1;
  }
  std::unique_ptr<Tokenizer> build() const {
    std::string err;
    auto t = Tokenizer::create(v, &err);
    EXPECT_NE(t, nullptr) << err;
    return t;
  }
};

// Byte-level BPE vocab whose first 256 tokens are the single bytes, so id == byte value.
struct BpeBuilder {
  VocabData v;
  explicit BpeBuilder(std::string pre = "gpt-2") {
    v.model = "gpt2";
    v.pre = std::move(pre);
    for (int b = 0; b < 256; ++b) v.tokens.emplace_back(byte_to_unicode(static_cast<uint8_t>(b)));
  }
  // `text` is raw bytes; stored in the byte-level alphabet.
  int32_t add(std::string_view text, TokenType type = TokenType::kNormal) {
    std::string mapped;
    if (type == TokenType::kNormal) {
      for (char c : text) mapped += byte_to_unicode(static_cast<uint8_t>(c));
    } else {
      mapped = text;  // added tokens are stored as plain text
    }
    v.tokens.push_back(mapped);
    if (type != TokenType::kNormal || !v.token_types.empty()) {
      v.token_types.resize(v.tokens.size() - 1, static_cast<int32_t>(TokenType::kNormal));
      v.token_types.push_back(static_cast<int32_t>(type));
    }
    return static_cast<int32_t>(v.tokens.size()) - 1;
  }
  void merge(std::string_view a, std::string_view b) {
    std::string m;
    for (char c : a) m += byte_to_unicode(static_cast<uint8_t>(c));
    m += ' ';
    for (char c : b) m += byte_to_unicode(static_cast<uint8_t>(c));
    v.merges.push_back(m);
  }
  std::unique_ptr<Tokenizer> build() {
    if (!v.token_types.empty()) v.token_types.resize(v.tokens.size(), 1);
    std::string err;
    auto t = Tokenizer::create(v, &err);
    EXPECT_NE(t, nullptr) << err;
    return t;
  }
};

// Random valid UTF-8 drawn from ASCII (spaces, tabs, newlines over-weighted), Latin-1,
// Cyrillic, CJK, combining marks, emoji and a few Unicode spaces.
std::string random_utf8(std::mt19937& rng, size_t n_chars, bool allow_spm_space_symbol) {
  static constexpr std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E},       {0x20, 0x20},       {0x09, 0x0A},   {0xA0, 0xFF},
      {0x400, 0x4FF},     {0x300, 0x36F},     {0x4E00, 0x9FFF}, {0x1F300, 0x1FAFF},
      {0x2000, 0x200A},   {0x3000, 0x3000},   {0x0E00, 0x0E7F}, {0x10000, 0x10FFFF},
  };
  std::uniform_int_distribution<size_t> pick(0, std::size(kRanges) - 1);
  std::string s;
  while (n_chars > 0) {
    const auto [lo, hi] = kRanges[pick(rng)];
    const uint32_t cp = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    if (!allow_spm_space_symbol && cp == 0x2581) continue;
    append_utf8(&s, cp);
    --n_chars;
  }
  return s;
}

// --- SentencePiece ------------------------------------------------------------------------------

TEST(SpmTokenizer, HigherScoreMergesFirst) {
  for (bool ab_first : {true, false}) {
    SpmBuilder b;
    b.v.add_space_prefix = false;
    const int32_t a = b.add("a", -1), bb = b.add("b", -1), c = b.add("c", -1);
    const int32_t ab = b.add("ab", ab_first ? -2.0f : -3.0f);
    const int32_t bc = b.add("bc", ab_first ? -3.0f : -2.0f);
    auto t = b.build();
    EXPECT_EQ(t->encode("abc", false, false), ab_first ? (Ids{ab, c}) : (Ids{a, bc}));
    EXPECT_EQ(t->encode("b", false, false), Ids{bb});
  }
}

TEST(SpmTokenizer, EqualScoresMergeLeftmostFirst) {
  SpmBuilder b;
  b.v.add_space_prefix = false;
  const int32_t a = b.add("a", -1), aa = b.add("aa", -2);
  auto t = b.build();
  EXPECT_EQ(t->encode("aaa", false, false), (Ids{aa, a}));
}

TEST(SpmTokenizer, DummyPrefixAndSpaces) {
  SpmBuilder b;
  const int32_t sp = b.add("\xE2\x96\x81", -1), sp2 = b.add("\xE2\x96\x81\xE2\x96\x81", -2);
  const int32_t h = b.add("h", -1), i = b.add("i", -1), hi = b.add("\xE2\x96\x81hi", -3);
  b.add("\xE2\x96\x81h", -4);
  auto t = b.build();
  EXPECT_TRUE(t->add_space_prefix());
  EXPECT_EQ(t->encode("", false, false), Ids{});
  EXPECT_EQ(t->encode("hi", false, false), Ids{hi});
  EXPECT_EQ(t->encode(" ", false, false), Ids{sp2});      // "▁▁": spaces are kept, not collapsed
  EXPECT_EQ(t->encode("  hi", false, false), (Ids{sp2, hi}));
  EXPECT_EQ(t->encode("hi ", false, false), (Ids{hi, sp}));
  EXPECT_EQ(t->encode("\n", false, false), (Ids{sp, byte_id('\n')}));
  EXPECT_EQ(t->decode(t->encode("  hi", false, false)), "  hi");
  EXPECT_EQ(t->decode(Ids{hi, hi}), "hi hi");  // the first token's dummy space is dropped
  EXPECT_EQ(t->token_to_piece(hi), " hi");
  (void)h;
  (void)i;

  SpmBuilder nb;
  nb.v.add_space_prefix = false;
  const int32_t nh = nb.add("h", -1), ni = nb.add("i", -1);
  auto nt = nb.build();
  EXPECT_EQ(nt->encode("hi", false, false), (Ids{nh, ni}));
  EXPECT_EQ(nt->decode(Ids{nh, ni}), "hi");
}

TEST(SpmTokenizer, ByteFallbackAndInvalidUtf8) {
  SpmBuilder b;
  b.v.add_space_prefix = false;
  const int32_t a = b.add("a", -1);
  auto t = b.build();
  // "é" has no piece: its UTF-8 bytes come out as byte tokens.
  EXPECT_EQ(t->encode("a\xC3\xA9", false, false), (Ids{a, byte_id(0xC3), byte_id(0xA9)}));
  // Ill-formed bytes become byte tokens too (never U+FFFD) and decode restores them. As in
  // llama.cpp a symbol spans as many bytes as its lead byte announces, so a broken lead byte
  // swallows the bytes after it even when they are ASCII.
  EXPECT_EQ(t->encode("a\xFF", false, false), (Ids{a, byte_id(0xFF)}));
  EXPECT_EQ(t->encode("\xE2\x82" "aa", false, false), (Ids{byte_id(0xE2), byte_id(0x82), byte_id('a'), a}));
  const std::string bad = "a\xFF" "a\xE2\x82" "a\xC3";
  EXPECT_EQ(t->decode(t->encode(bad, false, false)), bad);
  // A literal U+FFFD is an ordinary character (here without a piece of its own).
  EXPECT_EQ(t->encode("\xEF\xBF\xBD", false, false), (Ids{byte_id(0xEF), byte_id(0xBF), byte_id(0xBD)}));
  EXPECT_EQ(t->token_to_piece(byte_id(0x41)), "A");
}

TEST(SpmTokenizer, MergesMayFormControlTokensLikeLlamaCpp) {
  // llama.cpp looks merge candidates up in its full vocabulary, so plain text "<s>" can merge
  // into the control token when the intermediate pieces exist.
  SpmBuilder b;
  b.v.add_space_prefix = false;
  b.add("<", -1);
  b.add("s", -1);
  b.add(">", -1);
  b.add("<s", -2);
  auto t = b.build();
  EXPECT_EQ(t->encode("<s>", false, false), Ids{1});
  EXPECT_EQ(t->decode(Ids{1}, /*skip_special=*/false), "<s>");
  EXPECT_EQ(t->decode(Ids{1}, /*skip_special=*/true), "");
}

TEST(SpmTokenizer, BosEosAndFlags) {
  SpmBuilder b;
  const int32_t sp = b.add("\xE2\x96\x81", -1);
  const int32_t x = b.add("x", -1);
  b.v.add_eos = true;
  auto t = b.build();
  EXPECT_TRUE(t->add_bos_default());
  EXPECT_TRUE(t->add_eos_default());
  EXPECT_EQ(t->encode("x", true, false), (Ids{1, sp, x, 2}));
  EXPECT_EQ(t->encode("", true, false), (Ids{1, 2}));
  EXPECT_EQ(t->encode("x", false, false), (Ids{sp, x}));
  // skip_special drops the BOS/EOS the encoder added; the dummy space then stays, as in
  // llama_detokenize(remove_special = true).
  EXPECT_EQ(t->decode(Ids{1, sp, x, 2}, true), " x");
  EXPECT_EQ(t->decode(Ids{1, sp, x, 2}, false), "<s> x</s>");
  EXPECT_TRUE(t->is_eog(2));
  EXPECT_FALSE(t->is_eog(1));
}

TEST(SpmTokenizer, SpecialAndUserDefinedTokens) {
  SpmBuilder b;
  const int32_t sp = b.add("\xE2\x96\x81", -1);
  const int32_t x = b.add("x", -1), y = b.add("y", -1);
  const int32_t start = b.add("<|im_start|>", 0, TokenType::kControl);
  const int32_t tool = b.add("<tool>", 0, TokenType::kUserDefined);
  auto t = b.build();

  // Control tokens are parsed only on request; after a special token the next text fragment
  // gets the dummy prefix again.
  EXPECT_EQ(t->encode("<|im_start|>x", false, true), (Ids{start, sp, x}));
  const Ids plain = t->encode("<|im_start|>x", false, false);
  EXPECT_EQ(std::find(plain.begin(), plain.end(), start), plain.end());
  EXPECT_EQ(t->decode(plain), "<|im_start|>x");
  // User-defined tokens are always split out (llama.cpp does so even with parse_special off).
  EXPECT_EQ(t->encode("x<tool>y", false, false), (Ids{sp, x, tool, sp, y}));
  EXPECT_EQ(t->decode(Ids{sp, x, tool, sp, y}), "x<tool> y");
  EXPECT_EQ(t->token_to_piece(tool, false), "<tool>");  // user-defined always renders
  EXPECT_EQ(t->token_to_piece(start, false), "");
  EXPECT_EQ(t->token_to_piece(start, true), "<|im_start|>");
  EXPECT_EQ(t->find_token("<tool>"), tool);
  EXPECT_FALSE(t->find_token("<nope>").has_value());
}

TEST(SpmTokenizer, Phi3SpecialTokensSwallowFollowingWhitespace) {
  SpmBuilder b;
  b.v.name = "Phi-3 mini";
  const int32_t sp = b.add("\xE2\x96\x81", -1);
  const int32_t x = b.add("x", -1);
  const int32_t user = b.add("<|user|>", 0, TokenType::kControl);
  auto t = b.build();
  EXPECT_EQ(t->encode("<|user|>\n x", false, true), (Ids{user, sp, x}));
  b.v.name = "other";
  auto t2 = b.build();
  EXPECT_EQ(t2->encode("<|user|>\nx", false, true), (Ids{user, sp, byte_id('\n'), x}));
}

// --- byte-level BPE -----------------------------------------------------------------------------

TEST(BpeTokenizer, LowerRankMergesFirst) {
  for (bool ab_first : {true, false}) {
    BpeBuilder b;
    const int32_t ab = b.add("ab"), bc = b.add("bc");
    if (ab_first) {
      b.merge("a", "b");
      b.merge("b", "c");
    } else {
      b.merge("b", "c");
      b.merge("a", "b");
    }
    auto t = b.build();
    EXPECT_EQ(t->encode("abc", false, false), ab_first ? (Ids{ab, 'c'}) : (Ids{'a', bc}));
  }
}

TEST(BpeTokenizer, MergeChainsAndLeftmostTies) {
  BpeBuilder b;
  const int32_t aa = b.add("aa"), aaaa = b.add("aaaa"), sp_w = b.add(" w");
  b.merge("a", "a");
  b.merge("aa", "aa");
  b.merge(" ", "w");
  auto t = b.build();
  EXPECT_EQ(t->encode("aaa", false, false), (Ids{aa, 'a'}));
  EXPECT_EQ(t->encode("aaaaa", false, false), (Ids{aaaa, 'a'}));
  // The gpt2 regex keeps the space with the following word: " w" merges, "w" alone does not.
  EXPECT_EQ(t->encode("aa w", false, false), (Ids{aa, sp_w}));
  EXPECT_EQ(t->decode(Ids{aa, sp_w}), "aa w");
  EXPECT_EQ(t->token_to_piece(sp_w), " w");
}

TEST(BpeTokenizer, BytesAndInvalidUtf8) {
  BpeBuilder b;
  auto t = b.build();
  EXPECT_EQ(t->encode("\xC3\xA9", false, false), (Ids{0xC3, 0xA9}));
  // llama.cpp decodes BPE input to code points first: a stray byte becomes U+FFFD.
  EXPECT_EQ(t->encode("\xFF", false, false), (Ids{0xEF, 0xBF, 0xBD}));
  EXPECT_EQ(t->decode(Ids{0xC3, 0xA9}), "\xC3\xA9");
  EXPECT_FALSE(t->add_bos_default());
  EXPECT_FALSE(t->add_space_prefix());
}

TEST(BpeTokenizer, AddedTokens) {
  BpeBuilder b;
  const int32_t eot = b.add("<|endoftext|>", TokenType::kControl);
  const int32_t im_end = b.add("<|im_end|>");  // typed normal: llama.cpp forces control + EOG
  const int32_t user = b.add("<user>", TokenType::kUserDefined);
  b.v.eos_id = eot;
  auto t = b.build();
  EXPECT_EQ(t->token_type(im_end), TokenType::kControl);
  EXPECT_TRUE(t->is_eog(eot));
  EXPECT_TRUE(t->is_eog(im_end));
  EXPECT_FALSE(t->is_eog(user));
  EXPECT_EQ(t->eot(), im_end);
  EXPECT_EQ(t->encode("a<|endoftext|>", false, true), (Ids{'a', eot}));
  EXPECT_EQ(t->encode("a<|endoftext|>", false, false).size(), 14u);  // spelled out byte by byte
  EXPECT_EQ(t->encode("a<user>b", false, false), (Ids{'a', user, 'b'}));
  EXPECT_EQ(t->decode(Ids{'a', eot, 'b'}, false), "a<|endoftext|>b");
  EXPECT_EQ(t->decode(Ids{'a', eot, 'b'}, true), "ab");
}

TEST(BpeTokenizer, SpecialTokensSplitLongestFirst) {
  // llama.cpp's order: each special token, longest text first, splits all raw text. That is
  // not a left-to-right longest match: in "abcd" the longer "bcd" wins over "ab".
  BpeBuilder b;
  const int32_t ab = b.add("ab", TokenType::kControl), bcd = b.add("bcd", TokenType::kControl);
  const int32_t xy = b.add("<x>", TokenType::kControl), xyz = b.add("<x><y>", TokenType::kControl);
  auto t = b.build();
  EXPECT_EQ(t->encode("abcd", false, true), (Ids{'a', bcd}));
  EXPECT_EQ(t->encode("abab", false, true), (Ids{ab, ab}));
  EXPECT_EQ(t->encode("<x><y><x>", false, true), (Ids{xyz, xy}));
}

TEST(BpeTokenizer, Llama3IgnoresMergesForWholeWordTokens) {
  // With ignore_merges a pre-tokenized word that is itself a token is emitted directly, even
  // when no merge chain would reach it.
  for (const char* pre : {"llama-bpe", "gpt-2"}) {
    BpeBuilder b(pre);
    const int32_t abc = b.add("abc");
    auto t = b.build();
    const Ids ids = t->encode("abc", false, false);
    if (std::string(pre) == "llama-bpe") {
      EXPECT_EQ(ids, Ids{abc});
      EXPECT_TRUE(t->add_bos_default());
    } else {
      EXPECT_EQ(ids, (Ids{'a', 'b', 'c'}));
    }
  }
}

// --- pre-tokenizer regexes ----------------------------------------------------------------------

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  std::string err;
  auto p = PreTokenizer::create(pre, &err);
  EXPECT_NE(p, nullptr) << err;
  std::vector<std::string_view> words;
  p->split(text, &words);
  return {words.begin(), words.end()};
}

using Words = std::vector<std::string>;

TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world's  end"), (Words{"Hello", " world", "'s", " ", " end"}));
  EXPECT_EQ(split("gpt-2", "a 123!!"), (Words{"a", " 123", "!!"}));
  // U+0085 is whitespace for llama.cpp (Unicode White_Space), unlike PCRE2's own \s.
  EXPECT_EQ(split("gpt-2", "a\xC2\x85\xC2\x85" "b"), (Words{"a", "\xC2\x85", "\xC2\x85", "b"}));
}

TEST(PreTokenizer, DigitSplittingFamilies) {
  EXPECT_EQ(split("starcoder", "ab 123"), (Words{"ab", " ", "1", "2", "3"}));
  EXPECT_EQ(split("smollm", "x12"), (Words{"x", "1", "2"}));
  EXPECT_EQ(split("llama-bpe", "12345 abc"), (Words{"123", "45", " abc"}));
  EXPECT_EQ(split("llama-bpe", "I'M ok"), (Words{"I", "'M", " ok"}));
  EXPECT_EQ(split("qwen2", "123"), (Words{"1", "2", "3"}));
  EXPECT_EQ(split("llama-bpe", "a\n\n b"), (Words{"a", "\n\n", " b"}));
}

TEST(PreTokenizer, EveryKnownNameCompilesAndUnknownFallsBack) {
  for (const char* pre : {"default", "llama3", "dbrx", "smaug-bpe", "deepseek-llm", "deepseek-coder",
                          "deepseek-v3", "falcon", "mpt", "starcoder", "refact", "command-r", "qwen2",
                          "stablelm2", "olmo", "poro-chat", "chatglm-bpe", "viking", "tekken", "smollm",
                          "chameleon", "gpt-4o", "bailingmoe", "seed-coder", "qwen35", "jais-2"}) {
    std::string err;
    auto p = PreTokenizer::create(pre, &err);
    ASSERT_NE(p, nullptr) << pre << ": " << err;
    EXPECT_EQ(p->name(), pre);
    std::vector<std::string_view> words;
    const std::string text = "Hello, World! 12345 \xE4\xBD\xA0\xE5\xA5\xBD  \n\n\ty'all";
    p->split(text, &words);
    std::string joined;
    for (auto w : words) joined += w;
    EXPECT_EQ(joined, text) << pre;  // the words always cover the text exactly
  }
  std::string err;
  auto p = PreTokenizer::create("no-such-pre", &err);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name(), "default");
}

// --- streaming UTF-8 ----------------------------------------------------------------------------

TEST(StreamDecoder, HoldsSplitSequencesAndReplacesInvalidBytes) {
  BpeBuilder b;
  const int32_t f0_9f = b.add("\xF0\x9F"), x98_80 = b.add("\x98\x80");
  auto t = b.build();
  StreamDecoder d(*t);
  EXPECT_EQ(d.feed(0xE2), "");
  EXPECT_EQ(d.feed(0x82), "");
  EXPECT_EQ(d.feed(0xAC), "\xE2\x82\xAC");  // €
  EXPECT_EQ(d.feed(f0_9f), "");
  EXPECT_EQ(d.feed(x98_80), "\xF0\x9F\x98\x80");  // 😀 from two 2-byte tokens
  EXPECT_EQ(d.feed(0xFF), "\xEF\xBF\xBD");        // can never start a sequence
  EXPECT_EQ(d.feed(0xE2), "");
  EXPECT_EQ(d.feed('a'), "\xEF\xBF\xBD" "a");     // lead byte cut short
  EXPECT_EQ(d.feed(0xF0), "");
  EXPECT_EQ(d.feed(0x9F), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");           // incomplete tail at the end
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.feed('z'), "z");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("abc \xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\x80"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));
}

// --- round trips and robustness -----------------------------------------------------------------

TEST(RoundTrip, RandomUtf8BothFamilies) {
  SpmBuilder sb;
  sb.add("\xE2\x96\x81", -1);
  sb.add("a", -2);
  sb.add("\xE2\x96\x81" "a", -3);
  sb.add("\xE4\xBD\xA0", -4);
  auto spm = sb.build();
  BpeBuilder bb;
  bb.add(" a");
  bb.merge(" ", "a");
  auto bpe = bb.build();

  std::mt19937 rng(1234);
  for (int i = 0; i < 300; ++i) {
    const size_t n = std::uniform_int_distribution<size_t>(0, 40)(rng);
    // SPM cannot round-trip a literal U+2581: it is its space symbol (llama.cpp likewise).
    const std::string s = random_utf8(rng, n, false);
    EXPECT_EQ(spm->decode(spm->encode(s, false, false)), s) << "spm #" << i;
    const std::string s2 = random_utf8(rng, n, true);
    EXPECT_EQ(bpe->decode(bpe->encode(s2, false, false)), s2) << "bpe #" << i;
  }
}

TEST(RoundTrip, ConcurrentEncodeIsDeterministic) {
  BpeBuilder bb;
  bb.add("ab");
  bb.merge("a", "b");
  auto t = bb.build();
  std::mt19937 rng(7);
  const std::string text = random_utf8(rng, 5000, true);
  const Ids want = t->encode(text, false, false);
  std::vector<Ids> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&, i] { got[i] = t->encode(text, false, false); });
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, want);
}

// --- bad vocabularies ---------------------------------------------------------------------------

TEST(TokenizerCreate, RejectsBadVocabularies) {
  auto error_of = [](const VocabData& v) {
    std::string err;
    auto t = Tokenizer::create(v, &err);
    EXPECT_EQ(t, nullptr);
    return err;
  };
  SpmBuilder b;
  b.add("a", -1);
  VocabData v = b.v;
  v.model = "bert";
  EXPECT_NE(error_of(v).find("'bert'"), std::string::npos);
  v = b.v;
  v.scores.pop_back();
  EXPECT_NE(error_of(v).find("tokenizer.ggml.scores"), std::string::npos);
  v = b.v;
  v.token_types.push_back(1);
  EXPECT_NE(error_of(v).find("tokenizer.ggml.token_type"), std::string::npos);
  v = b.v;
  v.bos_id = static_cast<int32_t>(v.tokens.size());
  EXPECT_NE(error_of(v).find("bos_token_id"), std::string::npos);
  v = b.v;
  v.tokens.clear();
  v.scores.clear();
  v.token_types.clear();
  EXPECT_NE(error_of(v).find("empty"), std::string::npos);
}

TEST(TokenizerCreate, ToleratesOddButLegalVocabularies) {
  // Duplicate and empty strings, several UNKNOWN tokens and no byte tokens all load
  // (llama.cpp accepts them; the last duplicate owns the string).
  VocabData v;
  v.model = "llama";
  v.tokens = {"<unk>", "<s>", "</s>", "a", "", "a", "[PAD]", "\xE2\x96\x81"};
  v.token_types = {2, 3, 3, 1, 1, 1, 2, 1};
  auto t = Tokenizer::create(v, nullptr);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->find_token("a"), 5);
  EXPECT_EQ(t->token_text(4), "[EMPTY_4]");
  EXPECT_EQ(t->encode("a", false, false), (Ids{7, 5}));
  EXPECT_EQ(t->encode("b", false, false), (Ids{7, 0}));  // no piece, no byte tokens: <unk>
}

}  // namespace
}  // namespace qe::tok
