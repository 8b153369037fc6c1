// The tuning loop. The strategy chooses, the evaluator measures, the tuner keeps the books: the
// budget, the best so far, a per-run cache so that no configuration is measured twice, and the
// observers. Only the tuner reads the wall clock; the strategy never does.

#include "attune/tuner.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "attune/error.hpp"

namespace attune {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A proposal between the strategy and the commit: answered from elsewhere, or being built.
struct InFlight {
  InFlight(std::size_t index_, double strategy_s_, bool tell_)
      : index(index_), strategy_s(strategy_s_), tell(tell_) {}
  std::size_t index = 0;
  double strategy_s = 0.0;
  bool tell = true;  // false for an initial configuration the strategy has not proposed
  std::optional<Measurement> recalled;
  std::future<PreparedConfig> built;  // valid when the pipeline builds it ahead
};

// The threads that build ahead. Tasks not started when the pool is destroyed are dropped (their
// futures report a broken promise and are never read); a build in progress is waited for.
class BuildPool {
 public:
  explicit BuildPool(std::size_t threads) {
    for (std::size_t i = 0; i < threads; ++i) add_thread();
  }
  BuildPool(const BuildPool&) = delete;
  BuildPool& operator=(const BuildPool&) = delete;
  ~BuildPool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      tasks_.clear();
    }
    ready_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // From the thread that owns the pool (the one that submits and destroys it).
  void add_thread() {
    workers_.emplace_back([this] { work(); });
  }
  std::size_t threads() const { return workers_.size(); }
  // Builds submitted that no thread has started yet.
  std::size_t waiting() {
    std::lock_guard lock(mutex_);
    return tasks_.size();
  }

  template <typename Fn>
  std::future<PreparedConfig> submit(Fn fn) {
    std::packaged_task<PreparedConfig()> task(std::move(fn));
    std::future<PreparedConfig> result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
    return result;
  }

