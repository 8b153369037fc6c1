// Simulated annealing on the neighbourhood graph (configurations that differ in one parameter).
// Costs are compared on log time, so the temperature means "accept a move this many percent
// slower" on any kernel. The temperature adapts: after each uphill decision it is nudged so that
// the share of uphill moves accepted tracks a target that falls as the search goes on, which
// needs no knowledge of the budget. Moves onto configurations already measured are free, so the
// chain may walk through known ground without spending measurements; a chain that stops improving,
// or is stuck with every neighbour known, restarts from the best configuration found.

#include <algorithm>
#include <cmath>

#include "strategies/technique.hpp"

namespace attune::detail {
namespace {

class Annealing final : public Technique {
 public:
  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    rng_.seed(seed);
    current_.reset();
    temperature_ = 0.1;
    uphill_ = 0;
    since_improvement_ = 0;
  }

  std::optional<std::size_t> propose() override {
    if (!current_) {
      if (const Observation* best = history_->best()) {
        set_current(*best);
      } else {
        return history_->random_unseen(rng_);
      }
    }
    for (int free_moves = 0; free_moves < 64; ++free_moves) {
      const auto next = history_->space().neighbours(*current_, Neighbourhood::Hamming);
      if (next.empty()) break;
      // Prefer an unseen neighbour; when there is none, take a free step through a known one.
      std::vector<std::size_t> unseen;
      for (std::size_t n : next) {
        if (!history_->seen(n)) unseen.push_back(n);
      }
      if (!unseen.empty()) return unseen[uniform_below(rng_, unseen.size())];
      const Observation* o = history_->find(next[uniform_below(rng_, next.size())]);
      if (o && o->status == Status::Ok) decide(*o);
    }
    // Everything around is known: restart from the best configuration, or anywhere.
    if (const Observation* best = history_->best(); best && *current_ != best->index) {
      set_current(*best);
      return propose_restart();
    }
    return history_->random_unseen(rng_);
  }

  void observe(const Observation& o, bool own) override {
    if (!current_) {
      if (o.status == Status::Ok) set_current(o);
      return;
    }
    if (!own) {
      // Another technique's find: adopt it only when it beats the chain's position.
      if (o.status == Status::Ok && o.objective < value_) set_current(o);
      return;
    }
    if (o.status != Status::Ok) return;
    decide(o);
  }

 private:
  std::optional<std::size_t> propose_restart() {
    const auto next = history_->space().neighbours(*current_, Neighbourhood::Hamming);
    for (std::size_t n : next) {
      if (!history_->seen(n)) return n;
    }
    return history_->random_unseen(rng_);
  }

  void set_current(const Observation& o) {
    current_ = o.index;
    value_ = o.objective;
  }

  // The Metropolis rule with the adaptive temperature.
  void decide(const Observation& o) {
    const double delta = std::log(o.objective) - std::log(value_);
    if (delta <= 0) {
      set_current(o);
      since_improvement_ = delta < 0 ? 0 : since_improvement_ + 1;
      return;
    }
    ++since_improvement_;
    const bool accept = uniform01(rng_) < std::exp(-delta / temperature_);
    if (accept) set_current(o);
    ++uphill_;
    // Target acceptance of uphill moves: 40% at first, falling towards 2% over about a hundred
    // decisions; the temperature moves multiplicatively towards it.
    const double target = 0.02 + 0.38 * std::exp(-static_cast<double>(uphill_) / 40.0);
    temperature_ *= accept ? std::exp(0.3 * (target - 1.0)) : std::exp(0.3 * target);
    temperature_ = std::clamp(temperature_, 1e-4, 10.0);
    // A long stretch without improving on the chain's position: go back to the best
    // configuration found, where unexplored neighbours are most promising.
    if (since_improvement_ > 25) {
      if (const Observation* best = history_->best()) set_current(*best);
      since_improvement_ = 0;
    }
  }

  History* history_ = nullptr;
  std::mt19937_64 rng_;
  std::optional<std::size_t> current_;
  double value_ = 0.0;
  double temperature_ = 0.1;
  std::size_t uphill_ = 0;
  std::size_t since_improvement_ = 0;
};

}  // namespace

std::unique_ptr<Technique> make_annealing() { return std::make_unique<Annealing>(); }

}  // namespace attune::detail
