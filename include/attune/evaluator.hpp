#pragma once
/// \file
/// Evaluator = backend + verifier + harness: the one function the tuner calls to learn how good a
/// configuration is. Every outcome, failures included, comes back as a Measurement.

#include <optional>
#include <span>
#include <vector>

#include "attune/backend.hpp"
#include "attune/harness.hpp"
#include "attune/measurement.hpp"

namespace attune {

/// A configuration that prepare() has built, waiting for measure() to verify and time it.
struct PreparedConfig {
  Prepared prepared;
  /// The status and reason of a failed build, and the build time; no samples.
  Measurement stages;
};

class Evaluator {
 public:
  /// `backend` must outlive the evaluator.
  Evaluator(Backend& backend, Harness harness);

  /// Prepares, verifies and times `config`. `best_so_far_s` lets the harness re-measure a result
  /// that looks too good to be true. A configuration that fails verification is never timed and
  /// can never be the best.
  Measurement evaluate(const Config& config, std::optional<double> best_so_far_s = std::nullopt);

  /// The two halves of evaluate(), for a pipeline that builds ahead: prepare() builds (compiles)
  /// and may run on a worker thread when backend().concurrent_prepare() is true; measure()
  /// verifies and times on the measuring thread. A build failure passes through measure() as its
  /// measurement.
  PreparedConfig prepare(const Config& config);
  Measurement measure(PreparedConfig prepared, std::optional<double> best_so_far_s = std::nullopt);

  /// Measures `configs` side by side: each is prepared and verified once, then timed in `rounds`
  /// alternating rounds (A B C A B C ...), so that the machine's drift affects all of them alike.
  /// Each result holds the samples of every round, each round's median, and the summary of those
  /// medians (every round weighs the same); a configuration that fails keeps its failure status
  /// and is not timed again.
  std::vector<Measurement> compare(std::span<const Config> configs, int rounds = 5);

  Backend& backend() { return backend_; }
  const Harness& harness() const { return harness_; }

 private:
  Backend& backend_;
  Harness harness_;
};

}  // namespace attune
