// Iterated local search over the space's neighbourhoods: first-improvement hill climbing (the
// adjacent values of each parameter first, then every other value of one parameter), and at a
// local optimum a random walk of a few moves away from the best configuration found so far to
// start the next climb. Moves through configurations already measured cost nothing, so the walk
// and the climb use every measurement, whoever proposed it.

#include <algorithm>
#include <cmath>

#include "strategies/technique.hpp"

namespace attune::detail {
namespace {

class LocalSearch final : public Technique {
 public:
  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    rng_.seed(seed);
    current_.reset();
    queue_.clear();
    restart_.reset();
  }

  std::optional<std::size_t> propose() override {
    if (!current_) {
      // Until a climb has a starting point, explore: the first measurements are random.
      if (const Observation* best = history_->best(); best && !restart_) {
        move_to(best->index);
      } else {
        return history_->random_unseen(rng_);
      }
    }
    for (;;) {
      while (!queue_.empty()) {
        const std::size_t next = queue_.back();
        queue_.pop_back();
        if (!history_->seen(next)) return next;
        // Measured by someone else already: use its result without spending a measurement.
        const Observation* o = history_->find(next);
        if (o && o->status == Status::Ok && o->objective < value_) {
          move_to(next);
        }
      }
      // A local optimum: perturb the best configuration and climb again from there.
      const std::optional<std::size_t> kick = perturb();
      if (!kick) return history_->random_unseen(rng_);
      restart_ = *kick;
      current_.reset();
      return kick;
    }
  }

  void observe(const Observation& o, bool /*own*/) override {
    if (restart_ && o.index == *restart_) {
      restart_.reset();
      if (o.status == Status::Ok) move_to(o.index);
      return;
    }
    if (o.status != Status::Ok) return;
    if (!current_ || o.objective < value_) move_to(o.index);
  }

 private:
  void move_to(std::size_t index) {
    current_ = index;
    const Observation* o = history_->find(index);
    value_ = o ? o->objective : INFINITY;
    // The queue is popped from the back: Hamming-only moves first in the vector, adjacent last.
    std::vector<std::size_t> adjacent =
        history_->space().neighbours(index, Neighbourhood::Adjacent);
    std::vector<std::size_t> hamming = history_->space().neighbours(index, Neighbourhood::Hamming);
    std::vector<std::size_t> far;
    for (std::size_t h : hamming) {
      if (!std::binary_search(adjacent.begin(), adjacent.end(), h)) far.push_back(h);
    }
    shuffle(adjacent, rng_);
    shuffle(far, rng_);
    queue_ = std::move(far);
    queue_.insert(queue_.end(), adjacent.begin(), adjacent.end());
  }

  // The end of a short random walk from the best configuration: the first unseen configuration
  // it reaches, within a few moves.
  std::optional<std::size_t> perturb() {
    const Observation* best = history_->best();
    if (!best) return std::nullopt;
    std::size_t at = best->index;
    for (int step = 0; step < 8; ++step) {
      const auto next = history_->space().neighbours(at, Neighbourhood::Hamming);
      if (next.empty()) break;
      at = next[uniform_below(rng_, next.size())];
      if (step >= 1 && !history_->seen(at)) return at;
    }
    return std::nullopt;
  }

  History* history_ = nullptr;
  std::mt19937_64 rng_;
  std::optional<std::size_t> current_;
  double value_ = INFINITY;
  std::vector<std::size_t> queue_;
  std::optional<std::size_t> restart_;
};

}  // namespace

std::unique_ptr<Technique> make_local_search() { return std::make_unique<LocalSearch>(); }

}  // namespace attune::detail
