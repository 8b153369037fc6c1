#pragma once
/// \file
/// What one evaluation of one configuration produced: a status, every timing sample and their
/// statistics, and where the time went. Failures are data: a Measurement with a non-ok status is
/// recorded like any other and never thrown.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attune/statistics.hpp"

namespace attune {

enum class Status {
  Ok,             ///< ran, verified, timed
  Invalid,        ///< the configuration violates a rule the space could not express
  CompileFailed,  ///< building the configuration failed
  RuntimeFailed,  ///< it crashed, or the backend reported an error while running it
  Timeout,        ///< one call ran longer than the per-configuration timeout
  VerifyFailed,   ///< its output differs from the reference beyond tolerance (or holds NaN)
  OverLimits,     ///< it needs more than the device has (threads, memory, registers)
};

/// "ok", "invalid", "compile_failed", "runtime_failed", "timeout", "verify_failed", "over_limits".
std::string_view to_string(Status status) noexcept;
/// The inverse of to_string; nullopt for an unknown name.
std::optional<Status> status_from_string(std::string_view name) noexcept;

struct Measurement {
  Status status = Status::Ok;
  /// Why it failed (compiler log excerpt, verification errors); empty when ok.
  std::string message;
  /// Seconds per call, one entry per sample (a sample may time many back-to-back calls).
  std::vector<double> samples_s;
  /// How many back-to-back calls each sample timed.
  std::size_t calls_per_sample = 1;
  /// For a side-by-side comparison (Evaluator::compare): the median of each round's samples, in
  /// round order. Empty for a single measurement.
  std::vector<double> round_medians_s;
  /// Statistics over samples_s, or over round_medians_s when there are any, so that every round
  /// weighs the same: the harness takes more samples in a round disturbed by the machine (it
  /// samples until the median is known to 2%), and pooled, those would outvote the quiet rounds.
  /// Meaningful only when status is Ok.
  Summary summary;
  /// True when the result looked faster than the best so far by more than the noise and was
  /// measured a second time before being believed.
  bool rechecked = false;
  double compile_s = 0.0;  ///< building the configuration
  double verify_s = 0.0;   ///< running it once on check inputs and comparing
  double measure_s = 0.0;  ///< warm-up and timed runs together

  bool ok() const noexcept { return status == Status::Ok; }
  /// The objective the tuner minimizes: the median seconds per call. Only valid when ok().
  double objective() const noexcept { return summary.median; }
};

}  // namespace attune
