// qengine.hpp: a thin C++ RAII layer over the C API; failures throw qengine::Error.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qengine/qengine.h"

namespace qengine {

class Error : public std::runtime_error {
 public:
  Error(qe_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  qe_status status() const { return status_; }

 private:
  qe_status status_;
};

inline void check(qe_status s) {
  if (s != QE_OK) throw Error(s, qe_last_error());
}

namespace detail {
// Calls f(buf, capacity, &needed) twice when the first buffer is too small.
template <typename F>
std::string fetch_text(F&& f) {
  std::string out(256, '\0');
  size_t needed = 0;
  qe_status s = f(out.data(), out.size(), &needed);
  if (s == QE_ERR_BUFFER_TOO_SMALL) {
    out.resize(needed + 1);
    s = f(out.data(), out.size(), &needed);
  }
  check(s);
  out.resize(needed);
  return out;
}
}  // namespace detail

class Model {
 public:
  explicit Model(const std::string& path, const qe_model_params* params = nullptr) {
    qe_model* m = nullptr;
    check(qe_model_load(path.c_str(), params, &m));
    m_.reset(m);
  }
  qe_model* get() const { return m_.get(); }
  qe_model_desc describe() const {
    qe_model_desc d{};
    check(qe_model_describe(m_.get(), &d));
    return d;
  }
  std::vector<int32_t> tokenize(std::string_view text, bool add_bos = true, bool parse_special = false) const {
    std::vector<int32_t> ids(text.size() + 2);
    size_t n = 0;
    qe_status s = qe_tokenize(m_.get(), text.data(), text.size(), add_bos, parse_special, ids.data(), ids.size(), &n);
    if (s == QE_ERR_BUFFER_TOO_SMALL) {
      ids.resize(n);
      s = qe_tokenize(m_.get(), text.data(), text.size(), add_bos, parse_special, ids.data(), ids.size(), &n);
    }
    check(s);
    ids.resize(n);
    return ids;
  }
  std::string detokenize(const std::vector<int32_t>& ids, bool skip_special = false) const {
    return detail::fetch_text([&](char* b, size_t c, size_t* n) {
      return qe_detokenize(m_.get(), ids.data(), ids.size(), skip_special, b, c, n);
    });
  }
  // messages: (role, content) pairs.
  std::string apply_chat_template(const std::vector<std::pair<std::string, std::string>>& messages,
                                  bool add_assistant = true, const char* template_name = nullptr) const {
    std::vector<qe_chat_message> m;
    m.reserve(messages.size());
    for (const auto& [role, content] : messages) m.push_back({role.c_str(), content.c_str()});
    return detail::fetch_text([&](char* b, size_t c, size_t* n) {
      return qe_chat_apply_template(m_.get(), template_name, m.data(), m.size(), add_assistant, b, c, n);
    });
  }

 private:
  struct Free {
    void operator()(qe_model* m) const { qe_model_free(m); }
  };
  std::unique_ptr<qe_model, Free> m_;
};

class Sampler {
 public:
  explicit Sampler(const qe_sampler_params& p = qe_sampler_default_params()) {
    qe_sampler* s = nullptr;
    check(qe_sampler_create(&p, &s));
    s_.reset(s);
  }
  qe_sampler* get() const { return s_.get(); }

 private:
  struct Free {
    void operator()(qe_sampler* s) const { qe_sampler_free(s); }
  };
  std::unique_ptr<qe_sampler, Free> s_;
};

class Context {
 public:
  explicit Context(const Model& model, const qe_context_params& p = qe_context_default_params()) {
    qe_context* c = nullptr;
    check(qe_context_create(model.get(), &p, &c));
    c_.reset(c);
  }
  qe_context* get() const { return c_.get(); }
  int32_t n_ctx() const { return qe_context_n_ctx(c_.get()); }
  int32_t n_past() const { return qe_context_n_past(c_.get()); }
  void eval(const std::vector<int32_t>& tokens, bool all_logits = false) {
    check(qe_eval(c_.get(), tokens.data(), tokens.size(), all_logits));
  }
  const float* logits(int32_t i = -1) const { return qe_get_logits(c_.get(), i); }

  // Generates a continuation of `prompt`, calling on_text for each piece (return false to stop).
  qe_generate_stats generate(Sampler& sampler, const std::string& prompt,
                             const std::function<bool(std::string_view)>& on_text, int32_t max_tokens = -1,
                             const std::vector<std::string>& stop = {}) {
    std::vector<const char*> stops;
    for (const auto& s : stop) stops.push_back(s.c_str());
    qe_generate_params p = qe_generate_default_params();
    p.max_tokens = max_tokens;
    p.stop = stops.data();
    p.n_stop = stops.size();
    p.on_text = [](const char* t, size_t n, void* u) {
      return (*static_cast<const std::function<bool(std::string_view)>*>(u))(std::string_view(t, n));
    };
    p.user_data = const_cast<std::function<bool(std::string_view)>*>(&on_text);
    qe_generate_stats st{};
    check(qe_generate(c_.get(), sampler.get(), prompt.c_str(), &p, &st));
    return st;
  }

 private:
  struct Free {
    void operator()(qe_context* c) const { qe_context_free(c); }
  };
  std::unique_ptr<qe_context, Free> c_;
};

}  // namespace qengine
