// Exact resume after kill -9, for every registered strategy: a child process tunes against a
// deterministic scripted backend, committing each evaluation to a database, and is killed with
// SIGKILL at random moments, several times; the run is then finished. Its sequence of evaluated
// configurations (and their values) must equal that of an uninterrupted run with the same seed.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "attune/tuning_database.hpp"
#include "support/scripted_kernel.hpp"

namespace attune {
namespace {

namespace fs = std::filesystem;

SearchSpace resume_space() {
  return SearchSpace(
      {{"block", {Value(8), Value(16), Value(32), Value(64), Value(128), Value(256), Value(512)}},
       {"tile", {Value(1), Value(2), Value(3), Value(4), Value(6), Value(8)}},
       {"unroll", {Value(1), Value(2), Value(4), Value(8)}},
       {"vector", {Value(1), Value(2), Value(4)}}},
      {Constraint("block * tile <= 2048"), Constraint("unroll * vector <= 16")});
}

// Deterministic time per call with structure for a model to learn: best near block=64, tile=4,
// unroll=2, vector=4; a few planted compile and runtime failures.
using test_support::ScriptedKernel;

class ScriptedBackend final : public Backend {
 public:
  explicit ScriptedBackend(double delay_s) : delay_s_(delay_s) {
    device_.kind = "cpu";
    device_.name = "scripted";
    device_.architecture = "scripted";
  }
  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override { return "test.resume/1"; }
  Prepared prepare(const Config& c) override {
    // The delay gives a kill somewhere to land in the middle of the run.
    if (delay_s_ > 0) std::this_thread::sleep_for(std::chrono::duration<double>(delay_s_));
    Prepared p;
    const double block = std::log2(static_cast<double>(c.int_of("block")));
    const double tile = static_cast<double>(c.int_of("tile"));
    const double unroll = std::log2(static_cast<double>(c.int_of("unroll")));
    const double vector = std::log2(static_cast<double>(c.int_of("vector")));
    if (c.int_of("block") == 512 && c.int_of("unroll") == 8) {
      p.status = Status::CompileFailed;
      p.message = "planted";
      return p;
    }
    const double t = 1e-4 * (1.0 + 0.3 * std::pow(block - 6.0, 2) + 0.2 * std::abs(tile - 4.0) +
                             0.4 * std::abs(unroll - 1.0) + 0.25 * std::abs(vector - 2.0) +
                             0.05 * std::sin(block * tile));
    p.kernel = std::make_unique<ScriptedKernel>(t);
    return p;
  }

 private:
  double delay_s_;
  DeviceInfo device_;
};

HarnessOptions fast_harness() {
  HarnessOptions h;
  h.min_sample_s = 1e-4;
  h.max_measure_s = 0.002;
  return h;
}

constexpr std::size_t kBudget = 30;
constexpr std::uint64_t kSeed = 20240611;

TuningKey key_of(const SearchSpace& space) {
  DeviceInfo d;
  d.kind = "cpu";
  d.name = "scripted";
  d.architecture = "scripted";
  return TuningKey{
      d, {"test.resume/1", "", ""}, SpaceIdentity::of(space), Problem({{"n", 1000}}, "f32")};
}

// One (possibly resumed) run against `file`; returns the whole run as the tuner saw it.
TuneResult tune(const std::string& strategy_name, const fs::path* file, double delay_s) {
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  const SearchSpace space = resume_space();
  ScriptedBackend backend(delay_s);
  Evaluator evaluator(backend, Harness(fast_harness()));
  auto strategy = registry.create(strategy_name);
  TuneOptions options;
  options.seed = kSeed;
  options.budget.evaluations = kBudget;
  options.initial = {space.size() / 2};
  std::optional<TuningDatabase> db;
  StoredRun run;
  if (file) {
    db.emplace(*file);
    run = db->open_run(key_of(space), strategy_name, kSeed, space);
    options.resume = run.checkpoint;
    options.commit = [&](const Evaluation& e, const nlohmann::json& state) {
      db->commit_evaluation(run.id, e, space.at(e.index), state);
    };
  }
  TuneResult result = Tuner(space, evaluator, *strategy, options).run();
  if (db) db->finish_run(run.id, result.stop_reason, result.elapsed_s);
  return result;
}

std::size_t committed(const std::string& strategy, const fs::path& file) {
  const SearchSpace space = resume_space();
  TuningDatabase db(file);
  return db.open_run(key_of(space), strategy, kSeed, space).checkpoint.evaluations.size();
}

std::vector<std::string> strategy_names() {
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  return registry.names();
}

class KillResume : public ::testing::TestWithParam<std::string> {};

TEST_P(KillResume, ResumedRunEqualsTheUninterruptedRun) {
  const std::string name = GetParam();
  const TuneResult reference = tune(name, nullptr, 0.0);
  ASSERT_GT(reference.evaluations.size(), 0u);

  char pattern[] = "/tmp/attune_resume_XXXXXX";
  const fs::path dir = mkdtemp(pattern);
  const fs::path file = dir / "resume.db";
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(name)));
  std::uniform_int_distribution<int> kill_after_ms(5, 90);
  std::size_t interrupted_mid_run = 0;
  std::vector<std::size_t> progress;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        tune(name, &file, 0.004);
      } catch (...) {
        _exit(3);
      }
      _exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms(rng)));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the child failed instead of running to the end";
    }
    const std::size_t done = committed(name, file);
    progress.push_back(done);
    if (WIFSIGNALED(status) && done < reference.evaluations.size()) ++interrupted_mid_run;
  }
  EXPECT_GT(interrupted_mid_run, 0u) << "no kill landed inside the run; the test proved nothing";

  const TuneResult resumed = tune(name, &file, 0.0);
  std::string trace;
  for (std::size_t p : progress) trace += std::to_string(p) + " ";
  ASSERT_EQ(resumed.evaluations.size(), reference.evaluations.size()) << "after kills: " << trace;
  for (std::size_t i = 0; i < reference.evaluations.size(); ++i) {
    const Evaluation& want = reference.evaluations[i];
    const Evaluation& got = resumed.evaluations[i];
    ASSERT_EQ(got.index, want.index) << "evaluation " << i << " differs; kills after " << trace;
    ASSERT_EQ(got.measurement.status, want.measurement.status) << i;
    if (want.measurement.ok()) {
      EXPECT_DOUBLE_EQ(got.measurement.objective(), want.measurement.objective()) << i;
    }
  }
  EXPECT_EQ(resumed.stop_reason, reference.stop_reason);
  ASSERT_TRUE(reference.best_evaluation() && resumed.best_evaluation());
  EXPECT_EQ(resumed.best_evaluation()->index, reference.best_evaluation()->index);
  std::error_code ec;
  fs::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(EveryStrategy, KillResume, ::testing::ValuesIn(strategy_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace attune
