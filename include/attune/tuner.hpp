#pragma once
/// \file
/// The tuning loop: asks the strategy for configurations, has the evaluator measure them, tells
/// the strategy what happened, and stops when the budget is spent or the space is exhausted.
/// Observers see every event. A configuration is measured at most once per run: when a strategy
/// proposes one again, it is answered from the run's own results.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "attune/evaluator.hpp"
#include "attune/measurement.hpp"
#include "attune/search_space.hpp"
#include "attune/strategy.hpp"

namespace attune {

/// When to stop. Either limit, or both (whichever comes first); neither means "until the strategy
/// has nothing left to propose".
struct Budget {
  std::optional<std::size_t> evaluations;  ///< distinct configurations measured
  std::optional<double> seconds;           ///< wall-clock seconds of the whole run
};

/// One measured configuration, in evaluation order.
struct Evaluation {
  std::size_t index = 0;  ///< in the space
  Measurement measurement;
  double strategy_s = 0.0;  ///< time the strategy spent choosing it
  double elapsed_s = 0.0;   ///< since the run began, when this evaluation was committed
  /// Answered by TuneOptions::recall (measured earlier, outside this run) instead of measured.
  /// Recalled evaluations do not count against the evaluation budget.
  bool recalled = false;
};

/// Where an interrupted run stopped: every evaluation it committed, in order, and the strategy's
/// state (Strategy::save_state) right after the last of them.
struct TuneCheckpoint {
  std::vector<Evaluation> evaluations;
  /// As the commit hook got it (with the proposals in flight, if any). Null when nothing was
  /// committed; then the strategy simply starts afresh.
  nlohmann::json strategy_state;
  /// Wall-clock seconds the interrupted run had used; they count against a time budget.
  double elapsed_s = 0.0;
};

/// Compile ahead while measuring: the tuner asks the strategy for configurations before the one
/// being measured is done, builds them on worker threads, and measures them one at a time in the
/// order proposed. The look-ahead depth adapts between 1 and max_lookahead: it grows while the
/// measuring thread waits for a build and shrinks while built configurations wait to be measured.
/// Used only with a backend whose prepare() is concurrent (Backend::concurrent_prepare()).
///
/// A strategy that learns from each result proposes from older knowledge when the tuner runs
/// ahead, and since the depth follows the machine's timing, the order of proposals is then not
/// reproducible for a seed; max_lookahead = 0 measures strictly one configuration after another,
/// which is. Resuming is exact either way: the proposals in flight are part of the checkpoint.
///
/// The build threads adapt too, when max_prepare_threads allows: while the measuring thread waits
/// for a build and other builds wait for a thread, one more thread starts (never fewer: a thread
/// costs nothing while it waits). More builds then compete with the device for the machine, which
/// on a CPU device makes measurements noisier while they run.
struct PipelineOptions {
  std::size_t max_lookahead = 8;
  std::size_t prepare_threads = 1;  ///< threads that build ahead at the start
  /// Most build threads the pipeline may grow to; 0 or at most prepare_threads: fixed.
  std::size_t max_prepare_threads = 0;
};

/// Where a run's wall time went, per stage.
struct PipelineTelemetry {
  bool pipelined = false;
  double strategy_s = 0.0;    ///< asking the strategy
  double prepare_s = 0.0;     ///< building, summed over configurations (on workers when pipelined)
  double measure_s = 0.0;     ///< verifying and timing on the device
  double wait_s = 0.0;        ///< the measuring thread waiting for a build
  std::size_t max_depth = 0;  ///< deepest look-ahead reached
  std::size_t prepare_threads = 0;  ///< build threads at the end (the most used)
  /// Share of the run's wall time the device was not measuring (building, choosing, waiting).
  double idle_fraction(double elapsed_s) const {
    return elapsed_s > 0 ? std::max(0.0, 1.0 - measure_s / elapsed_s) : 0.0;
  }
};

/// Called after each evaluation with the strategy's state after it has been told the result (for
/// an initial configuration, which the strategy has not been told yet, its state as it stands).
/// When the pipeline runs ahead, the state also names the proposals in flight (it is then
/// {"strategy_state": state, "tuner_in_flight": [indices]}); either form resumes. Storing both
/// atomically is what makes a resumed run identical to the uninterrupted one. An exception thrown
/// here ends the run and propagates out of Tuner::run().
using CommitHook =
    std::function<void(const Evaluation& evaluation, const nlohmann::json& strategy_state)>;

struct TuneOptions {
  Budget budget;
  std::uint64_t seed = 0;
  /// Configurations evaluated before the strategy is asked (the untuned default, known-good
  /// configurations). They count against the budget and are told to the strategy.
  std::vector<std::size_t> initial;

  /// Continue an interrupted run: its evaluations are taken as done (never measured again, and
  /// they count against the budget), the strategy is started with the same space and seed and
  /// then given the saved state. Indices must be inside the space.
  std::optional<TuneCheckpoint> resume;
  /// Polled before each new measurement; when it reads true the run stops with
  /// StopReason::Interrupted after committing the measurement in flight. Must outlive run().
  /// Written from a signal handler in the CLI, hence a lock-free atomic and not a callback.
  const std::atomic<bool>* stop_requested = nullptr;
  /// See CommitHook; empty means nothing is persisted.
  CommitHook commit;
  /// Measurements known from elsewhere (a tuning database) for a space index, used instead of
  /// measuring again; failures are recalled too, so a failed configuration is never retried.
  std::function<std::optional<Measurement>(std::size_t index)> recall;
  PipelineOptions pipeline;
};

enum class StopReason { BudgetEvaluations, BudgetSeconds, Exhausted, Interrupted };
std::string_view to_string(StopReason reason) noexcept;

struct TuneResult {
  std::vector<Evaluation> evaluations;
  /// Position in `evaluations` of the fastest ok configuration; empty when none was ok.
  std::optional<std::size_t> best;
  StopReason stop_reason = StopReason::Exhausted;
  double elapsed_s = 0.0;
  PipelineTelemetry telemetry;

  const Evaluation* best_evaluation() const { return best ? &evaluations[*best] : nullptr; }
};

/// Progress as observers see it after each evaluation.
struct TuneProgress {
  std::size_t done = 0;     ///< evaluations so far
  std::size_t planned = 0;  ///< the evaluation budget, or the space size when there is none
  std::size_t space_size = 0;
  double elapsed_s = 0.0;
  std::optional<double> budget_s;
  const Evaluation* best = nullptr;  ///< the best so far, or null
};

class TuneObserver {
 public:
  virtual ~TuneObserver() = default;
  virtual void on_start(const SearchSpace& /*space*/, const TuneOptions& /*options*/) {}
  virtual void on_evaluation(const Config& /*config*/, const Evaluation& /*evaluation*/,
                             const TuneProgress& /*progress*/) {}
  virtual void on_finish(const TuneResult& /*result*/) {}
};

class Tuner {
 public:
  /// `space`, `evaluator` and `strategy` must outlive the tuner.
  Tuner(const SearchSpace& space, Evaluator& evaluator, Strategy& strategy, TuneOptions options);

  /// `observer` must outlive run(); observers are called in the order they were added.
  void add_observer(TuneObserver& observer);

  /// Runs the search to its budget. Throws only for misuse (an index outside the space from the
  /// strategy, an empty space); every configuration's failure is a Measurement status.
  TuneResult run();

 private:
  const SearchSpace& space_;
  Evaluator& evaluator_;
  Strategy& strategy_;
  TuneOptions options_;
  std::vector<TuneObserver*> observers_;
};

}  // namespace attune
