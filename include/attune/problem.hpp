#pragma once
/// \file
/// The key a tuning decision is valid for: the problem's shape, element type and flags. Two calls
/// with equal problems may share a decision; different problems never do.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune {

class Problem {
 public:
  Problem() = default;
  /// `dims` are named sizes in a fixed order (e.g. m, n, k); `dtype` is the element type ("f32").
  Problem(std::vector<std::pair<std::string, std::int64_t>> dims, std::string dtype,
          std::vector<std::string> flags = {});

  const std::vector<std::pair<std::string, std::int64_t>>& dims() const { return dims_; }
  /// The size named `name`; throws Error(UnknownName) when there is none.
  std::int64_t dim(const std::string& name) const;
  const std::string& dtype() const { return dtype_; }
  const std::vector<std::string>& flags() const { return flags_; }

  /// Canonical text form, e.g. "m=1024,n=1024,k=1024;f32" (flags appended with ';').
  std::string key() const;
  nlohmann::json to_json() const;
  bool operator==(const Problem&) const = default;

 private:
  std::vector<std::pair<std::string, std::int64_t>> dims_;
  std::string dtype_;
  std::vector<std::string> flags_;
};

}  // namespace attune
