// `attune strategies`: the registered search strategies and what each does.

#include <cstdio>

#include "attune/strategy_registry.hpp"
#include "commands.hpp"

namespace attune::cli {

void add_strategies_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("strategies", "List the search strategies --strategy accepts");
  cmd->callback([] {
    StrategyRegistry registry;
    register_builtin_strategies(registry);
    for (const auto& name : registry.names()) {
      std::printf("%-12s %s%s\n", name.c_str(), registry.description(name).c_str(),
                  name == kDefaultStrategy ? " (default)" : "");
    }
  });
}

}  // namespace attune::cli
