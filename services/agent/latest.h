// The newest value of something, handed from one of the agent's threads to another. States, LB
// configs and statuses are whole, so only the newest matters: a value nobody took yet is replaced.
// Both hold a mutex only while a value is moved in or copied out, never while anyone works on it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <utility>

namespace pier::agent {

// One reader takes each value once (the bus thread's states and configs for a worker, a worker's
// samples for the bus thread).
template <class T>
class Mailbox {
 public:
  void put(T value) {
    {
      std::lock_guard lock(mutex_);
      value_ = std::move(value);
    }
    ready_.notify_all();
  }
  // The value put since the previous take, if any, without waiting.
  std::optional<T> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(value_, std::nullopt);
  }
  // The value put since the previous take, waiting up to timeout_ms for one; nullopt when none came
  // in time or `stop` was requested.
  std::optional<T> take(std::stop_token stop, int64_t timeout_ms) {
    std::unique_lock lock(mutex_);
    ready_.wait_for(lock, stop, std::chrono::milliseconds(timeout_ms), [&] { return value_.has_value(); });
    return std::exchange(value_, std::nullopt);
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any ready_;
  std::optional<T> value_;
};

// Wakes a thread that waits in poll(2) (or zmq::poll) on fd(): the bus thread, when a worker's
// status changed, so that the heartbeat telling of it leaves now rather than at the end of its wait.
class Wakeup {
 public:
  Wakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Wakeup() {
    if (fd_ >= 0) ::close(fd_);
  }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void notify() const {
    const uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd_, &one, sizeof one);  // EAGAIN: it is readable already
  }
  // Makes fd() unreadable again (after the waiting thread woke).
  void clear() const {
    uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(fd_, &count, sizeof count);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Any number of readers copy the newest value, as often as they like (a worker's status for the
// heartbeats, the LB servers for the reconciler).
template <class T>
class Snapshot {
 public:
  // `wake` (optional, outliving this) is notified of every change.
  explicit Snapshot(const Wakeup* wake = nullptr) : wake_(wake) {}

  // Replaces the value; `changed` counts it as a change that readers should report at once.
  void set(T value, bool changed) {
    {
      std::lock_guard lock(mutex_);
      value_ = std::move(value);
      if (changed) ++changes_;
    }
    if (changed && wake_ != nullptr) wake_->notify();
  }
  T get() const {
    std::lock_guard lock(mutex_);
    return value_;
  }
  // How many set() calls counted as changes so far.
  uint64_t changes() const {
    std::lock_guard lock(mutex_);
    return changes_;
  }

 private:
  const Wakeup* wake_;
  mutable std::mutex mutex_;
  T value_{};
  uint64_t changes_ = 0;
};

}  // namespace pier::agent
