// The tuning loop against a scripted backend whose "kernel" time is a known function of the
// configuration: the optimum is known, and failures are planted at known configurations.

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "support/scripted_kernel.hpp"

namespace attune {
namespace {

SearchSpace space() {
  return SearchSpace({{"tile", {Value(1), Value(2), Value(4), Value(8), Value(16), Value(32)}},
                      {"unroll", {Value(1), Value(2), Value(4)}}},
                     {Constraint("tile * unroll <= 64")});
}

// Time per call in seconds: best at tile=8, unroll=2.
double scripted_time(const Config& c) {
  const double tile = static_cast<double>(c.int_of("tile"));
  const double unroll = static_cast<double>(c.int_of("unroll"));
  return 1e-3 * (1.0 + std::abs(std::log2(tile) - 3.0) + std::abs(unroll - 2.0));
}

using test_support::ScriptedKernel;

class ScriptedBackend final : public Backend {
 public:
  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override { return "test.scripted/1"; }
  Prepared prepare(const Config& c) override {
    {
      std::lock_guard lock(mutex);
      ++prepares[c.key()];
    }
    if (delay_s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay_s));
    Prepared p;
    if (c.int_of("tile") == 32) {
      p.status = Status::CompileFailed;
      p.message = "planted compile failure";
      return p;
    }
    // The fastest-looking configuration computes the wrong answer: it must never win.
    const bool wrong = c.int_of("tile") == 16 && c.int_of("unroll") == 1;
    const double t = wrong ? 1e-6 : scripted_time(c);
    p.kernel = std::make_unique<ScriptedKernel>(t, wrong);
    return p;
  }
  bool concurrent_prepare() const override { return concurrent; }
  std::mutex mutex;
  std::map<std::string, int> prepares;
  double delay_s = 0;
  bool concurrent = false;

