#pragma once
// Brute force: every valid configuration once, in the space's (Kernel Tuner's) order.

#include "attune/strategy.hpp"

namespace attune {

class BruteForce final : public Strategy {
 public:
  std::string_view name() const noexcept override { return "brute_force"; }
  void start(const SearchSpace& space, std::uint64_t seed) override;
  std::vector<std::size_t> ask(std::size_t max_count) override;
  void tell(const Observation&) override {}
  nlohmann::json save_state() const override;
  void load_state(const nlohmann::json& state) override;

 private:
  std::size_t size_ = 0;
  std::size_t next_ = 0;
};

}  // namespace attune
