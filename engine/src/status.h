// Status and Result<T>: recoverable errors carried as values with a message a user can act on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace qe {

// Error categories; they map one-to-one onto the public qe_status codes.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 1,  // bad request or flag value
  kIoError = 2,          // file cannot be opened or read
  kBadFormat = 3,        // file is not valid (corrupt, truncated, unsupported)
  kUnsupported = 4,      // valid but not implemented (unknown architecture, tensor type)
  kOutOfMemory = 5,
  kContextFull = 6,      // prompt or generation does not fit the context window
  kInternal = 7,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool is_ok() const { return code_ == Code::kOk; }
  explicit operator bool() const { return is_ok(); }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status error(Code code, std::string message) { return Status(code, std::move(message)); }

// Result<T>: a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() { return std::get<0>(v_); }
  Status status() const { return is_ok() ? Status() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace qe

// Always-on invariant check: a failure is a bug in qengine, not bad input.
#define QE_CHECK(cond)                                                                   \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "qengine: internal check failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   #cond);                                                               \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// Propagate a non-ok Status from an expression.
#define QE_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::qe::Status qe_status_ = (expr);     \
    if (!qe_status_.is_ok()) return qe_status_; \
  } while (0)
