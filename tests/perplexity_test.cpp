// qengine perplexity end to end on a synthetic model: the JSON report against a perplexity
// computed here through the C API, the baseline file round trip, mode comparisons and errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "qengine/qengine.h"
#include "qengine/qengine.hpp"
#include "test_env.h"

namespace {

namespace fs = std::filesystem;

constexpr int kCtx = 128;    // window length of every run here
constexpr int kChunks = 4;   // windows scored
constexpr int kThreads = 2;

using qe::test::run_command;

// A deterministic English-like text: word sequences from a fixed generator.
std::string make_text(size_t n_bytes, uint64_t seed) {
  static const std::array<const char*, 16> kWords = {"the", "river", "carried", "water", "from", "mountains",
                                                     "to", "sea", "and", "towns", "grew", "along", "its",
                                                     "banks", "in", "summer"};
  std::string s;
  uint64_t x = seed;
  while (s.size() < n_bytes) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    s += kWords[(x >> 33) % kWords.size()];
    s += (x >> 40) % 9 == 0 ? ".\n" : " ";
  }
  return s;
}

class Perplexity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("qe_ppl_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    model_ = (dir_ / "tiny.gguf").string();
    qe_synth_params p = qe_synth_default_params();
    p.preset = "tiny-llama";
    p.type = "Q8_0";
    p.seed = 11;
    ASSERT_EQ(qe_synth_write(&p, model_.c_str()), QE_OK) << qe_last_error();
    text_ = (dir_ / "text.txt").string();
    std::ofstream(text_) << make_text(4000, 1);
    base_ = (dir_ / "base.bin").string();
    std::string out;
    ASSERT_EQ(run_command(ppl("--act f32 --save-logits " + base_) + " 2>&1", &out), 0) << out;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // The command line of a perplexity run on the shared model and text, with extra flags.
  static std::string ppl(const std::string& extra, const std::string& text = text_) {
    return qe::test::qengine_binary() + " perplexity -m " + model_ + " -f " + text + " -c " + std::to_string(kCtx) +
           " -t " + std::to_string(kThreads) + " --chunks " + std::to_string(kChunks) + " " + extra;
  }
  // Runs with --output json and returns the parsed report.
  static nlohmann::json ppl_json(const std::string& extra) {
    std::string out;
    EXPECT_EQ(run_command(ppl(extra + " --output json") + " 2>/dev/null", &out), 0) << out;
    return nlohmann::json::parse(out, nullptr, false);
  }

  static fs::path dir_;
  static std::string model_, text_, base_;
};
fs::path Perplexity::dir_;
std::string Perplexity::model_, Perplexity::text_, Perplexity::base_;

TEST_F(Perplexity, JsonMatchesPerplexityComputedThroughTheApi) {
  const nlohmann::json j = ppl_json("--act f32");
  ASSERT_FALSE(j.is_discarded());
  for (const char* key : {"ppl", "ppl_err", "n_tokens", "n_chunks", "n_ctx"}) EXPECT_TRUE(j.contains(key)) << key;
  const double ppl = j["ppl"].get<double>();
  EXPECT_TRUE(std::isfinite(ppl));
  EXPECT_GT(ppl, 1.0);
  EXPECT_EQ(j["n_chunks"].get<int>(), kChunks);
  EXPECT_EQ(j["n_ctx"].get<int>(), kCtx);
  EXPECT_EQ(j["n_tokens"].get<int>(), kChunks * (kCtx - 1 - kCtx / 2));
  EXPECT_FALSE(j.contains("kld_mean"));  // only with a baseline

  // The same windows scored here: BOS in front of each window, second half predicted.
  std::ifstream in(text_);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  qengine::Model m(model_);
  const std::vector<int32_t> toks = m.tokenize(text, true);
  const int32_t bos = qe_token_bos(m.get()), n_vocab = m.describe().n_vocab;
  ASSERT_GE(toks.size(), static_cast<size_t>(kChunks * kCtx));
  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = kCtx;
  cp.n_threads = kThreads;
  cp.act = QE_ACT_F32;
  qengine::Context ctx(m, cp);
  double nll = 0;
  int n = 0;
  for (int c = 0; c < kChunks; ++c) {
    std::vector<int32_t> w(toks.begin() + c * kCtx, toks.begin() + (c + 1) * kCtx);
    if (bos >= 0 && toks[0] == bos) w[0] = bos;
    ASSERT_EQ(qe_context_truncate(ctx.get(), 0), QE_OK);
    ctx.eval(w, true);
    for (int i = kCtx / 2; i < kCtx - 1; ++i) {
      const float* x = ctx.logits(i);
      double mx = x[0], sum = 0;
      for (int v = 1; v < n_vocab; ++v) mx = std::max(mx, static_cast<double>(x[v]));
      for (int v = 0; v < n_vocab; ++v) sum += std::exp(x[v] - mx);
      nll += mx + std::log(sum) - x[w[static_cast<size_t>(i) + 1]];
      ++n;
    }
  }
  EXPECT_NEAR(ppl, std::exp(nll / n), 1e-4 * ppl);
}

