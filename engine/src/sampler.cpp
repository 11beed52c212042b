// Token sampler: penalty window, truncation chain and the portable generator behind every draw.
#include "sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace qe {
namespace {

std::string show(double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

Status bad_param(const char* field, double value, const char* rule) {
  return error(Code::kInvalidArgument,
               std::string("sampler: ") + field + " = " + show(value) + " is invalid: " + rule);
}

// exp(x) for x <= 0 without libm, so every platform computes bit-identical weights. Cody-Waite
// reduction x = k*ln2 + r with |r| <= ln2/2, then the Taylor series of e^r to degree 13, whose
// truncation error (0.35^14 / 14! ~ 4e-18) is below half an ulp of 1. Scaling by 2^k is an exact
// multiplication while the result stays normal; anything smaller (< 2^-1022 relative to the best
// token) is flushed to 0 since it could never be drawn. exp(0) is exactly 1, which min-p relies on.
double exp_nonpositive(double x) {
  if (!(x >= -708.0)) return 0.0;  // keeps k >= -1022; also catches NaN
  constexpr double kLog2e = 1.4426950408889634;
  // ln 2 split so that k * kLn2Hi is exact for |k| < 2^20 (kLn2Hi has 32 significant bits).
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  // Truncation toward zero of a value <= 0 rounds x*log2(e) to a nearest integer (halves go up); it
  // is a single exact conversion, where std::floor may be a libm call on baseline x86-64.
  const int k = static_cast<int>(x * kLog2e - 0.5);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  // Horner on 1/n!, n = 13 .. 0, written out: a local array plus loop is neither unrolled nor kept in
  // registers at -O2, which made this the hot spot of untruncated sampling.
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^k built from its exponent bits (k in [-1022, 0], so the pattern is a normal double).
  const uint64_t bits = static_cast<uint64_t>(k + 1023) << 52;
  return p * std::bit_cast<double>(bits);
}

// Bucket of a weight in [0, 1]: 4 per octave, heavier weights in lower buckets. Exponent field 1023
// (weight 1) maps to bucket 3, each lower exponent adds 4, and the top two mantissa bits pick the
// quarter-octave. 0 lands in the last bucket.
size_t weight_bucket(double w) {
  const uint64_t bits = std::bit_cast<uint64_t>(w);
  const size_t exponent = static_cast<size_t>(bits >> 52);  // sign is 0: weights are >= 0
  const size_t quarter = static_cast<size_t>((bits >> 50) & 3);
  return (1023 - exponent) * 4 + (3 - quarter);
}

// splitmix64: expands one 64-bit seed into a well-mixed xoshiro state (Vigna's recommendation).
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// Lowest id among the largest logits; NaN never wins because comparisons with it are false.
int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

}  // namespace

Status validate(const SamplerParams& p) {
  if (std::isnan(p.temperature) || std::isinf(p.temperature)) {
    return bad_param("temperature", p.temperature, "must be finite (<= 0 selects greedy decoding)");
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return bad_param("top_p", p.top_p, "must be in (0, 1]; 1 disables nucleus sampling");
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return bad_param("min_p", p.min_p, "must be in [0, 1]; 0 disables min-p");
  }
  if (!(p.repeat_penalty > 0.0f) || std::isinf(p.repeat_penalty)) {
    return bad_param("repeat_penalty", p.repeat_penalty, "must be finite and > 0; 1 disables it");
  }
  if (p.repeat_last_n < 0 || p.repeat_last_n > kMaxRepeatLastN) {
    return bad_param("repeat_last_n", p.repeat_last_n,
                     "must be in [0, 1048576]; 0 disables the penalties");
  }
  if (!std::isfinite(p.presence_penalty)) {
    return bad_param("presence_penalty", p.presence_penalty, "must be finite");
  }
  if (!std::isfinite(p.frequency_penalty)) {
    return bad_param("frequency_penalty", p.frequency_penalty, "must be finite");
  }
  return Status::ok();
}

void apply_penalties(std::span<float> logits, std::span<int32_t> recent, const SamplerParams& p) {
  // Sorting groups equal ids so each run gives one token and its count; the window is small.
  std::sort(recent.begin(), recent.end());
  for (size_t i = 0; i < recent.size();) {
    size_t j = i + 1;
    while (j < recent.size() && recent[j] == recent[i]) ++j;
    const int32_t id = recent[i];
    const size_t count = j - i;
    i = j;
    if (id < 0 || static_cast<size_t>(id) >= logits.size()) continue;
    float& l = logits[static_cast<size_t>(id)];
    // Dividing a positive logit and multiplying a negative one both make the token less likely.
    l = l > 0.0f ? l / p.repeat_penalty : l * p.repeat_penalty;
    l -= static_cast<float>(count) * p.frequency_penalty + p.presence_penalty;
  }
}

Sampler::Sampler(const SamplerParams& params) : params_(params) {
  QE_CHECK(validate(params_).is_ok());
  history_.resize(static_cast<size_t>(params_.repeat_last_n));
  window_.resize(history_.size());
  bucket_mass_.resize(kNumBuckets);
  reset();
}

void Sampler::reset() {
  history_head_ = 0;
  history_size_ = 0;
  uint64_t s = params_.seed;
  for (uint64_t& word : rng_) word = splitmix64(s);
}

void Sampler::accept(int32_t token) {
  QE_CHECK(token >= 0);
  if (history_.empty()) return;
  history_[history_head_] = token;
  history_head_ = (history_head_ + 1) % history_.size();
  history_size_ = std::min(history_size_ + 1, history_.size());
}

// xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/): fully specified integer arithmetic, so
// the stream is identical on every platform, unlike std::uniform_*_distribution.
uint64_t Sampler::next_u64() {
  const uint64_t result = rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = rotl(rng_[3], 45);
  return result;
}

double Sampler::next_unit_double() {
  // The top 53 bits fill a double's significand exactly: k * 2^-53 for k in [0, 2^53).
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

bool Sampler::penalties_active() const {
  return params_.repeat_last_n > 0 &&
         (params_.repeat_penalty != 1.0f || params_.presence_penalty != 0.0f ||
          params_.frequency_penalty != 0.0f);
}

bool Sampler::better(const Candidate& a, const Candidate& b) {
  // Total order (ids are unique), so the chosen set and its order do not depend on the library's
  // heap / nth_element / sort algorithms.
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// Top-p over candidates in id order (top-k off) without sorting the vocabulary, which on a flat
// distribution would mean sorting most of 150k entries per token. Weights are bucketed by their
// exponent and top two mantissa bits (4 buckets per octave, heaviest first), read from the bits so the
// bucketing is exact on every platform. Walking the bucket masses finds the bucket where the target
// is crossed; only that bucket is sorted. The nucleus is then filtered in place, keeping id order.
void Sampler::top_p_unsorted() {
  std::fill(bucket_mass_.begin(), bucket_mass_.end(), 0.0);
  for (const Candidate& c : cands_) bucket_mass_[weight_bucket(c.weight)] += c.weight;
  double total = 0.0;
  for (double m : bucket_mass_) total += m;
  const double target = static_cast<double>(params_.top_p) * total;

  // Heaviest buckets first: all of buckets [0, crossing) are in, bucket `crossing` partly.
  double before = 0.0;  // mass of buckets [0, crossing)
  size_t crossing = 0;
  while (crossing + 1 < kNumBuckets && before + bucket_mass_[crossing] < target) {
    before += bucket_mass_[crossing++];
  }
  tail_.clear();
  for (const Candidate& c : cands_) {
    if (weight_bucket(c.weight) == crossing) tail_.push_back(c);
  }
  if (tail_.empty()) return;  // only reachable through rounding: keep everything
  std::sort(tail_.begin(), tail_.end(), better);
  Candidate last = tail_.back();  // the worst candidate that stays in
  for (const Candidate& c : tail_) {
    before += c.weight;
    if (before >= target) {
      last = c;
      break;
    }
  }
  size_t kept = 0;
  for (const Candidate& c : cands_) {
    const size_t b = weight_bucket(c.weight);
    if (b < crossing || (b == crossing && !better(last, c))) cands_[kept++] = c;
  }
  cands_.resize(kept);
}

int32_t Sampler::sample(std::span<const float> logits) {
  QE_CHECK(!logits.empty());
  QE_CHECK(logits.size() <= static_cast<size_t>(std::numeric_limits<int32_t>::max()));
  const size_t n = logits.size();
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();

  // 1. Penalties on a private copy. NaN becomes -inf so the comparators below stay a strict order.
  logits_.resize(n);
  for (size_t i = 0; i < n; ++i) logits_[i] = std::isnan(logits[i]) ? kNegInf : logits[i];
  if (penalties_active() && history_size_ > 0) {
    std::copy(history_.begin(), history_.begin() + static_cast<std::ptrdiff_t>(history_size_),
              window_.begin());
    apply_penalties(logits_, std::span<int32_t>(window_.data(), history_size_), params_);
  }

  // 2. Greedy: truncation cannot change the argmax, so skip it entirely.
  if (params_.temperature <= 0.0f) return argmax(logits_);

  float max_logit = kNegInf;
  for (float l : logits_) max_logit = std::max(max_logit, l);
  if (!std::isfinite(max_logit)) return argmax(logits_);  // softmax undefined: degenerate to greedy
  const double inv_temperature = 1.0 / static_cast<double>(params_.temperature);
  if (cands_.capacity() < n) {
    cands_.reserve(n);
    tail_.reserve(n);
  }
  cands_.clear();
  bool sorted = false;  // cands_ in canonical order after top-k; otherwise in id order

  // 3. Top-k by heap selection (what std::partial_sort does): one pass, and once the heap is warm
  // almost every token is rejected by a single comparison with the worst kept one. With the
  // comparator `better` the heap's front is its worst member; sort_heap leaves the best first.
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    const size_t k = static_cast<size_t>(params_.top_k);
    for (size_t i = 0; i < n; ++i) {
      const float l = logits_[i];
      if (cands_.size() < k) {
        cands_.push_back({static_cast<int32_t>(i), l, 0.0});
        std::push_heap(cands_.begin(), cands_.end(), better);
      } else if (l > cands_.front().logit) {  // equal logit loses: its id is higher
        std::pop_heap(cands_.begin(), cands_.end(), better);
        cands_.back() = {static_cast<int32_t>(i), l, 0.0};
        std::push_heap(cands_.begin(), cands_.end(), better);
      }
    }
    std::sort_heap(cands_.begin(), cands_.end(), better);
    sorted = true;
  } else if (params_.top_p >= 1.0f && params_.min_p > 0.0f) {
    // Only min-p truncates, so skip the exp of tokens it would drop anyway: those whose scaled logit
    // is below ln(min_p) by a margin far larger than any libm's log error. The exact weight test in
    // step 6 still decides for everything near the boundary, so the result is unchanged.
    const double cutoff = std::log(static_cast<double>(params_.min_p)) - 1e-3;
    for (size_t i = 0; i < n; ++i) {
      if ((static_cast<double>(logits_[i]) - max_logit) * inv_temperature >= cutoff) {
        cands_.push_back({static_cast<int32_t>(i), logits_[i], 0.0});
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) cands_.push_back({static_cast<int32_t>(i), logits_[i], 0.0});
  }

  // 4. Temperature softmax, unnormalized: the largest logit (max_logit) gets weight exactly 1.
  double total = 0.0;
  for (Candidate& c : cands_) {
    c.weight = exp_nonpositive((static_cast<double>(c.logit) - max_logit) * inv_temperature);
    total += c.weight;
  }

  // 5. Top-p: keep the shortest run of most probable tokens whose mass reaches top_p.
  if (params_.top_p < 1.0f) {
    if (sorted) {
      const double target = static_cast<double>(params_.top_p) * total;
      double cum = 0.0;
      size_t keep = cands_.size();  // rounding left the mass just short of the target: keep all
      for (size_t i = 0; i < cands_.size(); ++i) {
        cum += cands_[i].weight;
        if (cum >= target) {
          keep = i + 1;
          break;
        }
      }
      cands_.resize(keep);
    } else {
      top_p_unsorted();
    }
  }

  // 6. Min-p: the top weight is exactly 1, so the threshold min_p * p_max is min_p itself. The
  // stable in-place filter keeps the canonical order.
  if (params_.min_p > 0.0f) {
    const double threshold = params_.min_p;
    size_t kept = 0;
    for (const Candidate& c : cands_) {
      if (c.weight >= threshold) cands_[kept++] = c;
    }
    cands_.resize(kept);
  }

  // 7. Draw. Zero-weight candidates can never be chosen because the comparison is strict.
  double mass = 0.0;
  for (const Candidate& c : cands_) mass += c.weight;
  const double u = next_unit_double() * mass;
  double acc = 0.0;
  for (const Candidate& c : cands_) {
    acc += c.weight;
    if (u < acc) return c.id;
  }
  return cands_.back().id;  // u rounded up to the full mass
}

}  // namespace qe
