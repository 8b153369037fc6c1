#pragma once
// Checks for numeric flags whose errors read "--budget: '0' is not a positive number" rather
// than CLI11's own, which spell out the largest double as the end of the allowed range.

#include <CLI/CLI.hpp>
#include <string>

namespace attune::cli {

namespace detail {
inline CLI::Validator number_at_least(bool zero_allowed, const char* what) {
  return CLI::Validator(
      [zero_allowed, what](std::string& text) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(text, value)) return "'" + text + "' is not a number";
        if (value > 0.0 || (zero_allowed && value == 0.0)) return {};
        return "'" + text + "' is not " + what;
      },
      zero_allowed ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace detail

/// Accepts numbers > 0.
inline const CLI::Validator kPositive = detail::number_at_least(false, "a positive number");
/// Accepts numbers >= 0.
inline const CLI::Validator kNonNegative = detail::number_at_least(true, "zero or more");

}  // namespace attune::cli
