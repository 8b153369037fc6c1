#pragma once
/// \file
/// A search strategy, behind an ask/tell interface: it proposes configurations of a search space
/// by index and is told how each one did. Strategies are pure: they never read a clock or touch a
/// device, they are deterministic for a seed, and their state can be saved and restored so that
/// an interrupted run continues exactly where it stopped.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/measurement.hpp"
#include "attune/search_space.hpp"

namespace attune {

/// What a strategy learns about one configuration it proposed.
struct Observation {
  std::size_t index = 0;      ///< the configuration's index in the space
  Status status = Status::Ok;
  double objective = 0.0;     ///< seconds per call (lower is better); meaningful only when ok
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string_view name() const noexcept = 0;

  /// Begins a search of `space`, which must outlive the strategy's use. Resets all state.
  virtual void start(const SearchSpace& space, std::uint64_t seed) = 0;
  /// Proposes up to `max_count` configuration indices that have not been proposed before. Returns
  /// fewer, or none, when the strategy has nothing left to propose.
  virtual std::vector<std::size_t> ask(std::size_t max_count) = 0;
  /// Reports the outcome of a proposed configuration. Called once per proposal.
  virtual void tell(const Observation& observation) = 0;

  /// Everything needed to continue exactly where the strategy is now.
  virtual nlohmann::json save_state() const = 0;
  /// Restores a state from save_state() after start() with the same space and seed. Throws
  /// Error(InvalidArgument) when the state does not belong to this strategy or space.
  virtual void load_state(const nlohmann::json& state) = 0;
};

}  // namespace attune
