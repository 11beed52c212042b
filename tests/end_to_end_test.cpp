// End-to-end tests through the public API: real models, generation semantics, errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qengine/qengine.h"
#include "qengine/qengine.hpp"
#include "test_env.h"

namespace {

namespace fs = std::filesystem;

using qe::test::default_model;
using qe::test::testdata_dir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using qe::test::run_command;

// A synthetic model shared by the tests of this file.
class SynthModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = (fs::temp_directory_path() / ("qe_e2e_" + std::to_string(getpid()) + ".gguf")).string();
    qe_synth_params p = qe_synth_default_params();
    p.preset = "tiny-llama";
    p.type = "Q8_0";
    p.seed = 7;
    ASSERT_EQ(qe_synth_write(&p, path_.c_str()), QE_OK) << qe_last_error();
  }
  static void TearDownTestSuite() { fs::remove(path_); }
  static std::string path_;
};
std::string SynthModel::path_;

std::string generate_text(qengine::Model& m, const std::string& prompt, uint64_t seed, float temp, int n) {
  qengine::Context ctx(m);
  qe_sampler_params sp = qe_sampler_default_params();
  sp.seed = seed;
  sp.temperature = temp;
  qengine::Sampler s(sp);
  std::string out;
  ctx.generate(s, prompt, [&](std::string_view t) { out += t; return true; }, n);
  return out;
}

TEST(EndToEnd, Stories260kGreedyMatchesLlama2c) {
  const std::string model = testdata_dir() + "/models/stories260K.gguf";
  const std::string ref = testdata_dir() + "/models/stories260K.greedy200.txt";
  if (!fs::exists(model) || !fs::exists(ref)) GTEST_SKIP() << "missing test data: " << model << " or " << ref;
  qengine::Model m(model);
  qengine::Context ctx(m);
  qe_sampler_params sp = qe_sampler_default_params();
  sp.temperature = 0.0f;
  qengine::Sampler s(sp);
  std::vector<int32_t> tokens = {qe_token_bos(m.get())};
  ASSERT_GE(tokens[0], 0);
  ctx.eval(tokens);
  std::vector<int32_t> out;
  for (int i = 0; i < 200; ++i) {
    int32_t t = -1;
    ASSERT_EQ(qe_sampler_sample(s.get(), ctx.get(), &t), QE_OK) << qe_last_error();
    out.push_back(t);
    ctx.eval({t});
  }
  // llama2.c prints pieces and drops the leading space of the first piece after BOS.
  std::string text = m.detokenize(out);
  if (!text.empty() && text[0] == ' ') text.erase(0, 1);
  EXPECT_EQ(text, read_all(ref));
}

TEST(EndToEnd, SmolLM2KnowsTheCapitalOfFrance) {
  const std::string model = default_model();
  if (!fs::exists(model)) GTEST_SKIP() << "missing default model " << model << " (run scripts/fetch-model.sh)";
  qengine::Model m(model);
  const std::string prompt = m.apply_chat_template({{"user", "What is the capital of France?"}});
  const std::string answer = generate_text(m, prompt, 0, 0.0f, 48);
  EXPECT_NE(answer.find("Paris"), std::string::npos) << answer;
}

TEST_F(SynthModel, SameSeedSameText) {
  qengine::Model m(path_);
  const std::string a = generate_text(m, "hello there", 42, 1.0f, 24);
  const std::string b = generate_text(m, "hello there", 42, 1.0f, 24);
  const std::string c = generate_text(m, "hello there", 43, 1.0f, 24);
  EXPECT_EQ(a, b);
  EXPECT_FALSE(a.empty());
  EXPECT_NE(a, c);
}

TEST_F(SynthModel, ChunkedPrefillMatchesOneBatch) {
  qengine::Model m(path_);
  std::vector<int32_t> toks;
  for (int i = 0; i < 40; ++i) toks.push_back((i * 37 + 11) % 500);
  qe_context_params one = qe_context_default_params();
  qe_context_params chunked = one;
  chunked.n_batch = 7;
  qengine::Context a(m, one), b(m, chunked);
  a.eval(toks, true);
  b.eval(toks, true);
  const int32_t n_vocab = m.describe().n_vocab;
  for (int i = 0; i < 40; ++i) {
    for (int v = 0; v < n_vocab; ++v) ASSERT_NEAR(a.logits(i)[v], b.logits(i)[v], 1e-4f) << "position " << i;
  }
}