 private:
  DeviceInfo device_ = DeviceInfo::host_cpu();
};

HarnessOptions fast_harness() {
  HarnessOptions h;
  h.min_sample_s = 1e-3;
  h.max_measure_s = 0.05;
  return h;
}

struct Recorder : TuneObserver {
  int starts = 0, finishes = 0;
  std::vector<std::size_t> done;
  void on_start(const SearchSpace&, const TuneOptions&) override { ++starts; }
  void on_evaluation(const Config&, const Evaluation&, const TuneProgress& p) override {
    done.push_back(p.done);
  }
  void on_finish(const TuneResult&) override { ++finishes; }
};

std::unique_ptr<Strategy> make(const std::string& name) {
  StrategyRegistry r;
  register_builtin_strategies(r);
  return r.create(name);
}

TEST(Tuner, BruteForceFindsTheKnownOptimumAndRecordsFailures) {
  const SearchSpace s = space();
  ScriptedBackend backend;
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("brute_force");
  Tuner tuner(s, evaluator, *strategy, TuneOptions{});
  Recorder recorder;
  tuner.add_observer(recorder);
  const TuneResult r = tuner.run();

  EXPECT_EQ(r.evaluations.size(), s.size());
  EXPECT_EQ(r.stop_reason, StopReason::Exhausted);
  ASSERT_NE(r.best_evaluation(), nullptr);
  const Config best = s.at(r.best_evaluation()->index);
  EXPECT_EQ(best.int_of("tile"), 8);
  EXPECT_EQ(best.int_of("unroll"), 2);
  EXPECT_NEAR(r.best_evaluation()->measurement.objective(), 1e-3, 1e-9);

  std::map<Status, int> statuses;
  for (const auto& e : r.evaluations) ++statuses[e.measurement.status];
  EXPECT_EQ(statuses[Status::CompileFailed], 2);  // tile=32 with unroll 1 and 2
  EXPECT_EQ(statuses[Status::VerifyFailed], 1);
  for (const auto& e : r.evaluations) {
    if (!e.measurement.ok()) {
      EXPECT_TRUE(e.measurement.samples_s.empty()) << "a failed configuration was timed";
    }
  }
  for (const auto& [key, count] : backend.prepares) EXPECT_EQ(count, 1) << key;
  EXPECT_EQ(recorder.starts, 1);
  EXPECT_EQ(recorder.finishes, 1);
  ASSERT_EQ(recorder.done.size(), s.size());
  EXPECT_EQ(recorder.done.back(), s.size());
}

TEST(Tuner, EvaluationBudgetIsRespectedAndInitialConfigurationsComeFirst) {
  const SearchSpace s = space();
  ScriptedBackend backend;
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("random");
  TuneOptions options;
  options.budget.evaluations = 5;
  options.seed = 9;
  const std::size_t initial = s.size() - 1;
  options.initial = {initial};
  Tuner tuner(s, evaluator, *strategy, options);
  const TuneResult r = tuner.run();
  ASSERT_EQ(r.evaluations.size(), 5u);
  EXPECT_EQ(r.evaluations[0].index, initial);
  EXPECT_EQ(r.stop_reason, StopReason::BudgetEvaluations);
  std::set<std::size_t> unique;
  for (const auto& e : r.evaluations) unique.insert(e.index);
  EXPECT_EQ(unique.size(), 5u);
}

TEST(Tuner, InitialConfigurationIsNotMeasuredAgainWhenProposed) {
  const SearchSpace s = space();
  ScriptedBackend backend;
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("brute_force");
  TuneOptions options;
  options.initial = {3};
  Tuner tuner(s, evaluator, *strategy, options);
  const TuneResult r = tuner.run();
  EXPECT_EQ(r.evaluations.size(), s.size());
  for (const auto& [key, count] : backend.prepares) EXPECT_EQ(count, 1) << key;
}

std::vector<std::size_t> indices_of(const TuneResult& r) {
  std::vector<std::size_t> out;
  for (const Evaluation& e : r.evaluations) out.push_back(e.index);
  return out;
}

TuneResult tune_random(ScriptedBackend& backend, std::size_t max_lookahead,
                       const std::atomic<bool>* stop = nullptr, CommitHook commit = {},
                       std::optional<TuneCheckpoint> resume = std::nullopt,
                       std::size_t prepare_threads = 2, std::size_t max_prepare_threads = 0) {
  const SearchSpace s = space();
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("random");
  TuneOptions options;
  options.seed = 5;
  options.budget.evaluations = 12;
  options.initial = {s.size() - 1};
  options.pipeline.max_lookahead = max_lookahead;
  options.pipeline.prepare_threads = prepare_threads;
  options.pipeline.max_prepare_threads = max_prepare_threads;
  options.stop_requested = stop;
  options.commit = std::move(commit);
  options.resume = std::move(resume);
  return Tuner(s, evaluator, *strategy, options).run();
}

TEST(TunerPipeline, BuildsAheadAndMeasuresWhatTheSerialRunMeasures) {
  ScriptedBackend serial_backend;
  serial_backend.concurrent = true;
  const TuneResult serial = tune_random(serial_backend, 0);
  EXPECT_FALSE(serial.telemetry.pipelined);

  ScriptedBackend backend;
  backend.concurrent = true;
  backend.delay_s = 0.02;  // builds far slower than measurements: the look-ahead must grow
  const TuneResult piped = tune_random(backend, 6);
  EXPECT_TRUE(piped.telemetry.pipelined);
  EXPECT_GT(piped.telemetry.max_depth, 1u);
  EXPECT_LE(piped.telemetry.max_depth, 6u);
  EXPECT_GT(piped.telemetry.wait_s, 0.0);
  EXPECT_GT(piped.telemetry.prepare_s, 0.0);

  // Random proposes in the same order whatever it has been told, so both runs measure the same
  // configurations in the same order, with the same outcomes.
  ASSERT_EQ(indices_of(piped), indices_of(serial));
  for (std::size_t i = 0; i < piped.evaluations.size(); ++i) {
    EXPECT_EQ(piped.evaluations[i].measurement.status, serial.evaluations[i].measurement.status);
  }
  EXPECT_EQ(piped.evaluations.size(), 12u);
  for (const auto& [key, count] : backend.prepares) EXPECT_EQ(count, 1) << key;
  EXPECT_EQ(indices_of(piped).front(), space().size() - 1) << "initial configuration first";
}

TEST(TunerPipeline, AddsBuildThreadsWhileTheDeviceWaitsAndNoMoreThanAllowed) {
  ScriptedBackend backend;
  backend.concurrent = true;
  backend.delay_s = 0.02;
  const TuneResult fixed = tune_random(backend, 6, nullptr, {}, std::nullopt, 1, 0);
  EXPECT_EQ(fixed.telemetry.prepare_threads, 1u);

  ScriptedBackend growing_backend;
  growing_backend.concurrent = true;
  growing_backend.delay_s = 0.02;
  const TuneResult grown = tune_random(growing_backend, 6, nullptr, {}, std::nullopt, 1, 3);
  EXPECT_EQ(grown.telemetry.prepare_threads, 3u);
  // Threads change when builds run, not what is measured.
  EXPECT_EQ(indices_of(grown), indices_of(fixed));
  for (const auto& [key, count] : growing_backend.prepares) EXPECT_EQ(count, 1) << key;
}

TEST(TunerPipeline, ResumesWithTheProposalsThatWereInFlight) {
  ScriptedBackend reference_backend;
  reference_backend.concurrent = true;
  const TuneResult reference = tune_random(reference_backend, 4);

  // Interrupt after five commits, keeping what a database would keep.
  ScriptedBackend backend;
  backend.concurrent = true;
  backend.delay_s = 0.01;
  std::atomic<bool> stop{false};
  TuneCheckpoint checkpoint;
  bool saw_in_flight = false;
  const TuneResult first =
      tune_random(backend, 4, &stop, [&](const Evaluation& e, const nlohmann::json& state) {
        checkpoint.evaluations.push_back(e);
        checkpoint.strategy_state = state;
        saw_in_flight = saw_in_flight || state.contains("tuner_in_flight");
        if (checkpoint.evaluations.size() == 5) stop = true;
      });
  EXPECT_EQ(first.stop_reason, StopReason::Interrupted);
  ASSERT_EQ(first.evaluations.size(), 5u);
  EXPECT_TRUE(saw_in_flight) << "the pipeline never ran ahead: the test proves nothing";

  ScriptedBackend resumed_backend;
  resumed_backend.concurrent = true;
  const TuneResult resumed = tune_random(resumed_backend, 4, nullptr, {}, checkpoint);
  EXPECT_EQ(indices_of(resumed), indices_of(reference));
  for (const auto& [key, count] : resumed_backend.prepares) EXPECT_EQ(count, 1) << key;
  EXPECT_EQ(resumed_backend.prepares.size(), reference.evaluations.size() - 5);
}

TEST(Tuner, TimeBudgetStopsTheRun) {
  const SearchSpace s = space();
  ScriptedBackend backend;
  backend.delay_s = 0.03;
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("brute_force");
  TuneOptions options;
  options.budget.seconds = 0.1;
  Tuner tuner(s, evaluator, *strategy, options);
  const TuneResult r = tuner.run();
  EXPECT_EQ(r.stop_reason, StopReason::BudgetSeconds);
  EXPECT_LT(r.evaluations.size(), s.size());
  EXPECT_GE(r.evaluations.size(), 1u);
}

TEST(Tuner, EmptySpaceIsAnError) {
  const SearchSpace s({{"x", {Value(1), Value(2)}}}, {Constraint("x > 5")});
  ScriptedBackend backend;
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = make("random");
  Tuner tuner(s, evaluator, *strategy, TuneOptions{});
  EXPECT_THROW(tuner.run(), Error);
}

TEST(Evaluator, CompareAlternatesAndKeepsEverySample) {
  const SearchSpace s = space();
  ScriptedBackend backend;
  Evaluator evaluator(backend, Harness(fast_harness()));
  const std::vector<Config> configs{s.at(0), s.at(*s.index_of_key("32,1")),
                                    s.at(*s.index_of_key("8,2"))};
  const auto results = evaluator.compare(configs, 3);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status, Status::CompileFailed);
  EXPECT_TRUE(results[2].ok());
  EXPECT_NEAR(results[2].summary.median, 1e-3, 1e-12);
  EXPECT_NEAR(results[0].summary.median, scripted_time(configs[0]), 1e-12);
  EXPECT_GE(results[0].samples_s.size(), 3u * fast_harness().min_samples);
  EXPECT_EQ(results[0].round_medians_s.size(), 3u);
  EXPECT_TRUE(results[1].round_medians_s.empty());
}

