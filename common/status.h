// Errors as values at module boundaries: a Status says what went wrong in words an operator can act on.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace pier {

// A failed check names the field it concerns and the rule the field broke, so that a reply to a bad
// command can say "replicas: must be between 0 and 1000" and nothing else needs parsing.
class Status {
 public:
  Status() = default;
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::string(), std::string(), std::move(message)); }
  static Status Invalid(std::string field, std::string rule) {
    std::string message = field + ": " + rule;
    return Status(std::move(field), std::move(rule), std::move(message));
  }

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& field() const { return field_; }
  const std::string& rule() const { return rule_; }
  const std::string& message() const { return message_; }

 private:
  Status(std::string field, std::string rule, std::string message)
      : failed_(true), field_(std::move(field)), rule_(std::move(rule)), message_(std::move(message)) {}

  bool failed_ = false;
  std::string field_;
  std::string rule_;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace pier
