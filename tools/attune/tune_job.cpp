// The tuning run every `attune tune` form shares. Every evaluation is committed to the tuning
// database as it is made; running the same command again resumes an interrupted run exactly, and
// Ctrl-C stops after the measurement in flight. After the search, the best configuration and the
// untuned default are measured side by side in alternating rounds, so the speedup printed is not
// an artefact of the machine drifting between the two.

#include "tune_job.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/observers.hpp"
#include "attune/tuner.hpp"
#include "attune/tuning_database.hpp"
#include "number_checks.hpp"
#include "output_file.hpp"
#include "start_file.hpp"

namespace attune::cli {
namespace {

// Set by SIGINT; the tuner polls it between measurements. A second Ctrl-C kills the process at
// once (the default action), which loses nothing committed.
std::atomic<bool> interrupt_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_interrupt(int) {
  interrupt_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
}

constexpr int kInterruptedExit = 130;

std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789-_./=:,+") == std::string::npos) {
    return arg;
  }
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

nlohmann::json result_json(const TuneJob& job, const Config& config, const Measurement& m) {
  nlohmann::json j{{"config", config.to_json()}, {"status", to_string(m.status)}};
  if (m.ok()) {
    j["median_ms"] = m.summary.median * 1e3;
    j["ci95_ms"] = {m.summary.ci_low * 1e3, m.summary.ci_high * 1e3};
    nlohmann::json rounds = nlohmann::json::array();
    for (double s : m.round_medians_s) rounds.push_back(s * 1e3);
    j["round_medians_ms"] = std::move(rounds);
    if (!job.rate_key.empty()) j[job.rate_key] = job.rate(m.summary.median);
  } else {
    j["message"] = m.message;
  }
  return j;
}

void print_line(const TuneJob& job, const char* label, const Config& config, const Measurement& m) {
  if (!m.ok()) {
    std::printf("%-8s %s\n         %s: %s\n", label, config.describe().c_str(),
                std::string(to_string(m.status)).c_str(), m.message.c_str());
    return;
  }
  // The summary is over the rounds' medians; with fewer than six there is no 95% interval of
  // their median, and the summary's interval is their range (see summarize).
  const std::string rate = job.describe ? job.describe(m.summary.median) + "  " : "";
  const std::size_t rounds = m.round_medians_s.size();
  std::string spread;
  if (rounds > 1) {
    spread = (rounds < 6 ? ", from " : ", 95% CI ") + format_seconds(m.summary.ci_low) +
             (rounds < 6 ? " to " : " .. ") + format_seconds(m.summary.ci_high);
  }
  std::printf("%-8s %s\n         %s(median %s over %zu round%s%s, %zu samples)\n", label,
              config.describe().c_str(), rate.c_str(), format_seconds(m.summary.median).c_str(),
              rounds, rounds == 1 ? "" : "s", spread.c_str(), m.samples_s.size());
}

void print_telemetry(const TuneResult& result, std::size_t build_threads) {
  const PipelineTelemetry& t = result.telemetry;
  if (t.pipelined) {
    const std::string threads =
        t.prepare_threads > build_threads
            ? std::to_string(build_threads) + " thread" + (build_threads == 1 ? "" : "s") +
                  ", then " + std::to_string(t.prepare_threads)
            : std::to_string(build_threads) + " thread" + (build_threads == 1 ? "" : "s");
    std::printf(
        "pipeline building ahead on %s, look-ahead up to %zu: building %.1f s, "
        "measuring %.1f s, waiting for builds %.1f s; device idle %.0f%% of %.1f s\n",
        threads.c_str(), t.max_depth, t.prepare_s, t.measure_s, t.wait_s,
        100.0 * t.idle_fraction(result.elapsed_s), result.elapsed_s);
  } else if (t.prepare_s > 0.05 * result.elapsed_s) {
    std::printf("serial: building %.1f s, measuring %.1f s; device idle %.0f%% of %.1f s\n",
                t.prepare_s, t.measure_s, 100.0 * t.idle_fraction(result.elapsed_s),
                result.elapsed_s);
  }
}

nlohmann::json telemetry_json(const TuneResult& result) {
  const PipelineTelemetry& t = result.telemetry;
  return {{"pipelined", t.pipelined},
          {"strategy_s", t.strategy_s},
          {"build_s", t.prepare_s},
          {"measure_s", t.measure_s},
          {"wait_for_build_s", t.wait_s},
          {"max_lookahead_reached", t.max_depth},
          {"build_threads", t.prepare_threads},
          {"device_idle_fraction", t.idle_fraction(result.elapsed_s)}};
}

}  // namespace

