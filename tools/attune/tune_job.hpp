#pragma once
// What every form of `attune tune` shares once it has a search space and a backend: the flags
// (strategy, budget, seed, database, report, pipeline), the tuning run with its database, resume
// and Ctrl-C handling, the final side-by-side measurement of the best and the default
// configuration, and the report. `tune gemm` and `tune FILE.toml` differ only in how they build
// the space and the backend and in how they describe a result.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "attune/backend.hpp"
#include "attune/problem.hpp"
#include "attune/search_space.hpp"
#include "attune/strategy_registry.hpp"

namespace attune::cli {

struct TuneFlags {
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
  /// Build ahead at most this many configurations (0: strictly one after another).
  std::size_t lookahead = 8;
  std::optional<std::size_t> build_threads;
  std::vector<std::string> argv;  // the command as typed, to print the resume command
};

/// The database file the flags name: --db, else TuningDatabase::default_path().
std::filesystem::path database_path(const TuneFlags& flags);

/// The evaluation budget when neither --budget nor --time is given.
constexpr std::size_t kDefaultTuneBudget = 60;

/// Adds the shared flags to `command`; `seed_help` says what the seed also seeds.
void add_tune_flags(CLI::App& command, TuneFlags& flags, const std::string& seed_help);
/// Records the command line (`prefix` then every option given) for the resume hint.
void record_argv(const CLI::App& command, std::vector<std::string> prefix, TuneFlags& flags);

struct TuneJob {
  /// What is tuned, for the summary line: "sgemm m=1024,n=1024,k=1024;f32, 2 threads max, avx512".
  std::string title;
  const SearchSpace* space = nullptr;
  Backend* backend = nullptr;
  Problem problem;
  std::size_t default_index = 0;
  /// The kernel's own guesses for this problem, measured right after the default (and the start
  /// file's configurations), before the strategy's choices.
  std::vector<std::size_t> candidates;
  /// The database's identity of the kernel (source and flags for a user's kernel).
  std::string kernel_source;
  std::string kernel_flags;
  /// Describes seconds per call as the user reads a result ("12.3 GFLOP/s"); empty: time only.
  std::function<std::string(double seconds)> describe;
  /// The same as a number for the JSON report, with its key ("gflops"); empty key: none.
  std::string rate_key;
  std::function<double(double seconds)> rate;
  /// A call slower than this is a timeout (HarnessOptions::timeout_s).
  double timeout_s = 10.0;
  /// Run before the tuning starts, when the JSON path has been checked: prints the header line.
  std::function<void()> announce;
};

/// Tunes `job` under `flags`. Returns the process exit code: 0, or 130 after Ctrl-C (everything
/// measured is stored and the printed command resumes the run).
int run_tune_job(const TuneJob& job, const TuneFlags& flags);

}  // namespace attune::cli