 private:
  void work() {
    for (;;) {
      std::packaged_task<PreparedConfig()> task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (stopping_) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::packaged_task<PreparedConfig()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// The commit hook's state: the strategy's own, or wrapped with the proposals in flight.
constexpr const char* kStateKey = "strategy_state";
constexpr const char* kInFlightKey = "tuner_in_flight";

struct CheckpointState {
  nlohmann::json strategy;
  std::vector<std::size_t> in_flight;
};

CheckpointState split_checkpoint_state(const nlohmann::json& saved) {
  if (saved.is_object() && saved.size() == 2 && saved.contains(kStateKey) &&
      saved.contains(kInFlightKey)) {
    try {
      return {saved.at(kStateKey), saved.at(kInFlightKey).get<std::vector<std::size_t>>()};
    } catch (const nlohmann::json::exception& e) {
      throw Error(ErrorCode::InvalidArgument,
                  std::string("the checkpoint's proposals in flight are malformed: ") + e.what());
    }
  }
  return {saved, {}};
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
  PipelineTelemetry& telemetry = result.telemetry;
  std::unordered_map<std::size_t, std::size_t> measured;  // space index -> position in result
  std::size_t measured_count = 0;                         // evaluations that spent budget
  double prior_s = 0.0;
  std::deque<InFlight> queue;  // proposed, not yet committed, in the order proposed
  std::unordered_set<std::size_t> queued;
  std::vector<std::size_t> resumed_in_flight;
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
    const CheckpointState saved = split_checkpoint_state(checkpoint.strategy_state);
    if (!saved.strategy.is_null()) strategy_.load_state(saved.strategy);
    resumed_in_flight = saved.in_flight;
    prior_s = checkpoint.elapsed_s;
  }
  const auto start = Clock::now();
  auto run_seconds = [&] { return prior_s + seconds_since(start); };
  for (auto* o : observers_) o->on_start(space_, options_);

  const std::size_t planned =
      std::min(options_.budget.evaluations.value_or(space_.size()), space_.size());
  auto out_of_time = [&]() -> std::optional<StopReason> {
    if (options_.stop_requested && options_.stop_requested->load()) {
      return StopReason::Interrupted;
    }
    if (options_.budget.seconds && run_seconds() >= *options_.budget.seconds) {
      return StopReason::BudgetSeconds;
    }
    return std::nullopt;
  };
  // Proposals in the queue that will spend budget when measured.
  auto queued_to_measure = [&] {
    return static_cast<std::size_t>(std::count_if(
        queue.begin(), queue.end(), [](const InFlight& f) { return !f.recalled.has_value(); }));
  };
  auto budget_left = [&]() -> std::size_t {
    if (!options_.budget.evaluations) return space_.size();
    const std::size_t committed = measured_count + queued_to_measure();
    return *options_.budget.evaluations > committed ? *options_.budget.evaluations - committed : 0;
  };

  auto observation_of = [](const Evaluation& e) {
    return Observation{e.index, e.measurement.status,
                       e.measurement.ok() ? e.measurement.objective() : 0.0};
  };

  const bool pipelined =
      options_.pipeline.max_lookahead > 0 && evaluator_.backend().concurrent_prepare();
  telemetry.pipelined = pipelined;
  std::optional<BuildPool> pool;
  if (pipelined) {
    pool.emplace(std::max<std::size_t>(1, options_.pipeline.prepare_threads));
    telemetry.prepare_threads = pool->threads();
  }
  std::size_t depth = 1;  // look-ahead: configurations proposed beyond the one being measured
  telemetry.max_depth = pipelined ? 1 : 0;

  // Queues a proposal: answered from elsewhere when recall knows it, else built (on a worker
  // when pipelined, or when it comes to be measured otherwise).
  auto enqueue = [&](std::size_t index, double strategy_s, bool tell) {
    InFlight item(index, strategy_s, tell);
    if (options_.recall) item.recalled = options_.recall(index);
    if (!item.recalled && pipelined) {
      item.built =
          pool->submit([this, config = space_.at(index)] { return evaluator_.prepare(config); });
    }
    queued.insert(index);
    queue.push_back(std::move(item));
  };

  // Proposals the interrupted run had made but not measured come first.
  for (std::size_t index : resumed_in_flight) {
    if (index >= space_.size() || measured.contains(index) || queued.contains(index)) {
      throw Error(ErrorCode::InvalidArgument,
                  "the checkpoint to resume from does not belong to this space: configuration "
                  "in flight " +
                      std::to_string(index) + " is outside it or already measured");
    }
    enqueue(index, 0.0, true);
  }

  // The initial configurations come first; the strategy learns of them when it proposes them
  // itself (answered from the run's results), so seeding never changes a strategy's sequence.
  std::size_t next_initial = 0;
  bool exhausted = false;
  auto refill = [&] {
    const std::size_t target = pipelined ? depth + 1 : 1;  // the one measured next, plus look-ahead
    while (!exhausted && queue.size() < target && budget_left() > 0) {
      if (next_initial < options_.initial.size()) {
        const std::size_t index = options_.initial[next_initial++];
        if (!measured.contains(index) && !queued.contains(index)) enqueue(index, 0.0, false);
        continue;
      }
      const std::size_t want = std::min(target - queue.size(), budget_left());
      const auto ask_start = Clock::now();
      std::vector<std::size_t> proposals = strategy_.ask(want);
      const double strategy_s = seconds_since(ask_start);
      telemetry.strategy_s += strategy_s;
      if (proposals.empty()) {
        exhausted = true;
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
        } else if (queued.contains(index)) {
          // An initial configuration still in flight: told when it is committed.
          for (InFlight& f : queue) f.tell = f.tell || f.index == index;
        } else {
          enqueue(index, strategy_s / static_cast<double>(proposals.size()), true);
        }
      }
    }
  };

  // The strategy's state for the commit hook, with the proposals still in flight.
  auto checkpoint_state = [&] {
    nlohmann::json state = strategy_.save_state();
    std::vector<std::size_t> in_flight;
    for (const InFlight& f : queue) {
      if (f.tell) in_flight.push_back(f.index);
    }
    if (in_flight.empty()) return state;
    return nlohmann::json{{kStateKey, std::move(state)}, {kInFlightKey, in_flight}};
  };

  // Measures (or recalls) the proposal at the front of the queue, tells the strategy when it
  // proposed it, and gives the commit hook the evaluation with the state after that, before
  // observers hear of it, so what observers report has been made durable.
  auto commit_front = [&] {
    InFlight item = std::move(queue.front());
    queue.pop_front();
    queued.erase(item.index);
    const Evaluation* best = result.best_evaluation();
    std::optional<double> best_s;
    if (best) best_s = best->measurement.objective();
    const Config config = space_.at(item.index);
    Evaluation e{item.index, {}, item.strategy_s, 0.0, false};
    if (item.recalled) {
      e.measurement = std::move(*item.recalled);
      e.recalled = true;
    } else {
      PreparedConfig built;
      if (pipelined) {
        const auto wait_start = Clock::now();
        const bool was_ready =
            item.built.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        built = item.built.get();
        telemetry.wait_s += seconds_since(wait_start);
        // Grow while the device waits for builds; shrink while built configurations wait.
        const auto ready_behind = std::count_if(queue.begin(), queue.end(), [](InFlight& f) {
          return f.built.valid() &&
                 f.built.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        });
        if (!was_ready && depth < options_.pipeline.max_lookahead) {
          ++depth;
        } else if (was_ready && ready_behind >= 2 && depth > 1) {
          --depth;
        }
        telemetry.max_depth = std::max(telemetry.max_depth, depth);
        // The device waited while builds sat in the queue: one more builder.
        if (!was_ready && pool->threads() < options_.pipeline.max_prepare_threads &&
            pool->waiting() > 0) {
          pool->add_thread();
        }
        telemetry.prepare_threads = pool->threads();
      } else {
        built = evaluator_.prepare(config);
      }
      telemetry.prepare_s += built.stages.compile_s;
      const auto measure_start = Clock::now();
      e.measurement = evaluator_.measure(std::move(built), best_s);
      telemetry.measure_s += seconds_since(measure_start);
      ++measured_count;
    }
    e.elapsed_s = run_seconds();
    result.evaluations.push_back(std::move(e));
    const std::size_t position = result.evaluations.size() - 1;
    measured.emplace(item.index, position);
    const Evaluation& added = result.evaluations[position];
    if (added.measurement.ok() &&
        (!best || added.measurement.objective() < best->measurement.objective())) {
      result.best = position;
    }
    if (item.tell) strategy_.tell(observation_of(added));
    if (options_.commit) options_.commit(added, checkpoint_state());
    TuneProgress progress{measured_count,          planned,
                          space_.size(),           added.elapsed_s,
                          options_.budget.seconds, result.best_evaluation()};
    for (auto* o : observers_) o->on_evaluation(config, added, progress);
  };

  std::optional<StopReason> stop;
  while (!(stop = out_of_time())) {
    refill();
    if (queue.empty()) {
      stop = exhausted ? StopReason::Exhausted : StopReason::BudgetEvaluations;
      break;
    }
    commit_front();
  }
  // Builds still queued are abandoned; the checkpoint of the last commit names them.
  result.stop_reason = stop.value_or(StopReason::Exhausted);
  result.elapsed_s = run_seconds();
  for (auto* o : observers_) o->on_finish(result);
  return result;
}

}  // namespace attune
