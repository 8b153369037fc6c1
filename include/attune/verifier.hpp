#pragma once
/// \file
/// Checks a configuration's output against a reference (a reference kernel, or the first valid
/// configuration) before it is timed. Outputs are poisoned with NaN before the run, so an element
/// the kernel never writes fails; NaN or infinity in an output never passes.

#include <cstddef>
#include <limits>
#include <span>
#include <string>

namespace attune {

/// How far an output may be from the reference. Both must hold for the output to pass.
struct Tolerance {
  /// Bound on ||got - expected||_2 / max(||expected||_2, DBL_MIN): the error of the whole output
  /// relative to its size; catches errors spread over many elements.
  double rel_l2 = 0.0;
  /// Bound on max_i |got_i - expected_i|: catches one badly wrong element that the L2 norm of a
  /// large output would dilute. Absolute, so set it for the magnitude of the outputs.
  double max_abs = 0.0;
};

/// The outcome of one comparison.
struct VerifyResult {
  /// first_bad_index when no element is bad.
  static constexpr std::size_t kNoIndex = std::numeric_limits<std::size_t>::max();

  /// True when no element is NaN or infinite (in the output or the reference) and both errors are
  /// within tolerance.
  bool ok = false;
  /// Relative L2 error over the elements where both output and reference are finite.
  double rel_l2_error = 0.0;
  /// Largest absolute error over the elements where both output and reference are finite.
  double max_abs_error = 0.0;
  /// Output elements that are NaN or +-infinity (a poisoned element the kernel never wrote counts).
  std::size_t nan_count = 0;
  /// The element the message is about: the first non-finite one; else the first whose absolute
  /// error exceeds max_abs; else, when only the relative L2 error is too large, the element with
  /// the largest absolute error. kNoIndex when ok.
  std::size_t first_bad_index = kNoIndex;
  /// Empty when ok; else names first_bad_index, the value there, the expected value, the errors
  /// and the tolerances.
  std::string message;
};

/// Compares a float output with a reference computed in double. Both spans must have the same
/// size (else throws Error(InvalidArgument)), as must the tolerances be >= 0 and not NaN. Never
/// throws for a wrong output: that is a result with ok == false. Empty spans compare ok.
VerifyResult compare(std::span<const float> got, std::span<const double> expected,
                     Tolerance tolerance);
/// The same for a double output.
VerifyResult compare(std::span<const double> got, std::span<const double> expected,
                     Tolerance tolerance);

/// Fills the output with a quiet NaN before a verification run, so any element the kernel does not
/// write fails the comparison.
void poison(std::span<float> output) noexcept;
void poison(std::span<double> output) noexcept;

/// Tolerance for float outputs against a double reference: rel_l2 = 1e-4, max_abs = 1e-2. A float
/// sum of k terms drifts by about sqrt(k) * 6e-8 relative, so this passes reductions of millions
/// of terms on order-one data, and fails an element off by more than 1% of order one. Outputs of
/// larger magnitude need a max_abs of their own.
Tolerance default_tolerance_f32() noexcept;
/// Tolerance for double outputs: rel_l2 = 1e-10, max_abs = 1e-8, with the same reasoning at
/// 1.1e-16 per operation.
Tolerance default_tolerance_f64() noexcept;

}  // namespace attune
