// Token sampler: repetition penalties, top-k / top-p / min-p truncation and a portable seeded draw.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "status.h"

namespace qe {

// Sampling settings. Valid ranges are enforced by validate(); the comments give the run-time meaning.
struct SamplerParams {
  float temperature = 0.8f;   // <= 0 (negative included) -> greedy: argmax of the penalized logits
  int32_t top_k = 40;         // <= 0 -> disabled
  float top_p = 0.95f;        // in (0, 1]; 1 -> disabled
  float min_p = 0.05f;        // in [0, 1]; 0 -> disabled. Keeps p >= min_p * p_max
  float repeat_penalty = 1.0f;  // > 0; 1 -> off. logit > 0 ? logit / p : logit * p (llama.cpp)
  int32_t repeat_last_n = 64;   // penalty window in tokens, in [0, kMaxRepeatLastN]; 0 -> no penalties
  // OpenAI semantics over the same window: logit -= count * frequency + (count > 0) * presence.
  float presence_penalty = 0.0f, frequency_penalty = 0.0f;
  uint64_t seed = 0;  // used literally (0 is an ordinary seed); same seed + logits -> same tokens
};

// Upper bound on repeat_last_n: the window is preallocated, so an absurd value is an error, not an OOM.
constexpr int32_t kMaxRepeatLastN = 1 << 20;

// Checks every field against the ranges documented on SamplerParams. The message names the field and
// its value. Negative temperature is accepted and means greedy, as in llama.cpp; NaN/inf never are.
Status validate(const SamplerParams& params);

// Applies the repeat, presence and frequency penalties for the tokens in `recent` to `logits` in place.
// Each distinct token is penalized once by repeat_penalty and by its occurrence count for frequency.
// `recent` is sorted in place (this is how occurrences are counted without allocating); ids outside
// [0, logits.size()) are ignored.
void apply_penalties(std::span<float> logits, std::span<int32_t> recent, const SamplerParams& params);

// Samples one token id from a logit vector. The chain, in order:
//   1. penalties over the last repeat_last_n accepted tokens;
//   2. greedy (temperature <= 0): argmax, ties to the lowest id; nothing below applies;
//   3. top-k: the k largest logits (ties broken by lower id, so the set is the same everywhere);
//   4. temperature softmax relative to the largest logit;
//   5. top-p: the shortest prefix, by descending probability, whose mass reaches top_p;
//   6. min-p: drop tokens whose probability is below min_p times the largest;
//   7. draw from what is left, renormalized, with one 53-bit uniform from xoshiro256**.
// Determinism: candidates are always in a canonical order (descending logit then ascending id after
// top-k, plain id order otherwise; top-p without top-k selects its nucleus from exact exponent buckets
// instead of sorting the vocabulary), and exp is our own polynomial, so the result does not depend on
// the standard library or libm. It assumes IEEE double arithmetic without FMA contraction
// (-ffp-contract=off, which GCC applies under -std=c++20 but not -std=gnu++20).
// NaN logits count as -inf. If the largest remaining logit is not finite (all -inf, or some +inf) the
// draw degenerates to the greedy choice.
// Not thread-safe; use one Sampler per sequence.
class Sampler {
 public:
  // `params` must pass validate(); a bad value here is a caller bug and trips QE_CHECK.
  explicit Sampler(const SamplerParams& params);

  // Does not modify the caller's logits (vocab). Scratch buffers grow on the first call for a given
  // vocabulary size and are reused afterwards, so steady-state calls do not allocate.
  int32_t sample(std::span<const float> logits);

  // Appends a token to the penalty window (typically every prompt and generated token). id >= 0.
  void accept(int32_t token);

  // Clears the penalty window and restarts the generator from params.seed.
  void reset();

  const SamplerParams& params() const { return params_; }

 private:
  // One surviving token: its id, penalized logit and unnormalized probability exp((l - l_max) / T).
  // Top-p weight buckets: 4 per binary octave over the 1023 normal exponents of (0, 1], plus zero.
  static constexpr size_t kNumBuckets = 1024 * 4;

  struct Candidate {
    int32_t id;
    float logit;
    double weight;
  };

  // Canonical candidate order: larger logit first, then lower id.
  static bool better(const Candidate& a, const Candidate& b);
  uint64_t next_u64();
  double next_unit_double();  // uniform in [0, 1) with 53 random bits
  bool penalties_active() const;
  // Top-p when cands_ is in id order (top-k off); see sampler.cpp.
  void top_p_unsorted();

  SamplerParams params_;
  uint64_t rng_[4] = {};            // xoshiro256** state
  std::vector<int32_t> history_;    // (repeat_last_n) ring buffer of accepted tokens
  size_t history_head_ = 0;         // next slot to overwrite
  size_t history_size_ = 0;         // filled slots, <= history_.size()
  std::vector<int32_t> window_;     // (repeat_last_n) scratch copy of the history for counting
  std::vector<float> logits_;       // (vocab) penalized copy of the caller's logits
  std::vector<Candidate> cands_;    // (vocab) candidate list, truncated step by step
  std::vector<Candidate> tail_;     // (<= vocab) top-p scratch: the bucket where the mass crosses
  std::vector<double> bucket_mass_;  // (kNumBuckets) top-p scratch: mass per weight bucket
};

}  // namespace qe