TEST_F(SynthModel, IncrementalDecodeMatchesPrefill) {
  qengine::Model m(path_);
  std::vector<int32_t> toks;
  for (int i = 0; i < 16; ++i) toks.push_back((i * 53 + 5) % 500);
  // An fp32 cache holds exactly what prefill and decode computed: 1e-4 covers the matmul paths'
  // summation orders. The default fp16 cache rounds K and V to 11 bits, and rows that prefill
  // and decode compute a few ulps apart can round to neighbouring fp16 values: 2^-11 relative
  // (5e-4) on logits of order 1 (1.8e-4 measured here).
  for (const auto& [kv, tol] : {std::pair{QE_KV_F32, 1e-4f}, std::pair{QE_KV_DEFAULT, 1e-3f}}) {
    qe_context_params p = qe_context_default_params();
    p.kv = kv;
    qengine::Context a(m, p), b(m, p);
    a.eval(toks, true);
    const int32_t n_vocab = m.describe().n_vocab;
    for (int i = 0; i < 16; ++i) {
      b.eval({toks[static_cast<size_t>(i)]});
      for (int v = 0; v < n_vocab; ++v) ASSERT_NEAR(a.logits(i)[v], b.logits()[v], tol) << "position " << i << " kv " << kv;
    }
  }
}

TEST_F(SynthModel, PromptProgressIsReportedPerBatch) {
  qengine::Model m(path_);
  qe_context_params cp = qe_context_default_params();
  cp.n_batch = 8;
  qengine::Context ctx(m, cp);
  qengine::Sampler s;
  std::string prompt;
  for (int i = 0; i < 12; ++i) prompt += "word" + std::to_string(i) + " ";
  const size_t n_tokens = m.tokenize(prompt, true).size();
  ASSERT_GT(n_tokens, 16u);
  std::vector<float> seen;
  qe_generate_params gp = qe_generate_default_params();
  gp.max_tokens = 2;
  gp.on_prompt_progress = [](float f, void* u) { static_cast<std::vector<float>*>(u)->push_back(f); };
  gp.progress_user_data = &seen;
  qe_generate_stats st{};
  ASSERT_EQ(qe_generate(ctx.get(), s.get(), prompt.c_str(), &gp, &st), QE_OK) << qe_last_error();
  ASSERT_EQ(seen.size(), (static_cast<size_t>(st.n_prompt_evaluated) + 7) / 8);
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_GT(seen[i], seen[i - 1]);
  EXPECT_FLOAT_EQ(seen.back(), 1.0f);
  EXPECT_FLOAT_EQ(seen.front(), 8.0f / static_cast<float>(st.n_prompt_evaluated));
}

// -c beyond the trained length is an error that names the way out (--rope-scaling), which then
// stretches the reach by its factor and no further; bad factors are errors too.
TEST_F(SynthModel, ContextBeyondTrainedLengthNeedsRopeScaling) {
  qe_model* m = nullptr;
  ASSERT_EQ(qe_model_load(path_.c_str(), nullptr, &m), QE_OK) << qe_last_error();
  qe_model_desc d{};
  ASSERT_EQ(qe_model_describe(m, &d), QE_OK);
  const int32_t trained = d.n_ctx_train;
  qe_context* c = nullptr;
  qe_context_params p = qe_context_default_params();
  p.n_ctx = trained + 1;
  EXPECT_EQ(qe_context_create(m, &p, &c), QE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qe_last_error()).find("trained context length " + std::to_string(trained)), std::string::npos)
      << qe_last_error();
  EXPECT_NE(std::string(qe_last_error()).find("RoPE scaling"), std::string::npos) << qe_last_error();
  p.rope_scaling = 2.0f;
  p.n_ctx = 2 * trained;
  ASSERT_EQ(qe_context_create(m, &p, &c), QE_OK) << qe_last_error();
  EXPECT_EQ(qe_context_n_ctx(c), 2 * trained);
  const int32_t tok = 1;
  EXPECT_EQ(qe_eval(c, &tok, 1, false), QE_OK) << qe_last_error();
  qe_context_free(c);
  c = nullptr;
  p.n_ctx = 2 * trained + 1;
  EXPECT_EQ(qe_context_create(m, &p, &c), QE_ERR_INVALID_ARGUMENT);
  for (float bad : {0.5f, -1.0f, 100.0f}) {
    p.rope_scaling = bad;
    p.n_ctx = trained;
    EXPECT_EQ(qe_context_create(m, &p, &c), QE_ERR_INVALID_ARGUMENT) << bad;
  }
  EXPECT_EQ(c, nullptr);
  qe_model_free(m);
}

