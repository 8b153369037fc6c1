// attune's command-line entry point: parses the command line, runs the chosen subcommand, and maps
// errors to exit codes (2 for anything the user can fix: a bad flag, value or name).

#include <cstdio>
#include <exception>

#include "attune/config.hpp"
#include "attune/error.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{
      "attune " ATTUNE_VERSION
      ": makes compute kernels tune themselves. It measures real runs of a kernel over its\n"
      "parameter space, searches that space with a strategy, and reports the best configuration."};
  app.set_version_flag("--version", ATTUNE_VERSION);
  app.require_subcommand(1);
  attune::cli::add_tune_command(app);
  attune::cli::add_strategies_command(app);
  attune::cli::add_replay_command(app);
  attune::cli::add_db_command(app);
  attune::cli::add_bench_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const attune::Error& e) {
    std::fprintf(stderr, "attune: error: %s\n", e.what());
    return e.code() == attune::ErrorCode::Internal || e.code() == attune::ErrorCode::Io ? 1 : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attune: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
