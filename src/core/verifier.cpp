// Output verification: the arithmetic every backend shares to decide whether a configuration
// computed the right thing. Errors are accumulated in double whatever the output type, and the L2
// norms are scaled by the largest magnitude first so double outputs near 1e200 do not overflow.

#include "attune/verifier.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "attune/error.hpp"

namespace attune {
namespace {

constexpr int kMessagePrecision = 9;

// ||values||_2 computed as scale * sqrt(sum((v / scale)^2)) with scale = max |v|: no overflow or
// underflow of the squares.
template <typename Fn>
double scaled_norm(std::size_t n, double scale, Fn value_at) {
  if (scale == 0.0) return 0.0;
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = value_at(i);
    if (std::isfinite(v)) sum += (v / scale) * (v / scale);
  }
  return scale * std::sqrt(sum);
}

template <typename T>
VerifyResult compare_impl(std::span<const T> got, std::span<const double> expected,
                          Tolerance tolerance) {
  if (got.size() != expected.size()) {
    throw Error(ErrorCode::InvalidArgument,
                "compare: the output has " + std::to_string(got.size()) +
                    " elements but the reference has " + std::to_string(expected.size()));
  }
  if (!(tolerance.rel_l2 >= 0) || !(tolerance.max_abs >= 0)) {
    throw Error(ErrorCode::InvalidArgument, "compare: tolerances must be >= 0 (rel_l2 " +
                                                std::to_string(tolerance.rel_l2) + ", max_abs " +
                                                std::to_string(tolerance.max_abs) + ")");
  }

  VerifyResult r;
  const std::size_t n = got.size();
  const auto finite_pair = [&](std::size_t i) {
    return std::isfinite(static_cast<double>(got[i])) && std::isfinite(expected[i]);
  };
  const auto error_at = [&](std::size_t i) {
    return finite_pair(i) ? static_cast<double>(got[i]) - expected[i] : 0.0;
  };

  std::size_t first_non_finite = VerifyResult::kNoIndex;
  std::size_t first_over_abs = VerifyResult::kNoIndex;
  std::size_t largest_error_index = VerifyResult::kNoIndex;
  bool reference_non_finite = false;
  double max_expected = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool got_finite = std::isfinite(static_cast<double>(got[i]));
    if (!got_finite) ++r.nan_count;
    if (!got_finite || !std::isfinite(expected[i])) {
      if (first_non_finite == VerifyResult::kNoIndex) {
        first_non_finite = i;
        reference_non_finite = got_finite;
      }
      continue;
    }
    const double abs_error = std::abs(error_at(i));
    if (largest_error_index == VerifyResult::kNoIndex || abs_error > r.max_abs_error) {
      r.max_abs_error = abs_error;
      largest_error_index = i;
    }
    if (abs_error > tolerance.max_abs && first_over_abs == VerifyResult::kNoIndex) {
      first_over_abs = i;
    }
    max_expected = std::max(max_expected, std::abs(expected[i]));
  }

  const double error_norm = scaled_norm(n, r.max_abs_error, error_at);
  const double expected_norm = scaled_norm(
      n, max_expected, [&](std::size_t i) { return finite_pair(i) ? expected[i] : 0.0; });
  r.rel_l2_error = error_norm / std::max(expected_norm, std::numeric_limits<double>::min());

  const bool rel_ok = r.rel_l2_error <= tolerance.rel_l2;
  if (first_non_finite != VerifyResult::kNoIndex) {
    r.first_bad_index = first_non_finite;
  } else if (first_over_abs != VerifyResult::kNoIndex) {
    r.first_bad_index = first_over_abs;
  } else if (!rel_ok) {
    r.first_bad_index = largest_error_index;
  } else {
    r.ok = true;
    return r;
  }

  const std::size_t i = r.first_bad_index;
  std::ostringstream out;
  out.precision(kMessagePrecision);
  out << "element " << i << ": got " << static_cast<double>(got[i]) << ", expected " << expected[i];
  if (first_non_finite != VerifyResult::kNoIndex) {
    out << (reference_non_finite ? " (the reference is not finite there)"
                                 : " (not finite; a NaN is an element never written)");
  } else {
    out << " (abs error " << std::abs(error_at(i)) << ")";
  }
  out << "; " << r.nan_count << " of " << n << " output elements not finite"
      << "; max abs error " << r.max_abs_error << " (tolerance " << tolerance.max_abs << ")"
      << "; relative L2 error " << r.rel_l2_error << " (tolerance " << tolerance.rel_l2 << ")";
  r.message = out.str();
  return r;
}

template <typename T>
void fill_nan(std::span<T> output) noexcept {
  std::fill(output.begin(), output.end(), std::numeric_limits<T>::quiet_NaN());
}

}  // namespace

VerifyResult compare(std::span<const float> got, std::span<const double> expected,
                     Tolerance tolerance) {
  return compare_impl(got, expected, tolerance);
}

VerifyResult compare(std::span<const double> got, std::span<const double> expected,
                     Tolerance tolerance) {
  return compare_impl(got, expected, tolerance);
}

void poison(std::span<float> output) noexcept { fill_nan(output); }
void poison(std::span<double> output) noexcept { fill_nan(output); }

Tolerance default_tolerance_f32() noexcept { return {.rel_l2 = 1e-4, .max_abs = 1e-2}; }
Tolerance default_tolerance_f64() noexcept { return {.rel_l2 = 1e-10, .max_abs = 1e-8}; }

}  // namespace attune
