// The default strategy: a multi-armed bandit over the other techniques, as OpenTuner's AUC bandit
// meta-technique does it, anchored on the Gaussian-process model. The model alone proposes the
// first configurations (its own random start included): until it has found a basin, the local
// techniques would only refine whatever the first random draws hit. After that the model gets
// every other proposal, and each remaining one goes to the technique with the highest score: the
// area under its curve of recent successes (a use counts as a success when it improved the best
// configuration so far; recent uses weigh more) over a sliding window, plus an exploration bonus
// for techniques used rarely. The model's score carries a standing credit, so that another
// technique takes a proposal from it only while it has been improving the best; when nobody is
// (most of a search), the model's proposals are the better bet. Every technique sees every
// measurement, so the model learns from what the local searches found and the other way round.

#include <cmath>
#include <deque>

#include "strategies/technique.hpp"

namespace attune::detail {
namespace {

constexpr std::size_t kWindow = 50;
constexpr double kExploration = 0.05;
constexpr std::size_t kModelAlone = 30;
constexpr std::size_t kModelEvery = 2;
constexpr double kModelCredit = 0.1;

class Ensemble final : public Technique {
 public:
  // Annealing and random search are not members: on the recorded spaces they scored below every
  // member here, and each proposal spent on them is one the bandit cannot spend better.
  Ensemble() {
    members_.push_back(make_bayes());
    members_.push_back(make_local_search());
    members_.push_back(make_genetic());
    members_.push_back(make_natural_gradient());
  }

  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    for (std::size_t m = 0; m < members_.size(); ++m) {
      // Distinct streams per member, all fixed by the seed.
      members_[m]->start(history, seed * 0x9e3779b97f4a7c15ull + m + 1);
    }
    uses_.assign(members_.size(), 0);
    window_.clear();
    owner_.clear();
    total_uses_ = 0;
  }

  std::optional<std::size_t> propose() override {
    std::size_t chosen = kModel;
    // Every other proposal is the model's: the bandit's credit is a short-term signal that
    // favours the small, frequent gains of local moves, while the model makes the rarer jumps to
    // another basin that decide hard spaces. The bandit chooses the rest, the model included;
    // untried members first, in order.
    if (history_->seen_count() >= kModelAlone && total_uses_ % kModelEvery != 0) {
      double chosen_score = -INFINITY;
      for (std::size_t m = 0; m < members_.size(); ++m) {
        const double score = uses_[m] == 0 ? INFINITY : this->score(m);
        if (score > chosen_score) {
          chosen_score = score;
          chosen = m;
        }
        if (score == INFINITY) break;
      }
    }
    std::optional<std::size_t> index = members_[chosen]->propose();
    if (!index || history_->seen(*index)) {
      // The member has nothing new: let the next one with a proposal go instead.
      for (std::size_t m = 0; m < members_.size() && (!index || history_->seen(*index)); ++m) {
        if (m == chosen) continue;
        index = members_[m]->propose();
        if (index && !history_->seen(*index)) chosen = m;
      }
      if (!index || history_->seen(*index)) return std::nullopt;
    }
    ++uses_[chosen];
    ++total_uses_;
    owner_[*index] = chosen;
    return index;
  }

  void observe(const Observation& o, bool own) override {
    std::optional<std::size_t> by;
    if (own) {
      if (const auto it = owner_.find(o.index); it != owner_.end()) {
        by = it->second;
        owner_.erase(it);
      }
    }
    if (by) {
      // The history recorded o already: o improved the best when it is the best now (a tie with
      // the previous best does not replace it).
      const Observation* best = history_->best();
      const bool improved = o.status == Status::Ok && best && best->index == o.index;
      window_.push_back({*by, improved});
      if (window_.size() > kWindow) window_.pop_front();
    }
    for (std::size_t m = 0; m < members_.size(); ++m) {
      members_[m]->observe(o, by && *by == m);
    }
  }

 private:
  static constexpr std::size_t kModel = 0;  // members_[kModel] is the Gaussian process

  // Area under the member's curve of successes over its uses in the window, newest weighing
  // most, the model's standing credit, and the exploration bonus.
  double score(std::size_t m) const {
    double auc = 0.0;
    double weights = 0.0;
    std::size_t k = 0;
    for (const auto& [member, improved] : window_) {
      if (member != m) continue;
      ++k;
      auc += improved ? static_cast<double>(k) : 0.0;
      weights += static_cast<double>(k);
    }
    const double credit = (weights > 0 ? auc / weights : 0.0) + (m == kModel ? kModelCredit : 0.0);
    return credit + kExploration * std::sqrt(2.0 * std::log(static_cast<double>(total_uses_)) /
                                             static_cast<double>(uses_[m]));
  }

  History* history_ = nullptr;
  std::vector<std::unique_ptr<Technique>> members_;
  std::vector<std::size_t> uses_;
  std::size_t total_uses_ = 0;
  std::deque<std::pair<std::size_t, bool>> window_;
  std::unordered_map<std::size_t, std::size_t> owner_;
};

}  // namespace

std::unique_ptr<Technique> make_ensemble() { return std::make_unique<Ensemble>(); }

}  // namespace attune::detail