// Two kernels measured in turn, each knowing which round it is in: a round starts when the other
// kernel ran last. "steady" always takes 1.5 ms a call. "disturbed" takes 1 ms, except in the
// first round, where its batches alternate between 2 and 6 ms a call, so the harness samples
// that round until max_samples while the quiet rounds stop at min_samples.
class RoundKernel final : public PreparedKernel {
 public:
  RoundKernel(const PreparedKernel*& last, bool disturbed) : last_(last), disturbed_(disturbed) {}
  VerifyResult verify() override {
    VerifyResult result;
    result.ok = true;
    return result;
  }
  RunOutcome run(std::size_t calls) override {
    if (last_ != this) ++round_;
    last_ = this;
    double per_call = 1.5e-3;
    if (disturbed_) per_call = round_ > 1 ? 1e-3 : (++runs_ % 2 == 0 ? 2e-3 : 6e-3);
    return RunOutcome{Status::Ok, per_call * static_cast<double>(calls), {}};
  }

 private:
  const PreparedKernel*& last_;
  bool disturbed_;
  int round_ = 0;
  int runs_ = 0;
};

// tile=1 is "disturbed", any other tile "steady".
class RoundBackend final : public Backend {
 public:
  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override { return "test.rounds/1"; }
  Prepared prepare(const Config& c) override {
    Prepared p;
    p.kernel = std::make_unique<RoundKernel>(last_, c.int_of("tile") == 1);
    return p;
  }

