// The persisted names of measurement statuses. These strings are stored in tuning databases and
// JSON exports, so they must never change once released; status_from_string is their inverse.

#include "attune/measurement.hpp"

#include <array>
#include <utility>

namespace attune {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 7> kStatusNames{{
    {Status::Ok, "ok"},
    {Status::Invalid, "invalid"},
    {Status::CompileFailed, "compile_failed"},
    {Status::RuntimeFailed, "runtime_failed"},
    {Status::Timeout, "timeout"},
    {Status::VerifyFailed, "verify_failed"},
    {Status::OverLimits, "over_limits"},
}};

}  // namespace

std::string_view to_string(Status status) noexcept {
  for (const auto& [value, name] : kStatusNames) {
    if (value == status) return name;
  }
  return "unknown";
}

std::optional<Status> status_from_string(std::string_view name) noexcept {
  for (const auto& [value, text] : kStatusNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

}  // namespace attune
