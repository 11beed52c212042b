// The generation loop.
#include "generate.h"

#include <algorithm>
#include <chrono>

namespace qe {
namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kEndOfGeneration: return "end of generation";
    case StopReason::kMaxTokens: return "max tokens";
    case StopReason::kStopString: return "stop string";
    case StopReason::kContextFull: return "context full";
    case StopReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

std::string StopMatcher::push(std::string_view text, bool* hit) {
  *hit = false;
  pending_.append(text);
  // Earliest complete stop string wins.
  size_t cut = std::string::npos;
  for (const auto& s : stops_) {
    if (s.empty()) continue;
    cut = std::min(cut, pending_.find(s));
  }
  if (cut != std::string::npos) {
    *hit = true;
    std::string out = pending_.substr(0, cut);
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

Result<GenerateStats> generate(Context& ctx, Sampler& sampler, std::string_view prompt, const GenerateParams& p,
                               const TextFn& on_text) {
  const tok::Tokenizer& tk = ctx.model().tokenizer();
  GenerateStats st;
  std::vector<int32_t> tokens = tk.encode(prompt, p.add_bos && tk.add_bos_default(), p.parse_special);
  // A chat template may render the BOS text itself; never feed BOS twice.
  if (tokens.size() >= 2 && tokens[0] == tk.bos() && tokens[1] == tk.bos()) tokens.erase(tokens.begin());
  if (tokens.empty()) return error(Code::kInvalidArgument, "the prompt is empty");
  if (static_cast<int64_t>(tokens.size()) >= ctx.n_ctx()) {
    return error(Code::kContextFull, "the prompt is " + std::to_string(tokens.size()) + " tokens but the context holds " +
                                         std::to_string(ctx.n_ctx()) +
                                         " (including at least one generated token); raise it with -c or shorten the prompt");
  }
  st.n_prompt = static_cast<int32_t>(tokens.size());
  for (int32_t t : tokens) sampler.accept(t);

  // Reuse the cached prefix; at least one token is evaluated so fresh logits exist.
  const auto cached = ctx.tokens();
  size_t keep = 0;
  while (keep < cached.size() && keep < tokens.size() && cached[keep] == tokens[keep]) ++keep;
  if (keep == tokens.size()) --keep;
  QE_RETURN_IF_ERROR(ctx.truncate(static_cast<int32_t>(keep)));
  auto t0 = std::chrono::steady_clock::now();
  // Batch by batch, so a long prompt can report its progress.
  const std::span<const int32_t> todo = std::span<const int32_t>(tokens).subspan(keep);
  for (size_t i = 0; i < todo.size();) {
    const size_t len = std::min(todo.size() - i, static_cast<size_t>(ctx.n_batch()));
    QE_RETURN_IF_ERROR(ctx.eval(todo.subspan(i, len)));
    i += len;
    if (p.on_prompt_progress) p.on_prompt_progress(static_cast<float>(i) / static_cast<float>(todo.size()));
  }
  st.prompt_ms = ms_since(t0);
  st.n_prompt_evaluated = static_cast<int32_t>(tokens.size() - keep);

  tok::StreamDecoder decoder(tk);
  StopMatcher stops(p.stop);
  t0 = std::chrono::steady_clock::now();
  bool done = false;
  auto emit = [&](const std::string& text) {
    if (!text.empty() && on_text && !on_text(text)) {
      st.stop = StopReason::kCancelled;
      done = true;
    }
  };
  if (p.max_tokens == 0) {
    st.stop = StopReason::kMaxTokens;
    done = true;
  }
  // Each sampled token is evaluated before the next is drawn; the last one is not, since the
  // next call's prefix matching evaluates whatever the cache lacks.
  while (!done) {
    const int32_t tok = sampler.sample(std::span<const float>(ctx.logits(-1), static_cast<size_t>(tk.n_vocab())));
    sampler.accept(tok);
    if (tk.is_eog(tok)) {
      st.stop = StopReason::kEndOfGeneration;
      break;
    }
    ++st.n_generated;
    bool hit = false;
    emit(stops.push(decoder.feed(tok), &hit));
    if (hit) st.stop = StopReason::kStopString;
    if (hit || done) break;
    if (p.max_tokens >= 0 && st.n_generated >= p.max_tokens) {
      st.stop = StopReason::kMaxTokens;
      break;
    }
    if (ctx.n_past() >= ctx.n_ctx()) {
      st.stop = StopReason::kContextFull;
      break;
    }
    const int32_t one[1] = {tok};
    QE_RETURN_IF_ERROR(ctx.eval(one));
  }
  if (st.stop != StopReason::kStopString && st.stop != StopReason::kCancelled) {
    bool hit = false;
    std::string tail = stops.push(decoder.flush(), &hit);
    if (!hit) tail += stops.flush();
    emit(tail);
  }
  st.gen_ms = ms_since(t0);
  return st;
}

}  // namespace qe