// qengine chat in a small context: old turns slide out (the conversation goes on past -c), and
// a message that cannot fit even alone is refused with a message, not the end of the session.
TEST_F(SynthModel, ChatDropsOldTurnsWhenTheContextFills) {
  const fs::path in = fs::temp_directory_path() / ("qe_chat_in_" + std::to_string(getpid()) + ".txt");
  {
    std::ofstream f(in);
    for (int i = 1; i <= 12; ++i) f << "message number " << i << " says the river carried water to the sea today\n";
  }
  const std::string cmd = qe::test::qengine_binary() + " chat -m " + path_ +
                          " -c 128 -n 8 --temp 0 --system \"You are terse.\" < " + in.string();
  std::string out;
  ASSERT_EQ(run_command(cmd + " 2>&1", &out), 0) << out;
  EXPECT_EQ(out.find("error"), std::string::npos) << out;
  {
    std::ofstream f(in);
    f << std::string(2000, 'x') << "\nhello\n";
  }
  ASSERT_EQ(run_command(cmd + " 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("does not fit in the 128-token context"), std::string::npos) << out;
  fs::remove(in);
}

TEST_F(SynthModel, PromptLongerThanContextIsAClearError) {
  qengine::Model m(path_);
  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = 16;
  qengine::Context ctx(m, cp);
  qengine::Sampler s;
  qe_generate_params gp = qe_generate_default_params();
  const std::string prompt(200, 'x');
  EXPECT_EQ(qe_generate(ctx.get(), s.get(), prompt.c_str(), &gp, nullptr), QE_ERR_CONTEXT_FULL);
  EXPECT_NE(std::string(qe_last_error()).find("context"), std::string::npos) << qe_last_error();
  EXPECT_EQ(ctx.n_past(), 0);
}

TEST_F(SynthModel, GenerationStopsWhenTheContextIsFull) {
  qengine::Model m(path_);
  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = 24;
  qengine::Context ctx(m, cp);
  qengine::Sampler s;
  const qe_generate_stats st = ctx.generate(s, "hi", [](std::string_view) { return true; }, -1);
  if (st.stop != QE_STOP_EOG) {
    EXPECT_EQ(st.stop, QE_STOP_CONTEXT_FULL);
    EXPECT_EQ(ctx.n_past(), 24);
  }
}

TEST_F(SynthModel, BadInputsAreErrorsNotCrashes) {
  qengine::Model m(path_);
  qengine::Context ctx(m);
  const int32_t bad[] = {1, 999999};
  EXPECT_EQ(qe_eval(ctx.get(), bad, 2, false), QE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(qe_last_error()).find("999999"), std::string::npos);
  const char invalid_utf8[] = "abc\xff\xfe";
  size_t n = 0;
  EXPECT_EQ(qe_tokenize(m.get(), invalid_utf8, 5, true, false, nullptr, 0, &n), QE_ERR_INVALID_ARGUMENT);
  qengine::Sampler s;
  qe_generate_params gp = qe_generate_default_params();
  EXPECT_EQ(qe_generate(ctx.get(), s.get(), invalid_utf8, &gp, nullptr), QE_ERR_INVALID_ARGUMENT);
  qe_context_params cp = qe_context_default_params();
  cp.n_ctx = 1 << 20;
  qe_context* c = nullptr;
  EXPECT_EQ(qe_context_create(m.get(), &cp, &c), QE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c, nullptr);
  qe_model* none = nullptr;
  EXPECT_EQ(qe_model_load("/nonexistent/model.gguf", nullptr, &none), QE_ERR_IO);
  EXPECT_NE(std::string(qe_last_error()).find("/nonexistent/model.gguf"), std::string::npos);
}

TEST_F(SynthModel, StopStringsEndGenerationAndAreNotEmitted) {
  qengine::Model m(path_);
  const std::string free_text = generate_text(m, "abc", 5, 1.0f, 32);
  ASSERT_GE(free_text.size(), 4u);
  const std::string stop = free_text.substr(2, 2);
  qengine::Context ctx(m);
  qe_sampler_params sp = qe_sampler_default_params();
  sp.seed = 5;
  sp.temperature = 1.0f;
  qengine::Sampler s(sp);
  std::string out;
  const qe_generate_stats st = ctx.generate(s, "abc", [&](std::string_view t) { out += t; return true; }, 32, {stop});
  EXPECT_EQ(st.stop, QE_STOP_STRING);
  EXPECT_EQ(out, free_text.substr(0, free_text.find(stop)));
}

TEST_F(SynthModel, CommandLineErrorsExitNonZero) {
  const std::string qengine = qe::test::qengine_binary();
  if (qengine.empty()) GTEST_SKIP() << "QE_QENGINE is not set";
  std::string out;
  EXPECT_NE(run_command(qengine + " complete -m " + path_ + " --temp -1 -p hi 2>&1", &out), 0);
  EXPECT_NE(run_command(qengine + " complete -m " + path_ + " --no-such-flag 2>&1", &out), 0);
  EXPECT_NE(run_command(qengine + " complete -m /nonexistent.gguf -p hi 2>&1", &out), 0);
  EXPECT_EQ(run_command(qengine + " complete -m " + path_ + " -c 8 -p \"" + std::string(100, 'x') + "\" 2>&1", &out), 1);
  EXPECT_NE(out.find("context"), std::string::npos) << out;
  EXPECT_EQ(run_command("printf 'hello world' | " + qengine + " tokenize -m " + path_ + " --ids --no-bos --stdin", &out), 0);
  qengine::Model m(path_);
  const std::vector<int32_t> ids = m.tokenize("hello world", false);
  std::string expect;
  for (size_t i = 0; i < ids.size(); ++i) expect += (i ? " " : "") + std::to_string(ids[i]);
  EXPECT_EQ(out, expect + "\n");
}

}  // namespace
