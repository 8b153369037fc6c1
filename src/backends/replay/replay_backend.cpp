// The replay backend: a recorded space turned into a SearchSpace plus recorded answers, and a
// Backend that hands those answers to the ordinary harness and tuner. Going through the real
// Tuner and Harness, rather than a loop of its own, means a replay exercises exactly the code a
// real tuning run does, budget accounting and seeding included.

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "attune/backends/replay.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"

namespace attune::replay {
namespace {

class ReplayedKernel final : public PreparedKernel {
 public:
  explicit ReplayedKernel(double seconds) : seconds_(seconds) {}
  VerifyResult verify() override {
    VerifyResult ok;
    ok.ok = true;
    return ok;
  }
  RunOutcome run(std::size_t calls) override {
    return RunOutcome{Status::Ok, seconds_ * static_cast<double>(calls), {}};
  }

 private:
  double seconds_;
};

class TrajectoryObserver final : public TuneObserver {
 public:
  TrajectoryObserver(ReplayRun& run, TuneObserver* next) : run_(run), next_(next) {}
  void on_start(const SearchSpace& space, const TuneOptions& options) override {
    if (next_) next_->on_start(space, options);
  }
  void on_evaluation(const Config& config, const Evaluation& e,
                     const TuneProgress& progress) override {
    const double previous = run_.trajectory_s.empty() ? std::numeric_limits<double>::infinity()
                                                      : run_.trajectory_s.back();
    run_.trajectory_s.push_back(e.measurement.ok() ? std::min(previous, e.measurement.objective())
                                                   : previous);
    if (e.strategy_s > 0) run_.strategy_s.push_back(e.strategy_s);
    if (next_) next_->on_evaluation(config, e, progress);
  }
  void on_finish(const TuneResult& result) override {
    if (next_) next_->on_finish(result);
  }

 private:
  ReplayRun& run_;
  TuneObserver* next_;
};

}  // namespace

ReplaySpace::ReplaySpace(RecordedSpace recorded, bool include_failed)
    : recorded_(std::move(recorded)) {
  const auto& params = recorded_.params;
  std::vector<std::vector<std::uint32_t>> listed;
  std::vector<const RecordedEntry*> entries;
  std::unordered_map<std::string, bool> seen_keys;
  for (const RecordedEntry& e : recorded_.entries) {
    if (!e.time_ms && !include_failed) continue;
    if (e.time_ms && !(std::isfinite(*e.time_ms) && *e.time_ms >= 0)) continue;
    std::vector<std::uint32_t> positions(params.size());
    std::string key;
    for (std::size_t p = 0; p < params.size(); ++p) {
      const auto& values = params[p].values;
      const auto it = std::find(values.begin(), values.end(), e.values[p]);
      if (it == values.end()) {
        throw Error(ErrorCode::InvalidArgument,
                    "recorded space: an entry gives parameter '" + params[p].name + "' value " +
                        e.values[p].to_string() + ", which is not in its value list");
      }
      positions[p] = static_cast<std::uint32_t>(it - values.begin());
      key += std::to_string(positions[p]) + ',';
    }
    if (!seen_keys.emplace(key, true).second) continue;
    listed.push_back(std::move(positions));
    entries.push_back(&e);
  }
  if (listed.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "the recorded space of " + recorded_.kernel_name + " on " + recorded_.device_name +
                    " holds no configuration with a recorded time" +
                    (include_failed ? "" : " (include failed entries to replay those)"));
  }
  const std::string id =
      "replay:" + recorded_.format + ":" + recorded_.kernel_name + "@" + recorded_.device_name;
  space_ = std::make_unique<SearchSpace>(SearchSpace::from_configurations(params, listed, id));
  answers_.resize(space_->size());
  optimum_s_ = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < listed.size(); ++k) {
    const std::size_t index = *space_->index_of(Config(space_.get(), listed[k]));
    Answer& a = answers_[index];
    if (entries[k]->time_ms) {
      a.seconds = *entries[k]->time_ms * 1e-3;
      optimum_s_ = std::min(optimum_s_, a.seconds);
    } else {
      a.status = status_from_kernel_tuner_error(entries[k]->error);
      a.error = entries[k]->error;
      ++failed_;
    }
  }
  if (!std::isfinite(optimum_s_)) {
    throw Error(ErrorCode::InvalidArgument, "the recorded space of " + recorded_.kernel_name +
                                                " holds only failed configurations");
  }
}

ReplaySpace ReplaySpace::load(const std::filesystem::path& file, bool include_failed) {
  try {
    return ReplaySpace(read_recorded_space(file), include_failed);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.find(file.string()) != std::string::npos) throw;
    throw Error(e.code(), "'" + file.string() + "': " + what);
  }
}

ReplayBackend::ReplayBackend(const ReplaySpace& space) : space_(space) {
  device_.kind = "replay";
  device_.name = space.recorded().device_name;
  device_.architecture = "recorded (" + space.recorded().format + ")";
}

std::string ReplayBackend::kernel_id() const { return "replay:" + space_.recorded().kernel_name; }

Prepared ReplayBackend::prepare(const Config& config) {
  if (&config.space() != &space_.space()) {
    throw Error(ErrorCode::InvalidArgument,
                "the replay backend got a configuration of another search space; use the "
                "ReplaySpace's space()");
  }
  const std::optional<std::size_t> index = space_.space().index_of(config);
  Prepared out;
  if (!index) {
    out.status = Status::Invalid;
    out.message = "not in the recorded space";
    return out;
  }
  const ReplaySpace::Answer& a = space_.answer(*index);
  if (a.status != Status::Ok) {
    out.status = a.status;
    out.message = "recorded as " + a.error;
    return out;
  }
  out.kernel = std::make_unique<ReplayedKernel>(a.seconds);
  return out;
}

HarnessOptions replay_harness_options() {
  HarnessOptions o;
  o.warmup_calls = 0;
  o.min_sample_s = 0.0;
  o.min_samples = 1;
  o.max_samples = 1;
  o.timeout_s = std::numeric_limits<double>::max();
  o.max_measure_s = std::numeric_limits<double>::max();
  return o;
}

ReplayRun run_replay(const ReplaySpace& space, Strategy& strategy, std::size_t budget,
                     std::uint64_t seed, std::vector<std::size_t> initial, TuneObserver* observer) {
  ReplayBackend backend(space);
  Evaluator evaluator(backend, Harness(replay_harness_options()));
  TuneOptions options;
  options.budget.evaluations = budget;
  options.seed = seed;
  options.initial = std::move(initial);
  ReplayRun run;
  TrajectoryObserver trajectory(run, observer);
  Tuner tuner(space.space(), evaluator, strategy, options);
  tuner.add_observer(trajectory);
  run.result = tuner.run();
  return run;
}

}  // namespace attune::replay
