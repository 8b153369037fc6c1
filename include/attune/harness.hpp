#pragma once
/// \file
/// The harness: the one place that turns "run this once" into a trustworthy number, for every
/// backend. It warms up, grows the number of back-to-back calls per sample until a sample lasts
/// long enough for the clock, collects samples until the confidence interval of the median is
/// tight or a cap is reached, maps timeouts and failures to statuses, and measures a second time
/// a result that looks faster than the best so far by more than the noise.
///
/// The backend owns the clock (steady_clock on a CPU, events on a GPU): the harness only adds up
/// the seconds the backend reports, so it can be tested against a scripted fake.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "attune/measurement.hpp"

namespace attune {

/// What running a prepared kernel `calls` times back to back produced.
struct RunOutcome {
  /// Ok, or why the batch failed (RuntimeFailed for a crash or a device error, Timeout when the
  /// backend itself stopped a call that ran too long).
  Status status = Status::Ok;
  /// Total elapsed seconds of the whole batch, measured by the backend; finite and >= 0.
  double seconds = 0.0;
  /// Why it failed; empty when ok.
  std::string message;
};

/// Runs the prepared kernel `calls` (>= 1) times back to back and reports the batch. May throw:
/// the harness maps an exception to Status::RuntimeFailed with its what().
using RunBatch = std::function<RunOutcome(std::size_t calls)>;

/// How the harness measures. The defaults suit kernels from a microsecond to a few seconds.
struct HarnessOptions {
  /// Calls in the one warm-up batch run first and discarded (first-touch page faults, cold
  /// caches, lazy JIT, GPU clocks ramping up). 0 skips the warm-up.
  std::size_t warmup_calls = 1;
  /// A sample lasts at least this many seconds: calls per sample start at 1 and grow
  /// geometrically, predicted from the last batch (as Google Benchmark does), until a batch lasts
  /// this long. Long enough that clock resolution and launch overhead are below 0.1% of a sample.
  double min_sample_s = 1e-3;
  /// Growth stops here even if a sample is still shorter than min_sample_s.
  std::size_t max_calls_per_sample = 1'000'000'000;
  /// Samples always collected (unless a cap or a failure ends the measurement first).
  std::size_t min_samples = 5;
  /// Sampling stops here even if the confidence interval is still wide.
  std::size_t max_samples = 200;
  /// Stop once the 95% confidence interval's half-width of the median is within this fraction of
  /// the median (0.02: within 2%), checked once at least min_samples are in.
  double target_rel_ci = 0.02;
  /// Cap on one measurement, in reported seconds of the growth and sample batches (the warm-up is
  /// not counted, so a slow first call cannot starve the samples; it is in measure_s): no new
  /// batch starts once this much is spent. Wins over min_samples; at least one sample is always
  /// taken unless the kernel fails or times out. A re-check gets a budget of its own.
  double max_measure_s = 1.0;
  /// A batch whose seconds / calls exceed this ends the measurement with Status::Timeout. The
  /// harness sees only batches, so it compares the mean call of a batch; a backend that can stop
  /// a hung call (a worker process, a watchdog) should use this value itself and report Timeout.
  double timeout_s = 10.0;
  /// Re-check rule: when measure() is given best_so_far_s and the result's ci_high is below
  /// best_so_far_s * (1 - recheck_margin), the whole measurement (warm-up included) is repeated
  /// and the slower of the two medians is believed. In [0, 1).
  double recheck_margin = 0.05;
  /// Called before every batch (warm-up, growth and samples), outside the backend's timed region:
  /// the backend rotates inputs or flushes caches here so a cache-resident rerun does not flatter
  /// a configuration. Exceptions it throws are mapped like those of the batch.
  std::function<void()> before_sample;
};

/// Measures prepared kernels with fixed options. Stateless between calls and safe to share
/// between threads as long as the RunBatch and before_sample callables are.
class Harness {
 public:
  /// Throws Error(InvalidArgument) when an option is out of range: min_sample_s < 0,
  /// max_calls_per_sample == 0, min_samples == 0, max_samples < min_samples, target_rel_ci < 0,
  /// max_measure_s <= 0, timeout_s <= 0, recheck_margin outside [0, 1), or any NaN.
  explicit Harness(HarnessOptions options = {});

  /// Measures one prepared kernel through `run`:
  ///  1. one warm-up batch of warmup_calls, discarded;
  ///  2. growth: batches of 1, then predicted calls (calls * 1.4 * min_sample_s / seconds, or
  ///     x10 while a batch lasts under a tenth of min_sample_s, always at least one more call,
  ///     capped at max_calls_per_sample) until a batch lasts min_sample_s, hits the call cap or
  ///     the budget; that last batch is the first sample;
  ///  3. sampling with that fixed calls_per_sample, stopping at the first of: max_samples
  ///     samples; max_measure_s spent after the warm-up; at least min_samples samples with
  ///     summary.relative_ci_half_width() <= target_rel_ci;
  ///  4. re-check (see HarnessOptions::recheck_margin) when best_so_far_s is given and the
  ///     result is ok: a second full measurement; if it fails, its status is the result (message
  ///     prefixed "on re-check: "); else the one with the larger median is returned. Either way
  ///     rechecked is true and measure_s is the sum of both.
  /// The result holds samples_s in seconds per call, calls_per_sample, their summary and
  /// measure_s (every reported second, warm-up included); compile_s and verify_s are left 0.
  /// A non-ok RunOutcome, a batch over the timeout, an invalid reported time (NaN, inf or
  /// negative: RuntimeFailed) or an exception from `run` or before_sample ends the measurement
  /// with that status and message, keeping the samples gathered so far. Never throws for a
  /// failing kernel; throws Error(InvalidArgument) only when best_so_far_s is not finite and > 0.
  [[nodiscard]] Measurement measure(const RunBatch& run,
                                    std::optional<double> best_so_far_s = std::nullopt) const;

  [[nodiscard]] const HarnessOptions& options() const { return options_; }

 private:
  HarnessOptions options_;
};

}  // namespace attune