std::filesystem::path database_path(const TuneFlags& flags) {
  return flags.db_path.empty() ? TuningDatabase::default_path()
                               : std::filesystem::path(flags.db_path);
}

void add_tune_flags(CLI::App& command, TuneFlags& flags, const std::string& seed_help) {
  command.add_option("--strategy", flags.strategy, "Search strategy (see 'attune strategies')")
      ->capture_default_str();
  command
      .add_option("--budget", flags.budget,
                  "Most configurations to measure (default " + std::to_string(kDefaultTuneBudget) +
                      " when --time is not given either)")
      ->check(kPositive);
  command.add_option("--time", flags.seconds, "Most wall-clock seconds to tune")
      ->check(kPositive);
  command.add_option("--seed", flags.seed, seed_help)->capture_default_str();
  command
      .add_option("--measure-time", flags.measure_s, "Most seconds spent timing one configuration")
      ->check(kPositive)
      ->capture_default_str();
  command
      .add_option("--compare-rounds", flags.compare_rounds,
                  "Alternating rounds of the final best-versus-default comparison")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  command.add_option("--json", flags.json_path,
                     "Write every measurement and the result to this JSON file");
  command.add_option("--start", flags.start_path,
                     "JSON file with known-good configurations ({name: value} or a list), "
                     "measured first");
  command.add_flag("--quiet,-q", flags.quiet, "Print only the result");
  command.add_option("--db", flags.db_path,
                     "Tuning database to store every measurement in and resume from (default: "
                     "$ATTUNE_DB, else $XDG_CACHE_HOME/attune/tuning.db, else "
                     "~/.cache/attune/tuning.db)");
  command.add_flag("--no-db", flags.no_db, "Store nothing (no resume)")->excludes("--db");
  command
      .add_option("--lookahead", flags.lookahead,
                  "Most configurations compiled ahead of the one being measured, for backends "
                  "that compile (0: compile and measure strictly one after another)")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  command
      .add_option("--build-threads", flags.build_threads,
                  "Threads that compile ahead (default: one less than the CPUs, at least one, "
                  "growing up to the CPUs while the device waits for builds; given: fixed)")
      ->check(CLI::Range(1, 256));
}

void record_argv(const CLI::App& command, std::vector<std::string> prefix, TuneFlags& flags) {
  flags.argv = std::move(prefix);
  for (const auto* opt : command.get_options()) {
    if (opt->count() == 0) continue;
    if (opt->get_lnames().empty()) {  // a positional: the spec file
      for (const std::string& value : opt->results()) flags.argv.push_back(value);
      continue;
    }
    const std::string name = "--" + opt->get_lnames().front();
    if (opt->get_type_size() == 0) {
      flags.argv.push_back(name);
      continue;
    }
    for (const std::string& value : opt->results()) {
      flags.argv.push_back(name);
      flags.argv.push_back(value);
    }
  }
}