TEST_F(Perplexity, BaselineFileHasTheDocumentedLayout) {
  // 32-byte header, (n_chunks, n_ctx) int32 tokens, then per scored position 8 bytes + fp16 row.
  std::ifstream in(base_, std::ios::binary);
  std::array<char, 8> magic{};
  uint32_t fields[6] = {};
  in.read(magic.data(), magic.size());
  in.read(reinterpret_cast<char*>(fields), sizeof fields);
  EXPECT_EQ(std::string(magic.data(), magic.size()), "QEPPLLOG");
  const uint32_t version = fields[0], n_vocab = fields[1], n_ctx = fields[2], n_chunks = fields[3], first = fields[4];
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(n_ctx, static_cast<uint32_t>(kCtx));
  EXPECT_EQ(n_chunks, static_cast<uint32_t>(kChunks));
  EXPECT_EQ(first, static_cast<uint32_t>(kCtx / 2));
  const uint64_t scored = uint64_t{n_chunks} * (n_ctx - 1 - first);
  EXPECT_EQ(fs::file_size(base_), 32 + 4ull * n_chunks * n_ctx + scored * (8 + 2ull * n_vocab));
}

TEST_F(Perplexity, SameModeAgainstItsBaselineIsZero) {
  const nlohmann::json j = ppl_json("--act f32 --kl-divergence " + base_);
  ASSERT_FALSE(j.is_discarded());
  for (const char* key : {"kld_mean", "kld_p99", "kld_max", "top1_agree", "ppl_base", "delta_ppl"}) {
    ASSERT_TRUE(j.contains(key)) << key;
  }
  // The baseline stores log-probabilities as fp16: |error| <= 2^-9 for |log p| < 8 and 2^-8 for
  // |log p| < 16 (tokens below e^-16 carry no mass); after renormalization the KL-divergence is
  // about Var_p(error) / 2 <= (2^-8)^2 / 2.
  const double bound = 0.5 * std::ldexp(1.0, -16);
  EXPECT_LE(std::abs(j["kld_mean"].get<double>()), bound);
  EXPECT_LE(std::abs(j["kld_max"].get<double>()), bound);
  EXPECT_EQ(j["top1_agree"].get<double>(), 1.0);
  // The target log-probabilities are stored exactly (fp32).
  EXPECT_NEAR(j["ppl_base"].get<double>(), j["ppl"].get<double>(), 1e-5 * j["ppl"].get<double>());
  EXPECT_NEAR(j["delta_ppl"].get<double>(), 0.0, 1e-5 * j["ppl"].get<double>());
}

TEST_F(Perplexity, Q8ActivationsAgainstF32BaselineDifferALittle) {
  const nlohmann::json j = ppl_json("--act q8 --kl-divergence " + base_);
  ASSERT_FALSE(j.is_discarded());
  const double kld = j["kld_mean"].get<double>();
  EXPECT_GT(kld, 1e-5);  // well above the fp16 storage floor: the mode really differs
  EXPECT_LT(kld, 0.01);
  EXPECT_LE(kld, j["kld_p99"].get<double>());
  EXPECT_LE(j["kld_p99"].get<double>(), j["kld_max"].get<double>());
  EXPECT_GT(j["top1_agree"].get<double>(), 0.8);
  EXPECT_NEAR(j["delta_ppl"].get<double>(), j["ppl"].get<double>() - j["ppl_base"].get<double>(), 1e-9);
}

TEST_F(Perplexity, MismatchedOrBrokenBaselineIsAClearError) {
  std::string out;
  // Another window length.
  EXPECT_EQ(run_command(qe::test::qengine_binary() + " perplexity -m " + model_ + " -f " + text_ +
                    " -c 64 -t 2 --kl-divergence " + base_ + " 2>&1",
                &out),
            1);
  EXPECT_NE(out.find("qengine: error:"), std::string::npos) << out;
  EXPECT_NE(out.find("-c 128"), std::string::npos) << out;
  // Another text.
  const std::string other = (dir_ / "other.txt").string();
  std::ofstream(other) << make_text(4000, 2);
  EXPECT_EQ(run_command(ppl("--kl-divergence " + base_, other) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("not the text the baseline was saved from"), std::string::npos) << out;
  // Not a baseline file.
  EXPECT_EQ(run_command(ppl("--kl-divergence " + text_) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("bad magic"), std::string::npos) << out;
  // Truncated.
  const std::string cut = (dir_ / "cut.bin").string();
  fs::copy_file(base_, cut);
  fs::resize_file(cut, fs::file_size(base_) - 100);
  EXPECT_EQ(run_command(ppl("--kl-divergence " + cut) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
}

TEST_F(Perplexity, TextShorterThanTwoWindowsIsAnError) {
  const std::string short_text = (dir_ / "short.txt").string();
  std::ofstream(short_text) << make_text(100, 3);
  std::string out;
  EXPECT_EQ(run_command(ppl("", short_text) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("qengine: error:"), std::string::npos) << out;
  EXPECT_NE(out.find("needs at least 256"), std::string::npos) << out;
  EXPECT_EQ(run_command(ppl("", (dir_ / "missing.txt").string()) + " 2>&1", &out), 1);
}

}  // namespace
