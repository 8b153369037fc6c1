#pragma once
// The CLI's subcommands. Each adds itself to the app and runs when selected; errors that are the
// user's to fix are thrown as attune::Error and turned into exit code 2 by main.

#include <CLI/CLI.hpp>

namespace attune::cli {

/// `attune tune gemm ...`: tunes the built-in SGEMM for one problem.
void add_tune_command(CLI::App& app);
/// `attune strategies`: lists the registered search strategies.
void add_strategies_command(CLI::App& app);

}  // namespace attune::cli
