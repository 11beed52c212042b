// The generation loop: prompt prefill, sampling, streaming detokenization, stop conditions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "context.h"
#include "sampler.h"
#include "status.h"

namespace qe {

enum class StopReason { kEndOfGeneration, kMaxTokens, kStopString, kContextFull, kCancelled };
const char* stop_reason_name(StopReason r);

struct GenerateParams {
  int32_t max_tokens = -1;          // < 0: until end of generation or the context is full
  std::vector<std::string> stop;    // generation ends before the first occurrence of any of these
  bool add_bos = true;              // prepend BOS when the vocabulary uses one
  bool parse_special = true;        // special-token texts in the prompt become their ids
  std::function<void(float)> on_prompt_progress;  // fraction of the prompt evaluated, per batch
};

struct GenerateStats {
  int32_t n_prompt = 0;             // tokens in the prompt
  int32_t n_prompt_evaluated = 0;   // of those, not found in the cache
  int32_t n_generated = 0;
  double prompt_ms = 0.0;
  double gen_ms = 0.0;
  StopReason stop = StopReason::kEndOfGeneration;
};

// Receives each piece of complete UTF-8 text as it is produced; return false to stop.
using TextFn = std::function<bool(std::string_view text)>;

// Makes the context hold `prompt` (the whole sequence, e.g. a rendered conversation), reusing
// the longest prefix of tokens its cache already holds, then generates; the generated tokens
// stay in the cache, so the next turn's prompt reuses them. A prompt that does not fit the
// context is an error (kContextFull) that leaves the cache as it was; running out of context
// while generating ends with StopReason::kContextFull.
Result<GenerateStats> generate(Context& ctx, Sampler& sampler, std::string_view prompt, const GenerateParams& p,
                               const TextFn& on_text);

// Splits streamed text at stop strings: holds back any tail that could still begin a stop
// string, releases the rest.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds text; returns what may be emitted now. Sets *hit when a stop string completed (the
  // returned text then ends just before it and everything after is dropped).
  std::string push(std::string_view text, bool* hit);
  std::string flush();  // the held-back tail at the end of generation

 private:
  std::vector<std::string> stops_;
  std::string pending_;
};

}  // namespace qe
