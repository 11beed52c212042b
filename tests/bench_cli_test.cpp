// qengine bench end to end on a synthetic model: the JSON report has every key the issue names,
// with values that follow from the model and the flags, and bad flags are clear errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "qengine/qengine.h"
#include "test_env.h"

namespace {

namespace fs = std::filesystem;

using qe::test::run_command;

class BenchCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("qe_bench_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    model_ = (dir_ / "tiny.gguf").string();
    qe_synth_params p = qe_synth_default_params();
    p.preset = "tiny-llama";
    p.type = "Q4_0";
    p.seed = 5;
    ASSERT_EQ(qe_synth_write(&p, model_.c_str()), QE_OK) << qe_last_error();
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string bench(const std::string& extra) {
    return qe::test::qengine_binary() + " bench -m " + model_ + " -t 2 -r 2 " + extra;
  }

  static inline fs::path dir_;
  static inline std::string model_;
};

TEST_F(BenchCli, JsonHasOneObjectPerTestWithTheIssueKeys) {
  std::string out;
  ASSERT_EQ(run_command(bench("-p 16 -n 8 --act q8 --kv q4 --output json") + " 2>/dev/null", &out), 0) << out;
  const nlohmann::json arr = nlohmann::json::parse(out);
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  const char* keys[] = {"model", "weight_type", "act", "kv", "threads", "n_prompt", "n_gen", "tokens_per_s",
                        "stddev", "bytes_per_token", "bandwidth_gbs", "pct_of_limit", "kv_bytes_per_token"};
  for (const auto& o : arr)
    for (const char* k : keys) EXPECT_TRUE(o.contains(k)) << k << " missing in " << o.dump();
  const auto& pp = arr[0];
  const auto& tg = arr[1];
  EXPECT_EQ(pp["test"], "pp16");
  EXPECT_EQ(pp["n_prompt"], 16);
  EXPECT_EQ(tg["test"], "tg8");
  EXPECT_EQ(tg["n_gen"], 8);
  EXPECT_EQ(tg["act"], "q8");
  EXPECT_EQ(tg["kv"], "q4");
  EXPECT_EQ(tg["weight_type"], "Q4_0");
  EXPECT_EQ(tg["threads"], 2);
  EXPECT_GT(pp["tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(tg["tokens_per_s"].get<double>(), 0.0);
  EXPECT_GT(tg["bandwidth_gbs"].get<double>(), 0.1);
  EXPECT_GT(tg["pct_of_limit"].get<double>(), 0.0);
  // Bytes per token: the weights plus the KV cache read on average over the decode run.
  qe_model* m = nullptr;
  ASSERT_EQ(qe_model_load(model_.c_str(), nullptr, &m), QE_OK) << qe_last_error();
  qe_model_desc d{};
  ASSERT_EQ(qe_model_describe(m, &d), QE_OK);
  qe_context_params cp = qe_context_default_params();
  cp.kv = QE_KV_Q4;
  uint64_t kv = 0;
  ASSERT_EQ(qe_context_kv_bytes_per_token(m, &cp, &kv), QE_OK);
  qe_model_free(m);
  EXPECT_EQ(tg["kv_bytes_per_token"].get<uint64_t>(), kv);
  const double want = static_cast<double>(d.weight_bytes) + static_cast<double>(kv) * 4.0;
  EXPECT_NEAR(tg["bytes_per_token"].get<double>(), want, 1.0);
}

TEST_F(BenchCli, MarkdownTableAndDepth) {
  std::string out;
  ASSERT_EQ(run_command(bench("-p 0 -n 4 --depth 300 --kv q8") + " 2>/dev/null", &out), 0) << out;
  EXPECT_NE(out.find("| tg4 @ d300 |"), std::string::npos) << out;
  EXPECT_NE(out.find("% of bandwidth limit"), std::string::npos) << out;
  EXPECT_NE(out.find("read bandwidth"), std::string::npos) << out;
}

TEST_F(BenchCli, BadFlagsAreClearErrors) {
  std::string out;
  EXPECT_NE(run_command(bench("--act q4") + " 2>&1", &out), 0);
  EXPECT_NE(out.find("--act"), std::string::npos) << out;
  EXPECT_NE(run_command(qe::test::qengine_binary() + " bench -m " + (dir_ / "missing.gguf").string() + " 2>&1", &out), 0);
  EXPECT_NE(out.find("missing.gguf"), std::string::npos) << out;
}

}  // namespace
