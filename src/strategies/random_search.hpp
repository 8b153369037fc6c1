#pragma once
// Random search without replacement over the valid configurations.

#include <random>
#include <unordered_map>

#include "attune/strategy.hpp"

namespace attune {

class RandomSearch final : public Strategy {
 public:
  std::string_view name() const noexcept override { return "random"; }
  void start(const SearchSpace& space, std::uint64_t seed) override;
  std::vector<std::size_t> ask(std::size_t max_count) override;
  void tell(const Observation&) override {}
  nlohmann::json save_state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  std::size_t next_index();

  std::size_t size_ = 0;
  std::uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::size_t drawn_ = 0;
  // A lazy Fisher-Yates shuffle: only the displaced positions are stored, so drawing k of n
  // configurations costs O(k) memory even when the space holds millions.
  std::unordered_map<std::size_t, std::size_t> displaced_;
};

}  // namespace attune
