// Strategy lookup by name, and the explicit registration of the built-in strategies.

#include "attune/error.hpp"
#include "attune/strategy_registry.hpp"
#include "strategies/brute_force.hpp"
#include "strategies/random_search.hpp"
#include "strategies/technique.hpp"

namespace attune {

void StrategyRegistry::add(const std::string& name, std::string description, Factory factory) {
  if (!entries_.emplace(name, Entry{std::move(description), std::move(factory)}).second) {
    throw Error(ErrorCode::InvalidArgument,
                "a strategy named '" + name + "' is already registered");
  }
}

std::unique_ptr<Strategy> StrategyRegistry::create(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
    throw Error(ErrorCode::UnknownName,
                "unknown strategy '" + name + "'; available strategies: " + known);
  }
  return it->second.factory();
}

bool StrategyRegistry::contains(const std::string& name) const { return entries_.contains(name); }

std::vector<std::string> StrategyRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

const std::string& StrategyRegistry::description(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw Error(ErrorCode::UnknownName, "unknown strategy '" + name + "'");
  }
  return it->second.description;
}

void register_builtin_strategies(StrategyRegistry& registry) {
  registry.add("brute_force", "every valid configuration, in the space's order",
               [] { return std::make_unique<BruteForce>(); });
  registry.add("random", "uniformly random configurations, without replacement",
               [] { return std::make_unique<RandomSearch>(); });
  const auto add = [&](const char* name, std::string description,
                       std::unique_ptr<detail::Technique> (*make)()) {
    registry.add(name, std::move(description), [name, make] {
      return std::make_unique<detail::TechniqueStrategy>(name, make());
    });
  };
  add("local",
      "iterated local search: first-improvement climbs over neighbouring values, "
      "restarted by random walks from the best",
      detail::make_local_search);
  add("annealing", "simulated annealing on the neighbourhood graph with an adaptive temperature",
      detail::make_annealing);
  add("genetic", "constraint-aware genetic algorithm: tournament, uniform crossover, mutation",
      detail::make_genetic);
  add("bayes",
      "Gaussian process (Matern 5/2, fitted length scales, log-scaled sizes and a "
      "power-of-two input) with expected improvement and lower confidence bound",
      detail::make_bayes);
  add("natural_gradient",
      "natural-gradient ascent of a factorized categorical distribution over "
      "the values",
      detail::make_natural_gradient);
  add("ensemble",
      "bayes alone for the first 30 proposals, then on every other one; an AUC bandit over "
      "bayes, local, genetic and natural_gradient on the rest",
      detail::make_ensemble);
}

}  // namespace attune
