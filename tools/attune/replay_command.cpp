// `attune replay`: runs one search strategy on a recorded space (simulation mode). Every time it
// prints was measured earlier on the device the file names and is read back, not measured now, so
// a strategy can be judged against the known optimum in seconds.

#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "attune/backends/replay.hpp"
#include "attune/error.hpp"
#include "attune/strategy_registry.hpp"
#include "commands.hpp"
#include "number_checks.hpp"
#include "output_file.hpp"
#include "start_file.hpp"

namespace attune::cli {
namespace {

struct ReplayOptions {
  std::string space_path;
  std::string strategy = kDefaultStrategy;
  std::size_t budget = 100;
  std::uint64_t seed = 0;
  std::string json_path;
  std::string start_path;
  bool include_failed = false;
  bool quiet = false;
};

// One line per distinct evaluation: what was evaluated and the best so far against the optimum.
class ReplayPrinter final : public TuneObserver {
 public:
  explicit ReplayPrinter(double optimum_s) : optimum_s_(optimum_s) {}
  void on_evaluation(const Config& config, const Evaluation& e,
                     const TuneProgress& progress) override {
    const Measurement& m = e.measurement;
    if (m.ok()) best_ = std::min(best_, m.objective());
    char result[48];
    if (m.ok()) {
      std::snprintf(result, sizeof result, "%10.4f ms", m.objective() * 1e3);
    } else {
      std::snprintf(result, sizeof result, "%13s", std::string(to_string(m.status)).c_str());
    }
    if (std::isfinite(best_)) {
      std::printf("%4zu %s   best %.4f ms = %.3fx optimum   %s\n", progress.done, result,
                  best_ * 1e3, best_ / optimum_s_, config.describe(true).c_str());
    } else {
      std::printf("%4zu %s   best -   %s\n", progress.done, result, config.describe(true).c_str());
    }
  }

 private:
  double optimum_s_;
  double best_ = INFINITY;
};

void run_replay_command(const ReplayOptions& o) {
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(o.strategy);
  std::ofstream json_out;
  if (!o.json_path.empty()) json_out = open_output_file(o.json_path, "JSON result");
  const replay::ReplaySpace replay = replay::ReplaySpace::load(o.space_path, o.include_failed);
  std::vector<std::size_t> initial;
  if (!o.start_path.empty()) initial = read_start_file(o.start_path, replay.space());

  const RecordedSpace& recorded = replay.recorded();
  std::printf("REPLAY (simulation): times are read from %s, recorded on %s; nothing is run.\n",
              o.space_path.c_str(), recorded.device_name.c_str());
  std::printf(
      "kernel %s, %zu configurations%s, optimum %.4f ms; strategy %s, seed %llu, "
      "budget %zu%s\n",
      recorded.kernel_name.c_str(), replay.space().size(),
      o.include_failed
          ? (" (" + std::to_string(replay.failed_count()) + " recorded as failed)").c_str()
          : "",
      replay.optimum_s() * 1e3, o.strategy.c_str(), static_cast<unsigned long long>(o.seed),
      o.budget,
      initial.empty() ? ""
                      : (", " + std::to_string(initial.size()) + " start configurations").c_str());
  ReplayPrinter printer(replay.optimum_s());
  const replay::ReplayRun run = replay::run_replay(replay, *strategy, o.budget, o.seed, initial,
                                                   o.quiet ? nullptr : &printer);

  const Evaluation* best = run.result.best_evaluation();
  double strategy_total = 0.0;
  for (double s : run.strategy_s) strategy_total += s;
  std::printf("replayed %zu evaluations (%s)\n", run.result.evaluations.size(),
              std::string(to_string(run.result.stop_reason)).c_str());
  if (best) {
    std::printf("best %.4f ms = %.3fx the optimum: %s\n", best->measurement.objective() * 1e3,
                best->measurement.objective() / replay.optimum_s(),
                replay.space().at(best->index).describe(true).c_str());
  } else {
    std::printf("no evaluated configuration ran correctly\n");
  }
  if (!run.strategy_s.empty()) {
    std::printf("strategy time %.2f ms per proposal\n",
                strategy_total / static_cast<double>(run.strategy_s.size()) * 1e3);
  }

  if (!o.json_path.empty()) {
    nlohmann::ordered_json trajectory = nlohmann::ordered_json::array();
    for (double s : run.trajectory_s) {
      trajectory.push_back(std::isfinite(s) ? nlohmann::ordered_json(s * 1e3)
                                            : nlohmann::ordered_json());
    }
    nlohmann::ordered_json report{
        {"mode", "replay"},
        {"space", o.space_path},
        {"kernel", recorded.kernel_name},
        {"device", recorded.device_name},
        {"strategy", o.strategy},
        {"seed", o.seed},
        {"budget", o.budget},
        {"include_failed", o.include_failed},
        {"optimum", replay.optimum_s() * 1e3},
        {"unit", "ms"},
        {"evaluations", run.result.evaluations.size()},
        {"trajectory", std::move(trajectory)},
    };
    if (best) report["best"] = replay.space().at(best->index).to_json();
    write_json(json_out, report, o.json_path, "JSON result");
  }
}

}  // namespace

void add_replay_command(CLI::App& app) {
  auto options = std::make_shared<ReplayOptions>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Simulation: run a search strategy on a recorded space (Kernel Tuner cache or T4 file, "
      ".json or .json.gz), answering from the recorded times instead of measuring");
  cmd->add_option("--space", options->space_path, "Recorded space file")->required();
  cmd->add_option("--strategy", options->strategy, "Search strategy (see 'attune strategies')")
      ->capture_default_str();
  cmd->add_option("--budget", options->budget, "Distinct configurations to evaluate")
      ->check(kPositive)
      ->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed of the strategy")->capture_default_str();
  cmd->add_option("--json", options->json_path,
                  "Write space, strategy, seed, budget, optimum, evaluations and the best-so-far "
                  "trajectory (ms) to this file");
  cmd->add_option("--start", options->start_path,
                  "JSON file with known-good configurations ({name: value} or a list), "
                  "evaluated first");
  cmd->add_flag("--include-failed", options->include_failed,
                "Put the configurations recorded as failed in the space; each costs an "
                "evaluation and returns its failure");
  cmd->add_flag("--quiet,-q", options->quiet, "Print only the summary");
  cmd->callback([options] { run_replay_command(*options); });
}

}  // namespace attune::cli
