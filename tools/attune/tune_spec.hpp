#pragma once
// `attune tune FILE.toml`: tunes a user's kernel described by a spec file (docs/spec-files.md).
// `--check` validates the spec and prints what would be tuned without compiling or running
// anything; without it the kernel is tuned (run_tune_spec, tune_spec_run.hpp).

#include <CLI/CLI.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "attune/kernel_spec.hpp"
#include "tune_job.hpp"

namespace attune::cli {

struct TuneSpecOptions {
  std::filesystem::path spec_path;
  /// "NAME=VALUE" problem-size overrides (--set), applied in order.
  std::vector<std::string> sets;
  /// Validate and describe only.
  bool check = false;
  /// The tuning flags shared with every `attune tune`; they override the spec's [tuning] table.
  TuneFlags flags;
};

/// Adds the spec-file form to `tune`: the positional FILE.toml, --check, --set and the shared
/// tuning flags, and a callback that runs when `tune` was given a spec file rather than a
/// subcommand (tune gemm). Called once, by add_tune_command.
void add_tune_spec(CLI::App& tune);

/// load_spec(options.spec_path) with every --set applied. Throws Error as load_spec does, and
/// Error(InvalidArgument) for a --set that is not NAME=INTEGER, Error(UnknownName) for a name
/// that is not a problem size of the spec.
KernelSpec load_spec_with_overrides(const TuneSpecOptions& options);

/// --check: loads the spec, builds its search space and materializes the arguments of the default
/// configuration (so data files are checked too), prints kernel, backend, problem, parameters,
/// restrictions, space size, arguments, launch, verification, objective and tuning settings, and
/// returns 0. Throws Error (exit 2) for anything wrong, including a space with no valid
/// configuration.
int run_check_spec(const TuneSpecOptions& options);

/// The flags a spec's tuning runs under: the command line's where it gave a flag, else the spec's
/// [tuning] settings (strategy; budget and time together; seed), else the defaults. `tune` is the
/// command the flags were parsed by, to tell a flag given from its default.
TuneFlags merged_flags(const CLI::App& tune, const TuneSpecOptions& options,
                       const KernelSpec& spec);

}  // namespace attune::cli
