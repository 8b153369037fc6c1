// A steady-state genetic algorithm over value positions. The population is the best measured
// configurations (whoever measured them); a child takes each parameter from one of two parents
// chosen by tournament, then mutates a parameter or two, mostly to an adjacent value. Constraints
// are respected by construction: a child that is invalid or already measured is bred again, and
// when breeding keeps failing the child is replaced by an unseen valid neighbour of a parent, so
// the technique never proposes an invalid or repeated configuration.

#include <algorithm>

#include "strategies/technique.hpp"

namespace attune::detail {
namespace {

constexpr std::size_t kPopulation = 16;
constexpr std::size_t kMinParents = 6;
constexpr int kBreedAttempts = 64;

class Genetic final : public Technique {
 public:
  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    rng_.seed(seed);
  }

  std::optional<std::size_t> propose() override {
    const std::vector<const Observation*> ranked = history_->ranked();
    if (ranked.size() < kMinParents) return history_->random_unseen(rng_);
    const std::size_t population = std::min(kPopulation, ranked.size());
    const auto& params = history_->space().params();
    const std::size_t d = params.size();
    std::vector<std::uint32_t> child(d);
    for (int attempt = 0; attempt < kBreedAttempts; ++attempt) {
      const std::size_t a = ranked[tournament(population)]->index;
      const std::size_t b = ranked[tournament(population)]->index;
      const std::uint32_t* pa = history_->positions(a);
      const std::uint32_t* pb = history_->positions(b);
      for (std::size_t p = 0; p < d; ++p) child[p] = (rng_() & 1) ? pa[p] : pb[p];
      // One mutation always, a second one sometimes: enough to leave the parents' hull.
      const int mutations = uniform01(rng_) < 0.3 ? 2 : 1;
      for (int m = 0; m < mutations; ++m) mutate(child, params);
      const std::optional<std::size_t> index = history_->index_of(child);
      if (index && !history_->seen(*index)) return index;
    }
    // Breeding keeps landing on invalid or measured configurations: take a fresh neighbour of a
    // good parent instead.
    for (std::size_t r = 0; r < population; ++r) {
      for (std::size_t n : history_->space().neighbours(ranked[r]->index, Neighbourhood::Hamming)) {
        if (!history_->seen(n)) return n;
      }
    }
    return history_->random_unseen(rng_);
  }

  void observe(const Observation&, bool) override {}

 private:
  // Tournament of two over the top `population`: lower rank wins.
  std::size_t tournament(std::size_t population) {
    const auto x = uniform_below(rng_, population);
    const auto y = uniform_below(rng_, population);
    return std::min(x, y);
  }

  void mutate(std::vector<std::uint32_t>& child, const std::vector<Param>& params) {
    std::vector<std::size_t> mutable_params;
    for (std::size_t p = 0; p < params.size(); ++p) {
      if (params[p].values.size() > 1) mutable_params.push_back(p);
    }
    if (mutable_params.empty()) return;
    const std::size_t p = mutable_params[uniform_below(rng_, mutable_params.size())];
    const auto n = static_cast<std::uint32_t>(params[p].values.size());
    if (uniform01(rng_) < 0.7) {
      const bool up = child[p] == 0 || (child[p] + 1 < n && (rng_() & 1));
      child[p] = up ? child[p] + 1 : child[p] - 1;
    } else {
      const auto v = static_cast<std::uint32_t>(uniform_below(rng_, n - 1));
      child[p] = v >= child[p] ? v + 1 : v;
    }
  }

  History* history_ = nullptr;
  std::mt19937_64 rng_;
};

}  // namespace

std::unique_ptr<Technique> make_genetic() { return std::make_unique<Genetic>(); }

}  // namespace attune::detail
