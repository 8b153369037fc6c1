// The tuning loop. The strategy chooses, the evaluator measures, the tuner keeps the books: the
// budget, the best so far, a per-run cache so that no configuration is measured twice, and the
// observers. Only the tuner reads the wall clock; the strategy never does.

#include "attune/tuner.hpp"

#include <algorithm>
#include <unordered_map>

#include "attune/error.hpp"

namespace attune {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

std::string_view to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::BudgetEvaluations: return "evaluation budget spent";
    case StopReason::BudgetSeconds: return "time budget spent";
    case StopReason::Exhausted: return "search space exhausted";
    case StopReason::Interrupted: return "interrupted";
  }
  return "unknown";
}

Tuner::Tuner(const SearchSpace& space, Evaluator& evaluator, Strategy& strategy,
             TuneOptions options)
    : space_(space), evaluator_(evaluator), strategy_(strategy), options_(std::move(options)) {}

void Tuner::add_observer(TuneObserver& observer) { observers_.push_back(&observer); }

TuneResult Tuner::run() {
  if (space_.size() == 0) {
    throw Error(ErrorCode::InvalidArgument,
                "the search space has no valid configuration: relax its constraints");
  }
  for (std::size_t index : options_.initial) {
    if (index >= space_.size()) {
      throw Error(ErrorCode::InvalidArgument,
                  "initial configuration index " + std::to_string(index) + " is outside the space");
    }
  }

  TuneResult result;
  std::unordered_map<std::size_t, std::size_t> measured;  // space index -> position in result
  std::size_t measured_count = 0;                         // evaluations that spent budget
  double prior_s = 0.0;
  strategy_.start(space_, options_.seed);
  if (options_.resume) {
    const TuneCheckpoint& checkpoint = *options_.resume;
    for (const Evaluation& e : checkpoint.evaluations) {
      if (e.index >= space_.size() || measured.contains(e.index)) {
        throw Error(ErrorCode::InvalidArgument,
                    "the checkpoint to resume from does not belong to this space: configuration "
                    "index " +
                        std::to_string(e.index) + " is outside it or appears twice");
      }
      result.evaluations.push_back(e);
      const std::size_t position = result.evaluations.size() - 1;
      measured.emplace(e.index, position);
      if (!e.recalled) ++measured_count;
      const Evaluation* best = result.best_evaluation();
      if (e.measurement.ok() &&
          (!best || e.measurement.objective() < best->measurement.objective())) {
        result.best = position;
      }
    }
    if (!checkpoint.strategy_state.is_null()) strategy_.load_state(checkpoint.strategy_state);
    prior_s = checkpoint.elapsed_s;
  }
  const auto start = Clock::now();
  auto run_seconds = [&] { return prior_s + seconds_since(start); };
  for (auto* o : observers_) o->on_start(space_, options_);

  const std::size_t planned =
      std::min(options_.budget.evaluations.value_or(space_.size()), space_.size());
  auto out_of_budget = [&]() -> std::optional<StopReason> {
    if (options_.stop_requested && options_.stop_requested->load()) {
      return StopReason::Interrupted;
    }
    if (options_.budget.evaluations && measured_count >= *options_.budget.evaluations) {
      return StopReason::BudgetEvaluations;
    }
    if (options_.budget.seconds && run_seconds() >= *options_.budget.seconds) {
      return StopReason::BudgetSeconds;
    }
    return std::nullopt;
  };

  auto observation_of = [](const Evaluation& e) {
    return Observation{e.index, e.measurement.status,
                       e.measurement.ok() ? e.measurement.objective() : 0.0};
  };

  // Measures (or recalls) one configuration; the strategy is told of it when it proposed it, and
  // the commit hook gets the evaluation with the strategy's state after that, before observers
  // hear of it, so what observers report has been made durable.
  auto evaluate = [&](std::size_t index, double strategy_s, bool tell) {
    const Evaluation* best = result.best_evaluation();
    std::optional<double> best_s;
    if (best) best_s = best->measurement.objective();
    const Config config = space_.at(index);
    Evaluation e{index, {}, strategy_s, 0.0, false};
    if (options_.recall) {
      if (std::optional<Measurement> known = options_.recall(index)) {
        e.measurement = std::move(*known);
        e.recalled = true;
      }
    }
    if (!e.recalled) {
      e.measurement = evaluator_.evaluate(config, best_s);
      ++measured_count;
    }
    e.elapsed_s = run_seconds();
    result.evaluations.push_back(std::move(e));
    const std::size_t position = result.evaluations.size() - 1;
    measured.emplace(index, position);
    const Evaluation& added = result.evaluations[position];
    if (added.measurement.ok() &&
        (!best || added.measurement.objective() < best->measurement.objective())) {
      result.best = position;
    }
    if (tell) strategy_.tell(observation_of(added));
    if (options_.commit) options_.commit(added, strategy_.save_state());
    TuneProgress progress{measured_count,          planned,
                          space_.size(),           added.elapsed_s,
                          options_.budget.seconds, result.best_evaluation()};
    for (auto* o : observers_) o->on_evaluation(config, added, progress);
  };

  // The initial configurations are measured first; the strategy learns of them when it proposes
  // them itself (answered from the cache below), so seeding never changes a strategy's sequence.
  std::optional<StopReason> stop;
  for (std::size_t index : options_.initial) {
    if ((stop = out_of_budget())) break;
    if (!measured.contains(index)) evaluate(index, 0.0, false);
  }

  while (!stop && !(stop = out_of_budget())) {
    const auto ask_start = Clock::now();
    std::vector<std::size_t> proposals = strategy_.ask(1);
    const double strategy_s = seconds_since(ask_start);
    if (proposals.empty()) {
      stop = StopReason::Exhausted;
      break;
    }
    for (std::size_t index : proposals) {
      if (index >= space_.size()) {
        throw Error(ErrorCode::Internal, "strategy '" + std::string(strategy_.name()) +
                                             "' proposed index " + std::to_string(index) +
                                             " outside a space of " +
                                             std::to_string(space_.size()));
      }
      if (auto it = measured.find(index); it != measured.end()) {
        strategy_.tell(observation_of(result.evaluations[it->second]));
        continue;
      }
      evaluate(index, strategy_s, true);
    }
  }
  result.stop_reason = stop.value_or(StopReason::Exhausted);
  result.elapsed_s = run_seconds();
  for (auto* o : observers_) o->on_finish(result);
  return result;
}

}  // namespace attune
