#pragma once
// The machinery every built-in strategy except brute_force and random shares: a History of what
// was proposed and measured, Techniques that propose one configuration at a time from it, and a
// Strategy adapter that gives any Technique batches, a random fallback, and exact save/restore.
//
// A Technique sees every observation, including those of configurations another technique
// proposed, so the ensemble's members learn from each other. Restoring replays the logged ask and
// tell calls from start(): strategies are deterministic, so this reproduces their state (random
// generators, models, populations) bit for bit without each one serializing its internals.

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "attune/strategy.hpp"

namespace attune::detail {

/// An unbiased integer in [0, bound), the same on every platform (no std distributions).
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound);
/// A double in [0, 1) from the top 53 bits of one draw.
double uniform01(std::mt19937_64& rng);
/// Shuffles in place with uniform_below (std::shuffle's draws differ between libraries).
void shuffle(std::vector<std::size_t>& v, std::mt19937_64& rng);

/// Everything proposed and measured in one search, shared by the techniques of a strategy.
class History {
 public:
  void reset(const SearchSpace& space);
  const SearchSpace& space() const { return *space_; }
  std::size_t size() const { return size_; }

  /// Proposed before (measured or still pending).
  bool seen(std::size_t index) const { return seen_[index] != 0; }
  void mark(std::size_t index);
  std::size_t seen_count() const { return seen_count_; }

  void record(const Observation& o);
  const std::vector<Observation>& observations() const { return observations_; }
  /// The observation of `index`, when it has been measured.
  const Observation* find(std::size_t index) const;
  /// The best ok observation so far.
  const Observation* best() const { return best_ ? &observations_[*best_] : nullptr; }
  /// The ok observations, best first (ties by measurement order).
  std::vector<const Observation*> ranked() const;

  /// A uniformly random configuration not seen yet, or nullopt when every one has been.
  std::optional<std::size_t> random_unseen(std::mt19937_64& rng) const;
  /// Value positions of configuration `index`, one per parameter. Cached for spaces up to a few
  /// million entries, so techniques may call it freely.
  const std::uint32_t* positions(std::size_t index);
  /// The index of the valid configuration with these value positions, if there is one.
  std::optional<std::size_t> index_of(const std::vector<std::uint32_t>& positions) const;

 private:
  const SearchSpace* space_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::uint8_t> seen_;
  std::size_t seen_count_ = 0;
  std::vector<Observation> observations_;
  std::unordered_map<std::size_t, std::size_t> measured_;  // index -> position in observations_
  std::optional<std::size_t> best_;
  std::vector<std::uint32_t> position_table_;  // size_ x params, filled on first use
  std::vector<std::uint32_t> scratch_;
};

/// One way of choosing the next configuration.
class Technique {
 public:
  virtual ~Technique() = default;
  /// Begins a search over `history`, which outlives the technique's use and is reset already.
  virtual void start(History& history, std::uint64_t seed) = 0;
  /// A configuration the history has not seen, or nullopt when the technique has none to offer
  /// now (its caller then draws a random one).
  virtual std::optional<std::size_t> propose() = 0;
  /// Every measurement, after the history recorded it; `own` when this technique proposed it.
  virtual void observe(const Observation& o, bool own) = 0;
};

std::unique_ptr<Technique> make_local_search();
std::unique_ptr<Technique> make_annealing();
std::unique_ptr<Technique> make_genetic();
std::unique_ptr<Technique> make_bayes();
std::unique_ptr<Technique> make_natural_gradient();
std::unique_ptr<Technique> make_ensemble();

/// A Strategy driven by a Technique. Proposals the technique cannot make are drawn at random, so
/// the strategy proposes every configuration exactly once before it runs dry.
class TechniqueStrategy final : public Strategy {
 public:
  TechniqueStrategy(std::string name, std::unique_ptr<Technique> technique);
  std::string_view name() const noexcept override { return name_; }
  void start(const SearchSpace& space, std::uint64_t seed) override;
  std::vector<std::size_t> ask(std::size_t max_count) override;
  void tell(const Observation& observation) override;
  nlohmann::json save_state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  std::string name_;
  std::unique_ptr<Technique> technique_;
  const SearchSpace* space_ = nullptr;
  std::uint64_t seed_ = 0;
  History history_;
  std::mt19937_64 fallback_rng_;
  std::unordered_map<std::size_t, bool> pending_;  // proposed, not told; value: the technique's own
  nlohmann::json events_ = nlohmann::json::array();
};

}  // namespace attune::detail
