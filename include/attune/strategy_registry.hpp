#pragma once
/// \file
/// Strategies by name. Registration is explicit (register_builtin_strategies), never by static
/// initializers, which a linker drops from a static library.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "attune/strategy.hpp"

namespace attune {

class StrategyRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Strategy>()>;

  /// Adds a strategy; throws Error(InvalidArgument) when the name is taken.
  void add(const std::string& name, std::string description, Factory factory);
  /// A new instance; throws Error(UnknownName) listing the known names when there is none.
  std::unique_ptr<Strategy> create(const std::string& name) const;
  bool contains(const std::string& name) const;
  /// Names in alphabetical order.
  std::vector<std::string> names() const;
  const std::string& description(const std::string& name) const;

 private:
  struct Entry {
    std::string description;
    Factory factory;
  };
  std::map<std::string, Entry> entries_;
};

/// Registers brute_force, random, local, annealing, genetic, bayes, natural_gradient and
/// ensemble.
void register_builtin_strategies(StrategyRegistry& registry);
/// The strategy `attune tune` uses when none is named.
inline constexpr const char* kDefaultStrategy = "ensemble";

}  // namespace attune
