// Where tests find things outside the repository: environment first, build defaults second.
#pragma once

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

}  // namespace qe::test
