// `attune tune gemm`: tunes the built-in SGEMM for one problem on this CPU, then measures the best
// configuration and the untuned default side by side, in alternating rounds, so the speedup it
// prints is not an artefact of the machine drifting between the two. Every evaluation is committed
// to the tuning database as it is made; running the same command again resumes an interrupted run
// exactly, and Ctrl-C stops after the measurement in flight.

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/observers.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "attune/tuning_database.hpp"
#include "commands.hpp"
#include "output_file.hpp"
#include "start_file.hpp"

namespace attune::cli {
namespace {

constexpr std::size_t kDefaultBudget = 60;

struct TuneGemmOptions {
  int m = 1024;
  int n = 1024;
  int k = 1024;
  float alpha = 1.0f;
  float beta = 0.0f;
  std::optional<int> threads;
  std::string strategy = kDefaultStrategy;
  std::optional<std::size_t> budget;
  std::optional<double> seconds;
  std::uint64_t seed = 0;
  double measure_s = 1.0;
  int compare_rounds = 5;
  std::string json_path;
  std::string start_path;
  bool quiet = false;
  std::string db_path;
  bool no_db = false;
  std::vector<std::string> argv;  // to print the resume command
};

// Set by SIGINT; the tuner polls it between measurements. A second Ctrl-C kills the process at
// once (the default action), which loses nothing committed.
std::atomic<bool> interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_interrupt(int) {
  interrupt_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
}

constexpr int kInterruptedExit = 130;

nlohmann::json result_json(const Config& config, const Measurement& m,
                           const cpu::GemmProblem& problem) {
  nlohmann::json j{{"config", config.to_json()}, {"status", to_string(m.status)}};
  if (m.ok()) {
    j["median_ms"] = m.summary.median * 1e3;
    j["ci95_ms"] = {m.summary.ci_low * 1e3, m.summary.ci_high * 1e3};
    j["gflops"] = problem.gflops(m.summary.median);
  } else {
    j["message"] = m.message;
  }
  return j;
}

void print_line(const char* label, const Config& config, const Measurement& m,
                const cpu::GemmProblem& problem) {
  if (!m.ok()) {
    std::printf("%-8s %s\n         %s: %s\n", label, config.describe().c_str(),
                std::string(to_string(m.status)).c_str(), m.message.c_str());
    return;
  }
  std::printf("%-8s %s\n         %.4g GFLOP/s  (median %s, 95%% CI %s .. %s, %zu samples)\n", label,
              config.describe().c_str(), problem.gflops(m.summary.median),
              format_seconds(m.summary.median).c_str(), format_seconds(m.summary.ci_low).c_str(),
              format_seconds(m.summary.ci_high).c_str(), m.samples_s.size());
}

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_./=:,+") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Returns the process exit code: 0, or 130 after Ctrl-C.
int run_tune_gemm(const TuneGemmOptions& o) {
  const kernels::Isa isa = kernels::best_isa();
  const DeviceInfo device = DeviceInfo::host_cpu();
  const int threads = o.threads.value_or(device.cores);
  if (threads > device.cores) {
    throw Error(ErrorCode::InvalidArgument, "--threads " + std::to_string(threads) +
                                                " exceeds the " + std::to_string(device.cores) +
                                                " CPUs this process may use");
  }
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(o.strategy);
  // Open the report before tuning, so a bad path fails now and not after minutes of measuring.
  std::ofstream json_out;
  if (!o.json_path.empty()) json_out = open_output_file(o.json_path, "JSON report");

  const cpu::GemmProblem problem{o.m, o.n, o.k, o.alpha, o.beta};
  const SearchSpace space = cpu::gemm_search_space(isa, threads);
  const std::size_t default_index = cpu::default_gemm_index(space, isa, threads);

  if (!o.quiet) {
    std::fprintf(stderr, "attune: sgemm %s on %s (%s, up to %d threads), strategy %s, seed %llu\n",
                 problem.key().key().c_str(), device.name.c_str(),
                 std::string(kernels::to_string(isa)).c_str(), threads, o.strategy.c_str(),
                 static_cast<unsigned long long>(o.seed));
  }
  cpu::GemmBackend backend(problem, isa, o.seed);

  std::optional<TuningDatabase> db;
  StoredRun run;
  TuningKey key{device, {backend.kernel_id(), "", ""}, SpaceIdentity::of(space), problem.key()};
  std::map<std::size_t, Measurement> known;  // from other runs: recalled, not measured again
  if (!o.no_db) {
    const std::filesystem::path db_path =
        o.db_path.empty() ? TuningDatabase::default_path() : std::filesystem::path(o.db_path);
    db.emplace(db_path);
    run = db->open_run(key, o.strategy, o.seed, space);
    for (StoredMeasurement& m : db->latest_measurements(key)) {
      if (auto index = space.index_of_key(m.config_key)) known[*index] = std::move(m.measurement);
    }
    if (!o.quiet) {
      if (!run.checkpoint.evaluations.empty()) {
        std::fprintf(stderr, "attune: resuming the run stored in %s: %zu evaluations done%s\n",
                     db_path.c_str(), run.checkpoint.evaluations.size(),
                     run.stop_reason.empty() ? " before it was interrupted"
                                             : (" (it stopped: " + run.stop_reason + ")").c_str());
      } else {
        std::fprintf(stderr, "attune: storing every measurement in %s\n", db_path.c_str());
      }
    }
  }

  HarnessOptions harness_options;
  harness_options.max_measure_s = o.measure_s;
  Evaluator evaluator(backend, Harness(harness_options));

  TuneOptions options;
  options.seed = o.seed;
  options.budget.evaluations = o.budget;
  options.budget.seconds = o.seconds;
  if (!o.budget && !o.seconds) options.budget.evaluations = kDefaultBudget;
  options.initial = {default_index};
  if (!o.start_path.empty()) {
    // Known-good configurations first, then the untuned default (unless it is one of them).
    options.initial = read_start_file(o.start_path, space);
    if (std::find(options.initial.begin(), options.initial.end(), default_index) ==
        options.initial.end()) {
      options.initial.push_back(default_index);
    }
  }
  if (db) {
    options.resume = run.checkpoint;
    for (const Evaluation& e : run.checkpoint.evaluations) known.erase(e.index);
    options.recall = [&known](std::size_t index) -> std::optional<Measurement> {
      auto it = known.find(index);
      if (it == known.end()) return std::nullopt;
      return it->second;
    };
    options.commit = [&](const Evaluation& e, const nlohmann::json& state) {
      db->commit_evaluation(run.id, e, space.at(e.index), state);
    };
  }
  interrupt_requested.store(false);
  options.stop_requested = &interrupt_requested;
  std::signal(SIGINT, on_interrupt);

  Tuner tuner(space, evaluator, *strategy, options);
  ProgressObserver progress(stderr, [&](double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g GFLOP/s", problem.gflops(s));
    return std::string(text);
  });
  if (!o.quiet) tuner.add_observer(progress);
  const TuneResult result = tuner.run();
  std::signal(SIGINT, SIG_DFL);
  if (result.stop_reason == StopReason::Interrupted) {
    std::fprintf(stderr, "\nattune: interrupted after %zu evaluations", result.evaluations.size());
    if (db) {
      std::string command = "attune";
      for (const std::string& a : o.argv) command += ' ' + shell_quote(a);
      std::fprintf(stderr, "; every one is stored in %s.\nResume with the same command:\n  %s\n",
                   db->path().c_str(), command.c_str());
    } else {
      std::fprintf(stderr, " (nothing stored: --no-db)\n");
    }
    return kInterruptedExit;
  }
  if (db) db->finish_run(run.id, result.stop_reason, result.elapsed_s);

  const Config default_config = space.at(default_index);
  const Evaluation* best = result.best_evaluation();
  if (!best) {
    throw Error(ErrorCode::Unsupported,
                "no configuration of " + std::to_string(result.evaluations.size()) +
                    " evaluated ran correctly on this machine; see the statuses with --json");
  }
  const Config best_config = space.at(best->index);
  if (!o.quiet) {
    std::fprintf(stderr,
                 "measuring the best and the default configuration side by side (%d alternating "
                 "round%s)\n",
                 o.compare_rounds, o.compare_rounds == 1 ? "" : "s");
  }
  const std::vector<Config> pair{best_config, default_config};
  const std::vector<Measurement> final = evaluator.compare(pair, o.compare_rounds);

  std::printf("sgemm %s, %d thread%s max, %s, %zu evaluations in %.1f s (%s)\n",
              problem.key().key().c_str(), threads, threads == 1 ? "" : "s",
              std::string(kernels::to_string(isa)).c_str(), result.evaluations.size(),
              result.elapsed_s, std::string(to_string(result.stop_reason)).c_str());
  print_line("best", best_config, final[0], problem);
  print_line("default", default_config, final[1], problem);
  if (final[0].ok() && final[1].ok()) {
    std::printf("speedup  %.2fx over the default\n",
                final[1].summary.median / final[0].summary.median);
  }

  if (!o.json_path.empty()) {
    nlohmann::json measurements = nlohmann::json::array();
    for (const Evaluation& e : result.evaluations) {
      const Measurement& m = e.measurement;
      nlohmann::json row{
          {"config", space.at(e.index).to_json()},  {"status", to_string(m.status)},
          {"calls_per_sample", m.calls_per_sample}, {"compile_ms", m.compile_s * 1e3},
          {"verify_ms", m.verify_s * 1e3},          {"recalled", e.recalled}};
      if (m.ok()) {
        row["median_ms"] = m.summary.median * 1e3;
        row["gflops"] = problem.gflops(m.summary.median);
        row["rechecked"] = m.rechecked;
      } else {
        row["message"] = m.message;
      }
      nlohmann::json samples = nlohmann::json::array();
      for (double s : m.samples_s) samples.push_back(s * 1e3);
      row["samples_ms"] = std::move(samples);
      measurements.push_back(std::move(row));
    }
    nlohmann::json report{
        {"kernel", backend.kernel_id()},
        {"problem", problem.key().to_json()},
        {"device", device.to_json()},
        {"strategy", o.strategy},
        {"seed", o.seed},
        {"space", {{"size", space.size()}, {"signature", space.signature()}}},
        {"stop_reason", to_string(result.stop_reason)},
        {"elapsed_s", result.elapsed_s},
        {"best", result_json(best_config, final[0], problem)},
        {"default", result_json(default_config, final[1], problem)},
        {"measurements", std::move(measurements)},
    };
    if (db) report["database"] = db->path().string();
    write_json(json_out, report, o.json_path, "JSON report");
  }
  return 0;
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto* tune = app.add_subcommand("tune",
                                  "Tune a kernel for one problem and report the best "
                                  "configuration");
  tune->require_subcommand(1);
  auto options = std::make_shared<TuneGemmOptions>();
  auto* gemm = tune->add_subcommand(
      "gemm", "Tune the built-in SGEMM, C = alpha*A*B + beta*C (row-major float32), on this CPU");
  gemm->add_option("--m", options->m, "Rows of A and C")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--n", options->n, "Columns of B and C")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--k", options->k, "Columns of A, rows of B")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--alpha", options->alpha, "Scale of A*B")->capture_default_str();
  gemm->add_option("--beta", options->beta, "Scale of the C read in (0: C is not read)")
      ->capture_default_str();
  gemm->add_option("--threads", options->threads,
                   "Most threads a configuration may use (default: every CPU this process may "
                   "use); the tuner also tries fewer")
      ->check(CLI::PositiveNumber);
  gemm->add_option("--strategy", options->strategy, "Search strategy (see 'attune strategies')")
      ->capture_default_str();
  gemm->add_option("--budget", options->budget,
                   "Most configurations to measure (default " + std::to_string(kDefaultBudget) +
                       " when --time is not given either)")
      ->check(CLI::PositiveNumber);
  gemm->add_option("--time", options->seconds, "Most wall-clock seconds to tune")
      ->check(CLI::PositiveNumber);
  gemm->add_option("--seed", options->seed, "Seed of the strategy and the random inputs")
      ->capture_default_str();
  gemm->add_option("--measure-time", options->measure_s,
                   "Most seconds spent timing one configuration")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  gemm->add_option("--compare-rounds", options->compare_rounds,
                   "Alternating rounds of the final best-versus-default comparison")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  gemm->add_option("--json", options->json_path,
                   "Write every measurement and the result to this JSON file");
  gemm->add_option("--start", options->start_path,
                   "JSON file with known-good configurations ({name: value} or a list), "
                   "measured first");
  gemm->add_flag("--quiet,-q", options->quiet, "Print only the result");
  gemm->add_option("--db", options->db_path,
                   "Tuning database to store every measurement in and resume from (default: "
                   "$ATTUNE_DB, else $XDG_CACHE_HOME/attune/tuning.db, else "
                   "~/.cache/attune/tuning.db)");
  gemm->add_flag("--no-db", options->no_db, "Store nothing (no resume)")->excludes("--db");
  gemm->callback([options, gemm] {
    options->argv = {"tune", "gemm"};
    for (const auto* opt : gemm->get_options()) {
      if (opt->count() == 0 || opt->get_lnames().empty()) continue;
      const std::string name = "--" + opt->get_lnames().front();
      if (opt->get_type_size() == 0) {
        options->argv.push_back(name);
        continue;
      }
      for (const std::string& value : opt->results()) {
        options->argv.push_back(name);
        options->argv.push_back(value);
      }
    }
    const int code = run_tune_gemm(*options);
    if (code != 0) {
      std::fflush(stdout);
      std::exit(code);
    }
  });
}

}  // namespace attune::cli
