#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace verity {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input or config; not retryable
  kNotFound,
  kAlreadyExists,
  kUnavailable,        // a resource is down or full (disk, network); usually retryable
  kResourceExhausted,  // a limit was hit (queue, size)
  kFailedPrecondition,
  kInternal,  // a broken invariant or an unexpected library error
};

std::string_view status_code_name(StatusCode code);

// The outcome of an operation at a module boundary. Cheap to copy when ok (no allocation).
// A message names key paths, lines, partitions or endpoints, never a payload value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message, bool retryable = false)
      : code_(code), message_(std::move(message)), retryable_(retryable) {}

  static Status ok() { return Status(); }
  static Status invalid_argument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status unavailable(std::string m, bool retryable = true) {
    return {StatusCode::kUnavailable, std::move(m), retryable};
  }
  static Status resource_exhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m), true};
  }
  static Status failed_precondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return retryable_; }

  // "InvalidArgument: message" or "OK".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  bool retryable_ = false;
};

// A value or the Status explaining why there is none. Accessing value() of an error asserts.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get_if<Status>(&v_)->is_ok() && "Result built from an ok Status has no value");
  }

  bool is_ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return is_ok(); }

  // Never throws (std::get would throw bad_variant_access): the value of an error is a broken
  // invariant, caught by the assertion in debug builds.
  const T& value() const& {
    assert(is_ok());
    return *std::get_if<T>(&v_);
  }
  T& value() & {
    assert(is_ok());
    return *std::get_if<T>(&v_);
  }
  T&& value() && {
    assert(is_ok());
    return std::move(*std::get_if<T>(&v_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  Status status() const { return is_ok() ? Status::ok() : *std::get_if<Status>(&v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace verity