 private:
  const PreparedKernel* last_ = nullptr;
  DeviceInfo device_ = DeviceInfo::host_cpu();
};

TEST(Evaluator, CompareWeighsEveryRoundTheSameHoweverManySamplesItTook) {
  const SearchSpace s = space();
  RoundBackend backend;
  HarnessOptions h = fast_harness();
  h.warmup_calls = 0;
  h.min_samples = 3;
  h.max_samples = 20;
  h.max_measure_s = 10.0;  // scripted time: the sample counts, not a budget, end each round
  Evaluator evaluator(backend, Harness(h));
  const std::vector<Config> configs{s.at(*s.index_of_key("1,1")), s.at(*s.index_of_key("2,1"))};
  const auto results = evaluator.compare(configs, 3);
  ASSERT_TRUE(results[0].ok());
  ASSERT_TRUE(results[1].ok());
  ASSERT_EQ(results[0].round_medians_s.size(), 3u);
  EXPECT_GT(results[0].round_medians_s[0], 1.5e-3);  // the disturbed round
  EXPECT_NEAR(results[0].round_medians_s[1], 1e-3, 1e-12);
  EXPECT_NEAR(results[0].round_medians_s[2], 1e-3, 1e-12);
  // Pooled, the 20 disturbed samples outnumber the 6 quiet ones and the median would be 2 ms or
  // more, slower than "steady"; over the rounds' medians it is 1 ms, faster in two rounds of three.
  EXPECT_GE(results[0].samples_s.size(), 20u + 2u * h.min_samples);
  EXPECT_GE(median(results[0].samples_s), 2e-3);
  EXPECT_NEAR(results[0].summary.median, 1e-3, 1e-12);
  EXPECT_NEAR(results[1].summary.median, 1.5e-3, 1e-12);
  EXPECT_LT(results[0].objective(), results[1].objective());
}

}  // namespace
}  // namespace attune
