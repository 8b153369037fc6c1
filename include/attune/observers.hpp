#pragma once
/// \file
/// Observers that report a tuning run as it happens.

#include <cstdio>
#include <functional>
#include <string>

#include "attune/tuner.hpp"

namespace attune {

/// Reports progress on a stream (stderr by default). On a terminal it redraws one status line
/// (configurations done/planned, best so far, elapsed, ETA); otherwise it writes one plain log
/// line per evaluation, so logs in CI stay readable.
class ProgressObserver : public TuneObserver {
 public:
  /// Describes a configuration's seconds per call for display, e.g. as GFLOP/s.
  using Describe = std::function<std::string(double seconds)>;

  /// Interactive when `stream` is a terminal. `describe` defaults to format_seconds.
  explicit ProgressObserver(std::FILE* stream = stderr, Describe describe = {});
  ProgressObserver(std::FILE* stream, bool interactive, Describe describe);

  void on_start(const SearchSpace& space, const TuneOptions& options) override;
  void on_evaluation(const Config& config, const Evaluation& evaluation,
                     const TuneProgress& progress) override;
  void on_finish(const TuneResult& result) override;

 private:
  std::FILE* stream_;
  bool interactive_;
  Describe describe_;
  std::size_t last_width_ = 0;
};

/// "1.234 ms", "56.7 us", "2.10 s": a duration in seconds with a unit that keeps 3-4 digits.
std::string format_seconds(double seconds);

}  // namespace attune
