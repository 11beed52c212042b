// llama.cpp's tokenizer test vectors for every ggml-vocab-*.gguf under $QE_TESTDATA/tokenizers,
// SmolLM2's real vocabulary, and load_vocab's handling of GGUF metadata (engine side).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

#include "gguf.h"
#include "tokenizer.h"
#include "unicode.h"
#include "vocab.h"
#include "test_env.h"

namespace qe::tok {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;

// $QE_TESTDATA, else the build's default (../shared/testdata beside the checkout).
fs::path testdata_dir() { return qe::test::testdata_dir(); }

fs::path tokenizers_dir() { return testdata_dir() / "tokenizers"; }

std::vector<std::string> vocab_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(tokenizers_dir(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("ggml-vocab-") && name.ends_with(".gguf")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Loads a vocabulary through the engine's GGUF reader; nullptr + *why when it cannot be used.
std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path, std::string* why) {
  auto file = gguf::File::open(path.string());
  if (!file) {
    *why = file.status().message();
    return nullptr;
  }
  auto vocab = load_vocab(**file);
  if (!vocab) {
    *why = vocab.status().message();
    return nullptr;
  }
  auto t = Tokenizer::create(vocab.value(), why);
  return t;
}

// .inp: each test string followed by "\n__ggml_vocab_test__\n" (so a string's own trailing
// newlines are kept, and an empty string is just the separator).
std::vector<std::string> read_inputs(const std::string& inp) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) break;
    out.push_back(inp.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  return out;
}

// .out: one line of space-separated ids per string (an empty line for no tokens).
std::vector<Ids> read_outputs(const std::string& text) {
  std::vector<Ids> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ls(line);
    Ids ids;
    int32_t id = 0;
    while (ls >> id) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

// decode(encode(x)) == x is possible when every byte has a token: byte-level BPE always, a
// SentencePiece vocabulary when it has all 256 <0xXX> byte tokens.
bool can_spell_every_byte(const Tokenizer& t) {
  if (t.family() == Tokenizer::Family::kBpe) return true;
  char buf[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    if (!t.find_token(buf)) return false;
  }
  return true;
}

TEST(VocabVectors, DataPresent) {
  if (vocab_files().empty()) {
    GTEST_SKIP() << "no ggml-vocab-*.gguf in " << tokenizers_dir() << " (set QE_TESTDATA)";
  }
}

class VocabVectors : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabVectors, MatchLlamaCppIds) {
  const fs::path gguf_path = tokenizers_dir() / GetParam();
  const fs::path inp_path = gguf_path.string() + ".inp", out_path = gguf_path.string() + ".out";
  if (!fs::exists(inp_path) || !fs::exists(out_path)) {
    GTEST_SKIP() << "missing " << inp_path << " or " << out_path;
  }
  std::string why;
  auto t = load_tokenizer(gguf_path, &why);
  if (t == nullptr && why.find("not supported") != std::string::npos) {
    GTEST_SKIP() << GetParam() << ": " << why;  // e.g. a WordPiece vocabulary
  }
  ASSERT_NE(t, nullptr) << why;

