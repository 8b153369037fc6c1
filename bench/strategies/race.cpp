// The attune half of the strategy race: every registered strategy (brute force aside) on every
// recorded space given, for 20 seeds, replayed with the real tuner loop. Attune's strategies do
// not know the budget, so the first B evaluations of one run of the largest budget are exactly a
// run of budget B; one run per seed gives every budget. Writes one CSV row per (strategy, space,
// budget, seed) with the best time found and the optimum, and a second CSV with the strategies'
// own time per proposal, which the race's summary reports beside the scores.
//
// Usage: race OUT.csv TIMINGS.csv SPACE_FILE... [--seeds N] [--budgets 25,50,100,200]
//        [--strategies a,b,...]

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "attune/backends/replay.hpp"
#include "attune/error.hpp"
#include "attune/strategy_registry.hpp"

namespace {

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::string space_name(const std::string& path) {
  std::string name = path.substr(path.find_last_of('/') + 1);
  for (const char* ext : {".json.gz", ".json"}) {
    if (name.size() > std::string(ext).size() && name.ends_with(ext)) {
      name.resize(name.size() - std::string(ext).size());
      break;
    }
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace attune;
  std::vector<std::string> files;
  std::size_t seeds = 20;
  std::vector<std::size_t> budgets = {25, 50, 100, 200};
  std::vector<std::string> strategies;
  std::string out_path, timing_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seeds" && i + 1 < argc) {
      seeds = std::stoul(argv[++i]);
    } else if (arg == "--budgets" && i + 1 < argc) {
      budgets.clear();
      for (const auto& b : split(argv[++i])) budgets.push_back(std::stoul(b));
    } else if (arg == "--strategies" && i + 1 < argc) {
      strategies = split(argv[++i]);
    } else if (out_path.empty()) {
      out_path = arg;
    } else if (timing_path.empty()) {
      timing_path = arg;
    } else {
      files.push_back(arg);
    }
  }
  if (out_path.empty() || timing_path.empty() || files.empty()) {
    std::fprintf(stderr,
                 "usage: race OUT.csv TIMINGS.csv SPACE_FILE... [--seeds N] "
                 "[--budgets 25,50,100,200] [--strategies a,b]\n");
    return 2;
  }
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  if (strategies.empty()) {
    for (const auto& name : registry.names()) {
      if (name != "brute_force") strategies.push_back(name);
    }
  }
  const std::size_t max_budget = *std::max_element(budgets.begin(), budgets.end());
  std::ofstream out(out_path);
  std::ofstream timing(timing_path);
  out << "tool,strategy,space,budget,seed,best_ms,optimum_ms,score,evaluations\n";
  timing << "strategy,space,observations,seconds_per_proposal_mean,seconds_per_proposal_max\n";
  // Seed by seed over every space and strategy, so that a race cut short still holds every
  // strategy on every space, with fewer seeds.
  std::vector<replay::ReplaySpace> spaces;
  for (const std::string& file : files) {
    spaces.push_back(replay::ReplaySpace::load(file));
    std::fprintf(stderr, "%s: %zu configurations, optimum %.4f ms\n", space_name(file).c_str(),
                 spaces.back().space().size(), spaces.back().optimum_s() * 1e3);
  }
  // Strategy seconds per proposal after 150 observations, per (strategy, space).
  std::map<std::pair<std::string, std::string>, std::vector<double>> late;
  for (std::size_t seed = 0; seed < seeds; ++seed) {
    for (std::size_t f = 0; f < files.size(); ++f) {
      const replay::ReplaySpace& space = spaces[f];
      const std::string name = space_name(files[f]);
      for (const std::string& strategy_name : strategies) {
        auto strategy = registry.create(strategy_name);
        const replay::ReplayRun run = replay::run_replay(space, *strategy, max_budget, seed);
        for (std::size_t b : budgets) {
          const std::size_t at = std::min(b, run.trajectory_s.size());
          const double best = at == 0 ? INFINITY : run.trajectory_s[at - 1];
          out << "attune," << strategy_name << ',' << name << ',' << b << ',' << seed << ','
              << best * 1e3 << ',' << space.optimum_s() * 1e3 << ',' << best / space.optimum_s()
              << ',' << at << '\n';
        }
        const auto& evaluations = run.result.evaluations;
        auto& times = late[{strategy_name, name}];
        for (std::size_t k = 150; k < evaluations.size(); ++k) {
          times.push_back(evaluations[k].strategy_s);
        }
      }
      out.flush();
    }
    std::fprintf(stderr, "race: seed %zu of %zu done\n", seed + 1, seeds);
  }
  for (const auto& [key, times] : late) {
    double mean = 0.0, max = 0.0;
    for (double s : times) {
      mean += s;
      max = std::max(max, s);
    }
    if (!times.empty()) mean /= static_cast<double>(times.size());
    timing << key.first << ',' << key.second << ",150-200," << mean << ',' << max << '\n';
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "race: %s\n", e.what());
  return 1;
}
