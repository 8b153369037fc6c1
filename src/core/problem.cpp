// The problem key: named sizes, element type and flags, with one canonical text form so that the
// same problem always maps to the same stored decision.

#include "attune/problem.hpp"

#include "attune/error.hpp"

namespace attune {

Problem::Problem(std::vector<std::pair<std::string, std::int64_t>> dims, std::string dtype,
                 std::vector<std::string> flags)
    : dims_(std::move(dims)), dtype_(std::move(dtype)), flags_(std::move(flags)) {}

std::int64_t Problem::dim(const std::string& name) const {
  for (const auto& [n, v] : dims_) {
    if (n == name) return v;
  }
  throw Error(ErrorCode::UnknownName, "problem " + key() + " has no size named '" + name + "'");
}

std::string Problem::key() const {
  std::string text;
  for (const auto& [name, value] : dims_) {
    if (!text.empty()) text += ',';
    text += name + '=' + std::to_string(value);
  }
  text += ';' + dtype_;
  for (const auto& flag : flags_) text += ';' + flag;
  return text;
}

nlohmann::json Problem::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : dims_) j[name] = value;
  j["dtype"] = dtype_;
  if (!flags_.empty()) j["flags"] = flags_;
  return j;
}

}  // namespace attune
