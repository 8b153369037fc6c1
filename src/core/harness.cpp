// The measurement harness shared by every backend: warm-up, growth of calls per sample predicted
// from the last batch (Google Benchmark's runner is the model), sampling until the median's
// confidence interval is tight or a cap is hit, and the re-check of a suspiciously fast result.
// It never reads a clock itself; every second it counts is one the backend reported.

#include "attune/harness.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <utility>

#include "attune/error.hpp"
#include "attune/statistics.hpp"

namespace attune {
namespace {

// Google Benchmark's constants: aim 40% past the minimum so the next batch clears it despite
// noise, and jump x10 while a batch is too short for its time to predict anything.
constexpr double kGrowthOvershoot = 1.4;
constexpr double kSignificantFraction = 0.1;
constexpr double kBlindMultiplier = 10.0;
// A batch reported as taking no time (a coarse clock) still predicts a finite multiplier.
constexpr double kMinPredictSeconds = 1e-9;

std::string format_seconds(double seconds) {
  std::ostringstream out;
  out << seconds << " s";
  return out.str();
}

// Runs batches for one measurement and records into it. A batch that fails in any way sets the
// measurement's status and message and reports false; the caller stops there.
class BatchRunner {
 public:
  BatchRunner(const HarnessOptions& options, const RunBatch& run, Measurement& result)
      : options_(options), run_(run), result_(result) {}

  bool run(std::size_t calls, double& seconds) {
    RunOutcome outcome;
    try {
      if (options_.before_sample) options_.before_sample();
      outcome = run_(calls);
    } catch (const std::exception& e) {
      return fail(Status::RuntimeFailed, e.what());
    } catch (...) {
      return fail(Status::RuntimeFailed,
                  "the kernel threw an exception that is not a std::exception");
    }
    if (outcome.status != Status::Ok) {
      // Seconds that a failing batch reports are still time spent on the configuration.
      if (std::isfinite(outcome.seconds) && outcome.seconds > 0) {
        result_.measure_s += outcome.seconds;
      }
      return fail(outcome.status, std::move(outcome.message));
    }
    if (!std::isfinite(outcome.seconds) || outcome.seconds < 0) {
      return fail(Status::RuntimeFailed, "the backend reported an invalid time for a batch of " +
                                             std::to_string(calls) +
                                             " calls: " + format_seconds(outcome.seconds));
    }
    result_.measure_s += outcome.seconds;
    const double per_call = outcome.seconds / static_cast<double>(calls);
    if (per_call > options_.timeout_s) {
      return fail(Status::Timeout, "one call took " + format_seconds(per_call) +
                                       " (mean of a batch of " + std::to_string(calls) +
                                       "), above the timeout of " +
                                       format_seconds(options_.timeout_s));
    }
    seconds = outcome.seconds;
    return true;
  }

 private:
  bool fail(Status status, std::string message) {
    result_.status = status;
    result_.message = std::move(message);
    return false;
  }

  const HarnessOptions& options_;
  const RunBatch& run_;
  Measurement& result_;
};

std::size_t predict_calls(const HarnessOptions& options, std::size_t calls, double seconds) {
  const bool significant = seconds / options.min_sample_s > kSignificantFraction;
  const double multiplier =
      significant ? kGrowthOvershoot * options.min_sample_s / std::max(seconds, kMinPredictSeconds)
                  : kBlindMultiplier;
  const auto current = static_cast<double>(calls);
  const double next = std::max(multiplier * current, current + 1.0);
  if (next >= static_cast<double>(options.max_calls_per_sample)) {
    return options.max_calls_per_sample;
  }
  return static_cast<std::size_t>(std::llround(next));
}

Measurement measure_once(const HarnessOptions& options, const RunBatch& run) {
  Measurement result;
  BatchRunner batches(options, run, result);
  double seconds = 0.0;
  const auto finish = [&result]() -> Measurement {
    result.summary = summarize(result.samples_s);
    return std::move(result);
  };

  if (options.warmup_calls > 0 && !batches.run(options.warmup_calls, seconds)) return finish();
  // The warm-up is outside the budget: a slow first call (lazy JIT, page faults) must not starve
  // the samples that follow it.
  const double warmup_s = result.measure_s;
  const auto budget_spent = [&] { return result.measure_s - warmup_s >= options.max_measure_s; };

  std::size_t calls = 1;
  for (;;) {
    if (!batches.run(calls, seconds)) return finish();
    if (seconds >= options.min_sample_s || calls >= options.max_calls_per_sample ||
        budget_spent()) {
      break;
    }
    calls = predict_calls(options, calls, seconds);
  }
  result.calls_per_sample = calls;
  const auto calls_d = static_cast<double>(calls);
  result.samples_s.push_back(seconds / calls_d);

  for (;;) {
    if (result.samples_s.size() >= options.max_samples) break;
    if (budget_spent()) break;
    if (result.samples_s.size() >= options.min_samples &&
        summarize(result.samples_s).relative_ci_half_width() <= options.target_rel_ci) {
      break;
    }
    if (!batches.run(calls, seconds)) return finish();
    result.samples_s.push_back(seconds / calls_d);
  }
  return finish();
}

void require(bool condition, const char* what) {
  if (!condition) throw Error(ErrorCode::InvalidArgument, std::string("HarnessOptions: ") + what);
}

}  // namespace

Harness::Harness(HarnessOptions options) : options_(std::move(options)) {
  // Every check is a comparison that a NaN fails, so a NaN option is rejected too.
  require(options_.min_sample_s >= 0, "min_sample_s must be >= 0");
  require(options_.max_calls_per_sample > 0, "max_calls_per_sample must be >= 1");
  require(options_.min_samples > 0, "min_samples must be >= 1");
  require(options_.max_samples >= options_.min_samples, "max_samples must be >= min_samples");
  require(options_.target_rel_ci >= 0, "target_rel_ci must be >= 0");
  require(options_.max_measure_s > 0, "max_measure_s must be > 0");
  require(options_.timeout_s > 0, "timeout_s must be > 0");
  require(options_.recheck_margin >= 0 && options_.recheck_margin < 1,
          "recheck_margin must be in [0, 1)");
}

Measurement Harness::measure(const RunBatch& run, std::optional<double> best_so_far_s) const {
  if (best_so_far_s && !(std::isfinite(*best_so_far_s) && *best_so_far_s > 0)) {
    throw Error(ErrorCode::InvalidArgument,
                "best_so_far_s must be a finite number of seconds > 0, got " +
                    format_seconds(*best_so_far_s) + "; pass nullopt when there is no best yet");
  }
  Measurement first = measure_once(options_, run);
  if (!best_so_far_s || !first.ok() ||
      !(first.summary.ci_high < *best_so_far_s * (1.0 - options_.recheck_margin))) {
    return first;
  }

  // Faster than the best by more than its own noise and the margin: a glitch (a skipped launch, a
  // clock that missed work, a throttled competitor) would otherwise win the whole tuning run. A
  // real improvement reproduces, so believing the slower of two runs costs it little.
  Measurement second = measure_once(options_, run);
  const double total_s = first.measure_s + second.measure_s;
  Measurement result;
  if (!second.ok()) {
    result = std::move(second);
    result.message = "on re-check: " + result.message;
  } else if (second.summary.median >= first.summary.median) {
    result = std::move(second);
  } else {
    result = std::move(first);
  }
  result.measure_s = total_s;
  result.rechecked = true;
  return result;
}

}  // namespace attune
