// Random search draws a uniformly random permutation of the space lazily, one position at a time,
// so it never repeats a configuration and needs no memory proportional to the space. Its state is
// the seed and the number drawn: restoring replays the draws, which is exact and cheap.

#include "strategies/random_search.hpp"

#include "attune/error.hpp"

namespace attune {
namespace {

__extension__ typedef unsigned __int128 Uint128;

}  // namespace

void RandomSearch::start(const SearchSpace& space, std::uint64_t seed) {
  size_ = space.size();
  seed_ = seed;
  rng_.seed(seed);
  drawn_ = 0;
  displaced_.clear();
}

std::size_t RandomSearch::next_index() {
  auto at = [&](std::size_t i) {
    auto it = displaced_.find(i);
    return it == displaced_.end() ? i : it->second;
  };
  // Position drawn_ is swapped with a uniform position in [drawn_, size_). uniform_int_distribution
  // is implementation-defined, so the bounded draw is done by hand (Lemire's multiply-shift with
  // rejection) to give the same sequence with every standard library.
  const std::uint64_t range = size_ - drawn_;
  std::uint64_t x = rng_();
  Uint128 product = static_cast<Uint128>(x) * range;
  auto low = static_cast<std::uint64_t>(product);
  if (low < range) {
    const std::uint64_t threshold = -range % range;
    while (low < threshold) {
      x = rng_();
      product = static_cast<Uint128>(x) * range;
      low = static_cast<std::uint64_t>(product);
    }
  }
  const std::size_t j = drawn_ + static_cast<std::size_t>(product >> 64);
  const std::size_t chosen = at(j);
  displaced_[j] = at(drawn_);
  displaced_.erase(drawn_);
  ++drawn_;
  return chosen;
}

std::vector<std::size_t> RandomSearch::ask(std::size_t max_count) {
  std::vector<std::size_t> out;
  while (out.size() < max_count && drawn_ < size_) out.push_back(next_index());
  return out;
}

nlohmann::json RandomSearch::save_state() const {
  return {{"strategy", "random"}, {"size", size_}, {"seed", seed_}, {"drawn", drawn_}};
}

void RandomSearch::load_state(const nlohmann::json& state) {
  if (state.value("strategy", "") != "random" || state.value("size", std::size_t{0}) != size_ ||
      state.value("seed", std::uint64_t{0}) != seed_ ||
      state.value("drawn", size_ + 1) > size_) {
    throw Error(ErrorCode::InvalidArgument,
                "saved state does not belong to random search over this space and seed: " +
                    state.dump());
  }
  const auto target = state["drawn"].get<std::size_t>();
  rng_.seed(seed_);
  drawn_ = 0;
  displaced_.clear();
  while (drawn_ < target) next_index();
}

}  // namespace attune