int run_tune_job(const TuneJob& job, const TuneFlags& flags) {
  const SearchSpace& space = *job.space;
  Backend& backend = *job.backend;
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(flags.strategy);
  // Open the report before tuning, so a bad path fails now and not after minutes of measuring.
  std::ofstream json_out;
  if (!flags.json_path.empty()) json_out = open_output_file(flags.json_path, "JSON report");
  if (job.announce) job.announce();

  std::optional<TuningDatabase> db;
  StoredRun run;
  TuningKey key{backend.device(),
                {backend.kernel_id(), job.kernel_source, job.kernel_flags},
                SpaceIdentity::of(space),
                job.problem};
  std::map<std::size_t, Measurement> known;  // from other runs: recalled, not measured again
  if (!flags.no_db) {
    const std::filesystem::path db_path = database_path(flags);
    db.emplace(db_path);
    run = db->open_run(key, flags.strategy, flags.seed, space);
    for (StoredMeasurement& m : db->latest_measurements(key)) {
      if (auto index = space.index_of_key(m.config_key)) known[*index] = std::move(m.measurement);
    }
    if (!flags.quiet) {
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
  harness_options.max_measure_s = flags.measure_s;
  harness_options.timeout_s = job.timeout_s;
  Evaluator evaluator(backend, Harness(harness_options));

  TuneOptions options;
  options.seed = flags.seed;
  options.budget.evaluations = flags.budget;
  options.budget.seconds = flags.seconds;
  if (!flags.budget && !flags.seconds) options.budget.evaluations = kDefaultTuneBudget;
  options.initial = {job.default_index};
  if (!flags.start_path.empty()) {
    // Known-good configurations first, then the untuned default (unless it is one of them).
    options.initial = read_start_file(flags.start_path, space);
    if (std::find(options.initial.begin(), options.initial.end(), job.default_index) ==
        options.initial.end()) {
      options.initial.push_back(job.default_index);
    }
  }
  for (const std::size_t index : job.candidates) {
    if (std::find(options.initial.begin(), options.initial.end(), index) == options.initial.end()) {
      options.initial.push_back(index);
    }
  }
  const std::size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t build_threads =
      flags.build_threads.value_or(std::max<std::size_t>(1, cpus - 1));
  options.pipeline.max_lookahead = flags.lookahead;
  options.pipeline.prepare_threads = build_threads;
  options.pipeline.max_prepare_threads = flags.build_threads ? build_threads : cpus;
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
  ProgressObserver progress(stderr, job.describe);
  if (!flags.quiet) tuner.add_observer(progress);
  const TuneResult result = tuner.run();
  std::signal(SIGINT, SIG_DFL);
  if (result.stop_reason == StopReason::Interrupted) {
    std::fprintf(stderr, "\nattune: interrupted after %zu evaluations", result.evaluations.size());
    if (db) {
      std::string command = "attune";
      for (const std::string& a : flags.argv) command += ' ' + shell_quote(a);
      std::fprintf(stderr, "; every one is stored in %s.\nResume with the same command:\n  %s\n",
                   db->path().c_str(), command.c_str());
    } else {
      std::fprintf(stderr, " (nothing stored: --no-db)\n");
    }
    return kInterruptedExit;
  }
  if (db) db->finish_run(run.id, result.stop_reason, result.elapsed_s);

  const Config default_config = space.at(job.default_index);
  const Evaluation* best = result.best_evaluation();
  if (!best) {
    std::map<Status, std::size_t> statuses;
    for (const Evaluation& e : result.evaluations) ++statuses[e.measurement.status];
    std::string counts;
    for (const auto& [status, count] : statuses) {
      counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " " +
                std::string(to_string(status));
    }
    std::string first_failure;
    if (!result.evaluations.empty()) {
      first_failure = "; the first said: " + result.evaluations.front().measurement.message;
    }
    throw Error(ErrorCode::Unsupported,
                "no configuration of " + std::to_string(result.evaluations.size()) +
                    " evaluated ran correctly (" + counts + ")" + first_failure);
  }
  const Config best_config = space.at(best->index);
  if (!flags.quiet) {
    std::fprintf(stderr,
                 "measuring the best and the default configuration side by side (%d alternating "
                 "round%s)\n",
                 flags.compare_rounds, flags.compare_rounds == 1 ? "" : "s");
  }
  const std::vector<Config> pair{best_config, default_config};
  const std::vector<Measurement> final = evaluator.compare(pair, flags.compare_rounds);

  std::printf("%s, %zu evaluations in %.1f s (%s)\n", job.title.c_str(), result.evaluations.size(),
              result.elapsed_s, std::string(to_string(result.stop_reason)).c_str());
  print_line(job, "best", best_config, final[0]);
  print_line(job, "default", default_config, final[1]);
  if (final[0].ok() && final[1].ok()) {
    std::printf("speedup  %.2fx over the default\n",
                final[1].summary.median / final[0].summary.median);
  }
  if (!flags.quiet) print_telemetry(result, build_threads);

  if (!flags.json_path.empty()) {
    nlohmann::json measurements = nlohmann::json::array();
    for (const Evaluation& e : result.evaluations) {
      const Measurement& m = e.measurement;
      nlohmann::json row{
          {"config", space.at(e.index).to_json()},  {"status", to_string(m.status)},
          {"calls_per_sample", m.calls_per_sample}, {"compile_ms", m.compile_s * 1e3},
          {"verify_ms", m.verify_s * 1e3},          {"recalled", e.recalled}};
      if (m.ok()) {
        row["median_ms"] = m.summary.median * 1e3;
        if (!job.rate_key.empty()) row[job.rate_key] = job.rate(m.summary.median);
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
        {"problem", job.problem.to_json()},
        {"device", backend.device().to_json()},
        {"strategy", flags.strategy},
        {"seed", flags.seed},
        {"space", {{"size", space.size()}, {"signature", space.signature()}}},
        {"stop_reason", to_string(result.stop_reason)},
        {"elapsed_s", result.elapsed_s},
        {"pipeline", telemetry_json(result)},
        {"best", result_json(job, best_config, final[0])},
        {"default", result_json(job, default_config, final[1])},
        {"measurements", std::move(measurements)},
    };
    if (db) report["database"] = db->path().string();
    write_json(json_out, report, flags.json_path, "JSON report");
  }
  return 0;
}

}  // namespace attune::cli