  const std::vector<std::string> inputs = read_inputs(slurp(inp_path));
  const std::vector<Ids> expected = read_outputs(slurp(out_path));
  ASSERT_FALSE(inputs.empty());
  ASSERT_EQ(inputs.size(), expected.size()) << "the .inp and .out files disagree on the number of cases";
  const bool round_trip = can_spell_every_byte(*t);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Ids got = t->encode(inputs[i], /*add_bos=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, expected[i]) << "case " << i << ": [" << inputs[i] << "]";
    if (round_trip) {
      EXPECT_EQ(t->decode(got), inputs[i]) << "case " << i;
    }
  }
}

TEST_P(VocabVectors, RandomTextRoundTrips) {
  std::string why;
  auto t = load_tokenizer(tokenizers_dir() / GetParam(), &why);
  if (t == nullptr) GTEST_SKIP() << why;
  if (!can_spell_every_byte(*t)) GTEST_SKIP() << GetParam() << " cannot spell every byte";
  std::mt19937 rng(99);
  static constexpr std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E}, {0x20, 0x20}, {0x09, 0x0D}, {0xA0, 0x2FF}, {0x370, 0x52F}, {0x600, 0x6FF},
      {0x3040, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3}, {0x1F300, 0x1FAFF}, {0x2000, 0x206F}};
  for (int i = 0; i < 100; ++i) {
    std::string s;
    const int n = std::uniform_int_distribution<int>(0, 60)(rng);
    for (int k = 0; k < n; ++k) {
      const auto [lo, hi] = kRanges[std::uniform_int_distribution<size_t>(0, std::size(kRanges) - 1)(rng)];
      const uint32_t cp = std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
      if (cp == 0x2581 && t->family() == Tokenizer::Family::kSpm) continue;  // SPM's space symbol
      append_utf8(&s, cp);
    }
    for (bool special : {false, true}) {
      EXPECT_EQ(t->decode(t->encode(s, false, special)), s) << GetParam() << " #" << i;
    }
  }
}

TEST_P(VocabVectors, WikitextRoundTrips) {
  const fs::path text_path = testdata_dir() / "text" / "wikitext-2-test.raw";
  if (!fs::exists(text_path)) GTEST_SKIP() << "missing " << text_path;
  std::string why;
  auto t = load_tokenizer(tokenizers_dir() / GetParam(), &why);
  if (t == nullptr) GTEST_SKIP() << why;
  if (!can_spell_every_byte(*t)) GTEST_SKIP() << GetParam() << " cannot spell every byte";
  std::string text = slurp(text_path).substr(0, 64 * 1024);
  while (!text.empty() && !is_valid_utf8(text)) text.pop_back();  // do not cut a character
  const Ids ids = t->encode(text, false, false);
  EXPECT_GT(ids.size(), text.size() / 8);
  EXPECT_EQ(t->decode(ids), text);
}

INSTANTIATE_TEST_SUITE_P(Files, VocabVectors, ::testing::ValuesIn(vocab_files()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string n = param_info.param.substr(std::string("ggml-vocab-").size());
                           n = n.substr(0, n.size() - std::string(".gguf").size());
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(VocabVectors);

// --- SmolLM2's real vocabulary (byte-level BPE, pre "smollm", ChatML special tokens) -----------

fs::path smollm2_path() { return qe::test::default_model(); }

TEST(SmolLM2Vocab, ChatTokensAndKnownIds) {
  const fs::path path = smollm2_path();
  if (!fs::exists(path)) GTEST_SKIP() << "missing " << path;
  std::string why;
  auto t = load_tokenizer(path, &why);
  ASSERT_NE(t, nullptr) << why;
  EXPECT_EQ(t->n_vocab(), 49152);
  EXPECT_EQ(t->pre(), "smollm");
  EXPECT_FALSE(t->add_bos_default());
  EXPECT_EQ(t->encode("<|im_start|>", false, true), Ids{1});
  EXPECT_EQ(t->encode("<|im_end|>", false, true), Ids{2});
  EXPECT_NE(t->encode("<|im_start|>", false, false), Ids{1});  // not parsed: spelled out
  EXPECT_TRUE(t->is_eog(2));   // <|im_end|>
  EXPECT_TRUE(t->is_eog(0));   // <|endoftext|>
  EXPECT_FALSE(t->is_eog(1));
  // Digits are split one by one; spaces stay with the following word.
  EXPECT_EQ(t->encode("Hello world! 123", false, false), (Ids{19556, 905, 17, 216, 33, 34, 35}));
  EXPECT_EQ(t->encode("  multiple   spaces", false, false), (Ids{216, 2701, 256, 5600}));
  const std::string chat = "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n";
  const Ids ids = t->encode(chat, false, true);
  ASSERT_GE(ids.size(), 6u);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 2);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 2), 1);
  EXPECT_EQ(t->decode(ids), chat);
  EXPECT_EQ(t->decode(ids, /*skip_special=*/true), "user\nHi there\nassistant\n");
}

// --- load_vocab: GGUF metadata -> VocabData -----------------------------------------------------

