// A temporary folder for one test, removed with everything in it afterwards.
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace pier::testing {

class TempDir {
 public:
  // Makes /tmp/<prefix>XXXXXX; throws std::runtime_error naming the folder and the reason when it cannot.
  explicit TempDir(const std::string& prefix = "pier-test-") {
    std::string tmpl = "/tmp/" + prefix + "XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      const int error = errno;
      throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(error));
    }
    path_ = tmpl;
  }
  ~TempDir() {
    if (path_.empty() || keep_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})), keep_(other.keep_) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Leaves the folder and what is in it in place afterwards (for a person to read after a failed run).
  void keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace pier::testing
