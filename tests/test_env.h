// Where tests find things outside the repository: environment first, build defaults second.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qe::test {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

// $QE_TESTDATA, default ../shared/testdata beside the project.
inline std::string testdata_dir() {
#ifdef QE_TESTDATA_DEFAULT
  return env_or("QE_TESTDATA", QE_TESTDATA_DEFAULT);
#else
  return env_or("QE_TESTDATA", "../shared/testdata");
#endif
}

// $QE_QENGINE, default the qengine binary of this build ("" when unknown).
inline std::string qengine_binary() {
#ifdef QE_QENGINE_DEFAULT
  return env_or("QE_QENGINE", QE_QENGINE_DEFAULT);
#else
  return env_or("QE_QENGINE", "");
#endif
}

// The default model, where scripts/fetch-model.sh puts it.
inline std::string default_model() {
  return env_or("QE_MODELS", env_or("HOME", "/root") + "/.cache/qengine") + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

// Runs a shell command; returns its exit status (-1 when it did not exit normally), with its
// standard output in *out.
inline int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::array<char, 4096> buf{};
  out->clear();
  for (size_t n; (n = fread(buf.data(), 1, buf.size(), p)) > 0;) out->append(buf.data(), n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace qe::test