class LoadVocab : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (fs::temp_directory_path() / ("qe_vocab_test_" + std::to_string(::getpid()) + ".gguf")).string();
    w_.set("general.architecture", gguf::Value::str("llama"));
    w_.set("general.name", gguf::Value::str("Tiny Phi-3"));
    w_.set("tokenizer.ggml.model", gguf::Value::str("llama"));
    w_.set("tokenizer.ggml.tokens", gguf::Value::str_array({"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a"}));
    w_.set("tokenizer.ggml.scores", gguf::Value::f32_array({0, 0, 0, -1, -2}));
    w_.set("tokenizer.ggml.token_type", gguf::Value::i32_array({2, 3, 3, 1, 1}));
    w_.set("tokenizer.ggml.bos_token_id", gguf::Value::u32(1));
    w_.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(2));
    w_.set("tokenizer.ggml.padding_token_id", gguf::Value::u32(0xFFFFFFFFu));  // "unset"
    w_.set("tokenizer.ggml.add_bos_token", gguf::Value::boolean(false));
  }
  void TearDown() override { std::filesystem::remove(path_); }

  Result<VocabData> load() {
    Status st = w_.write(path_);
    if (!st.is_ok()) return st;
    auto f = gguf::File::open(path_);
    if (!f) return f.status();
    return load_vocab(**f);
  }
  std::string error_of() {
    auto r = load();
    EXPECT_FALSE(r.is_ok());
    return r.is_ok() ? std::string() : r.status().message();
  }

  std::string path_;
  gguf::Writer w_;
};

TEST_F(LoadVocab, ReadsEveryKey) {
  auto r = load();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  const VocabData& v = r.value();
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.tokens.size(), 5u);
  EXPECT_EQ(v.scores, (std::vector<float>{0, 0, 0, -1, -2}));
  EXPECT_EQ(v.token_types, (std::vector<int32_t>{2, 3, 3, 1, 1}));
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.pad_id, -1);
  EXPECT_EQ(v.unk_id, -1);
  EXPECT_EQ(v.add_bos, std::optional<bool>(false));
  EXPECT_FALSE(v.add_eos.has_value());
  EXPECT_EQ(v.name, "Tiny Phi-3");
  std::string err;
  auto t = Tokenizer::create(v, &err);
  ASSERT_NE(t, nullptr) << err;
  // add_bos_token=false is for the caller to honour: an explicit add_bos still prepends BOS.
  EXPECT_EQ(t->encode("a", true, false), (Ids{1, 3, 4}));
  EXPECT_FALSE(t->add_bos_default());
}

TEST_F(LoadVocab, ErrorsNameTheKey) {
  w_.set("tokenizer.ggml.scores", gguf::Value::f32_array({0, 0, 0}));
  EXPECT_NE(error_of().find("tokenizer.ggml.scores has 3 entries"), std::string::npos);
  SetUp();
  w_.set("tokenizer.ggml.token_type", gguf::Value::i32_array({1}));
  EXPECT_NE(error_of().find("tokenizer.ggml.token_type"), std::string::npos);
  SetUp();
  w_.set("tokenizer.ggml.eos_token_id", gguf::Value::u32(5));
  EXPECT_NE(error_of().find("tokenizer.ggml.eos_token_id = 5"), std::string::npos);
  SetUp();
  w_.set("tokenizer.ggml.tokens", gguf::Value::i32_array({1, 2, 3}));
  EXPECT_NE(error_of().find("tokenizer.ggml.tokens"), std::string::npos);
  SetUp();
  w_.set("tokenizer.ggml.add_bos_token", gguf::Value::u32(1));
  EXPECT_NE(error_of().find("tokenizer.ggml.add_bos_token"), std::string::npos);
  SetUp();
  w_.set("tokenizer.ggml.model", gguf::Value::str("bert"));
  auto r = load();
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), Code::kUnsupported);
  SetUp();
  w_.set("tokenizer.ggml.model", gguf::Value::str("gpt2"));  // BPE without merges
  EXPECT_NE(error_of().find("tokenizer.ggml.merges"), std::string::npos);
}

TEST_F(LoadVocab, PaddingIdOutsideVocabularyIsDropped) {
  // Common in fine-tunes (a pad token declared but never added); llama.cpp loads them too.
  w_.set("tokenizer.ggml.padding_token_id", gguf::Value::u32(5));
  auto r = load();
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r.value().pad_id, -1);
}

TEST_F(LoadVocab, MissingVocabulary) {
  gguf::Writer empty;
  empty.set("general.architecture", gguf::Value::str("llama"));
  w_ = empty;
  EXPECT_NE(error_of().find("tokenizer.ggml.model"), std::string::npos);
}

}  // namespace
}  // namespace qe::tok
