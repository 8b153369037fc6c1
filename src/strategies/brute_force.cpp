// Brute force proposes indices 0, 1, 2, ... : the baseline every other strategy must beat, and
// the way to measure a whole space exhaustively.

#include "strategies/brute_force.hpp"

#include <algorithm>

#include "attune/error.hpp"

namespace attune {

void BruteForce::start(const SearchSpace& space, std::uint64_t /*seed*/) {
  size_ = space.size();
  next_ = 0;
}

std::vector<std::size_t> BruteForce::ask(std::size_t max_count) {
  std::vector<std::size_t> out;
  const std::size_t end = std::min(size_, next_ + max_count);
  for (; next_ < end; ++next_) out.push_back(next_);
  return out;
}

nlohmann::json BruteForce::save_state() const {
  return {{"strategy", "brute_force"}, {"size", size_}, {"next", next_}};
}

void BruteForce::load_state(const nlohmann::json& state) {
  if (state.value("strategy", "") != "brute_force" || state.value("size", std::size_t{0}) != size_ ||
      state.value("next", size_ + 1) > size_) {
    throw Error(ErrorCode::InvalidArgument,
                "saved state does not belong to brute_force over this space: " + state.dump());
  }
  next_ = state["next"].get<std::size_t>();
}

}  // namespace attune
