#pragma once
// The CLI's subcommands. Each adds itself to the app and runs when selected; errors that are the
// user's to fix are thrown as attune::Error and turned into exit code 2 by main.

#include <CLI/CLI.hpp>

namespace attune::cli {

/// `attune tune gemm ...`: tunes the built-in SGEMM for one problem.
void add_tune_command(CLI::App& app);
/// `attune strategies`: lists the registered search strategies.
void add_strategies_command(CLI::App& app);
/// `attune replay`: runs a strategy on a recorded space (simulation mode).
void add_replay_command(CLI::App& app);
/// `attune db ...`: inspects and maintains the tuning database.
void add_db_command(CLI::App& app);
/// `attune bench gemm`: attune's SGEMM, tuned per shape, against OpenBLAS and oneDNN.
void add_bench_command(CLI::App& app);

}  // namespace attune::cli
