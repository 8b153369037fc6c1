// `attune tune gemm`: tunes the built-in SGEMM for one problem on this CPU, then measures the best
// configuration and the untuned default side by side, in alternating rounds, so the speedup it
// prints is not an artefact of the machine drifting between the two.

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/observers.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "commands.hpp"

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
  bool quiet = false;
};

double gflops(const cpu::GemmProblem& problem, double seconds) {
  return seconds > 0 ? problem.flops() / seconds * 1e-9 : 0.0;
}

nlohmann::json result_json(const Config& config, const Measurement& m,
                           const cpu::GemmProblem& problem) {
  nlohmann::json j{{"config", config.to_json()}, {"status", to_string(m.status)}};
  if (m.ok()) {
    j["median_ms"] = m.summary.median * 1e3;
    j["ci95_ms"] = {m.summary.ci_low * 1e3, m.summary.ci_high * 1e3};
    j["gflops"] = gflops(problem, m.summary.median);
  } else {
    j["message"] = m.message;
  }
  return j;
}

std::string describe(const Config& config) {
  std::string text;
  for (std::size_t i = 0; i < config.space().params().size(); ++i) {
    if (!text.empty()) text += ' ';
    text += config.space().params()[i].name + '=' + config.value(i).to_string();
  }
  return text;
}

void print_line(const char* label, const Config& config, const Measurement& m,
                const cpu::GemmProblem& problem) {
  if (!m.ok()) {
    std::printf("%-8s %s\n         %s: %s\n", label, describe(config).c_str(),
                std::string(to_string(m.status)).c_str(), m.message.c_str());
    return;
  }
  std::printf("%-8s %s\n         %.4g GFLOP/s  (median %s, 95%% CI %s .. %s, %zu samples)\n",
              label, describe(config).c_str(), gflops(problem, m.summary.median),
              format_seconds(m.summary.median).c_str(), format_seconds(m.summary.ci_low).c_str(),
              format_seconds(m.summary.ci_high).c_str(), m.samples_s.size());
}

void run_tune_gemm(const TuneGemmOptions& o) {
  const kernels::Isa isa = kernels::best_isa();
  const DeviceInfo device = DeviceInfo::host_cpu();
  const int threads = o.threads.value_or(device.cores);
  if (threads > device.cores) {
    throw Error(ErrorCode::InvalidArgument,
                "--threads " + std::to_string(threads) + " exceeds the " +
                    std::to_string(device.cores) + " CPUs this process may use");
  }
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(o.strategy);
  // Open the report before tuning, so a bad path fails now and not after minutes of measuring.
  std::ofstream json_out;
  if (!o.json_path.empty()) {
    json_out.open(o.json_path);
    if (!json_out) {
      throw Error(ErrorCode::InvalidArgument,
                  "cannot write the JSON report to '" + o.json_path +
                      "': check that the directory exists and is writable");
    }
  }

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
  HarnessOptions harness_options;
  harness_options.max_measure_s = o.measure_s;
  Evaluator evaluator(backend, Harness(harness_options));

  TuneOptions options;
  options.seed = o.seed;
  options.budget.evaluations = o.budget;
  options.budget.seconds = o.seconds;
  if (!o.budget && !o.seconds) options.budget.evaluations = kDefaultBudget;
  options.initial = {default_index};

  Tuner tuner(space, evaluator, *strategy, options);
  ProgressObserver progress(stderr, [&](double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.3g GFLOP/s", gflops(problem, s));
    return std::string(text);
  });
  if (!o.quiet) tuner.add_observer(progress);
  const TuneResult result = tuner.run();

  const Config default_config = space.at(default_index);
  const Evaluation* best = result.best_evaluation();
  if (!best) {
    throw Error(ErrorCode::Unsupported,
                "no configuration of " + std::to_string(result.evaluations.size()) +
                    " evaluated ran correctly on this machine; see the statuses with --json");
  }
  const Config best_config = space.at(best->index);
  if (!o.quiet) {
    std::fprintf(stderr, "measuring the best and the default configuration side by side (%d "
                         "alternating rounds)\n", o.compare_rounds);
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
      nlohmann::json row{{"config", space.at(e.index).to_json()},
                         {"status", to_string(m.status)},
                         {"calls_per_sample", m.calls_per_sample},
                         {"compile_ms", m.compile_s * 1e3},
                         {"verify_ms", m.verify_s * 1e3}};
      if (m.ok()) {
        row["median_ms"] = m.summary.median * 1e3;
        row["gflops"] = gflops(problem, m.summary.median);
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
    json_out << report.dump(2) << '\n';
    json_out.flush();
    if (!json_out) {
      throw Error(ErrorCode::Io, "cannot write the JSON report to '" + o.json_path +
                                     "': check that the directory exists and is writable");
    }
  }
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto* tune = app.add_subcommand("tune", "Tune a kernel for one problem and report the best "
                                          "configuration");
  tune->require_subcommand(1);
  auto options = std::make_shared<TuneGemmOptions>();
  auto* gemm = tune->add_subcommand(
      "gemm", "Tune the built-in SGEMM, C = alpha*A*B + beta*C (row-major float32), on this CPU");
  gemm->add_option("--m", options->m, "Rows of A and C")->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--n", options->n, "Columns of B and C")->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--k", options->k, "Columns of A, rows of B")->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--alpha", options->alpha, "Scale of A*B")->capture_default_str();
  gemm->add_option("--beta", options->beta, "Scale of the C read in (0: C is not read)")
      ->capture_default_str();
  gemm->add_option("--threads", options->threads,
                   "Most threads a configuration may use (default: every CPU this process may "
                   "use); the tuner also tries fewer")
      ->check(CLI::PositiveNumber);
  gemm->add_option("--strategy", options->strategy,
                   "Search strategy (see 'attune strategies')")->capture_default_str();
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
      ->check(CLI::PositiveNumber)->capture_default_str();
  gemm->add_option("--compare-rounds", options->compare_rounds,
                   "Alternating rounds of the final best-versus-default comparison")
      ->check(CLI::Range(1, 100))->capture_default_str();
  gemm->add_option("--json", options->json_path,
                   "Write every measurement and the result to this JSON file");
  gemm->add_flag("--quiet,-q", options->quiet, "Print only the result");
  gemm->callback([options] { run_tune_gemm(*options); });
}

}  // namespace attune::cli
