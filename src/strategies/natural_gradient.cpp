// Two natural-gradient pieces. First, vyre's one-step launch policy, bit for bit: every rounding
// and saturation below follows vyre's definition (Rust's f64::round and saturating float-to-int
// casts, u64 saturating arithmetic), because the point is that both make the same choice.
//
// Second, the natural_gradient search strategy: a factorized categorical distribution over each
// parameter's values, sampled within the constraints, and updated after each generation with the
// natural gradient of the expected rank-based utility. For this family the natural gradient in
// the expectation parameters is the utility-weighted mean of one-hot value indicators minus the
// probabilities (the information-geometric update of IGO / PBIL), so no Fisher matrix needs to be
// inverted. A learning rate damps each step and an entropy floor keeps every value possible.

#include <algorithm>
#include <cmath>
#include <limits>

#include "attune/error.hpp"
#include "attune/natural_gradient_policy.hpp"
#include "strategies/technique.hpp"

namespace attune {
namespace {

// Rust's `f64 as u32`: truncation toward zero, saturating at both ends, NaN to zero.
std::uint32_t saturating_u32(double x) {
  if (std::isnan(x) || x <= 0.0) return 0;
  if (x >= 4294967295.0) return std::numeric_limits<std::uint32_t>::max();
  return static_cast<std::uint32_t>(x);
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out;
  return __builtin_add_overflow(a, b, &out) ? std::numeric_limits<std::uint64_t>::max() : out;
}

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out;
  return __builtin_mul_overflow(a, b, &out) ? std::numeric_limits<std::uint64_t>::max() : out;
}

}  // namespace

std::vector<std::uint32_t> identity_fisher_q16(std::size_t n) {
  std::vector<std::uint32_t> out(n * n, 0);
  for (std::size_t i = 0; i < n; ++i) out[i * n + i] = kQ16One;
  return out;
}

NaturalGradientStep NaturalGradientPolicy::suggest(
    std::span<const std::uint64_t> elapsed_ns,
    std::span<const std::uint32_t> fisher_inv_sqrt_q16) const {
  const std::size_t n = elapsed_ns.size();
  if (n == 0) {
    throw Error(ErrorCode::InvalidArgument,
                "the natural-gradient policy needs at least one measurement; measure a "
                "candidate first");
  }
  if (temperature_ns == 0) {
    throw Error(ErrorCode::InvalidArgument,
                "the natural-gradient policy's temperature is zero; use a positive temperature_ns");
  }
  std::size_t cells = 0;
  if (__builtin_mul_overflow(n, n, &cells) || fisher_inv_sqrt_q16.size() != cells) {
    throw Error(ErrorCode::InvalidArgument,
                "the inverse-Fisher matrix has " + std::to_string(fisher_inv_sqrt_q16.size()) +
                    " cells; " + std::to_string(n) + " measurements need an n x n matrix of " +
                    std::to_string(n * n));
  }

  NaturalGradientStep step;
  step.best_elapsed_ns = elapsed_ns[0];
  for (std::size_t i = 1; i < n; ++i) {
    if (elapsed_ns[i] < step.best_elapsed_ns) {
      step.best_measured = i;
      step.best_elapsed_ns = elapsed_ns[i];
    }
  }

  const auto temperature = static_cast<double>(temperature_ns);
  std::vector<double> weights;
  weights.reserve(n);
  double sum = 0.0;
  for (std::uint64_t t : elapsed_ns) {
    const auto penalty = static_cast<double>(t - step.best_elapsed_ns);  // t >= best
    const double w = std::exp(-penalty / temperature);
    weights.push_back(w);
    sum += w;
  }
  std::uint32_t assigned = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t remaining = assigned >= kQ16One ? 0 : kQ16One - assigned;
    if (i + 1 == n) {
      step.policy_weights_q16.push_back(remaining);
      break;
    }
    // std::round rounds halves away from zero, as Rust's f64::round does.
    const std::uint32_t q = std::min(
        saturating_u32(std::round((weights[i] / sum) * static_cast<double>(kQ16One))), remaining);
    assigned = assigned > std::numeric_limits<std::uint32_t>::max() - q
                   ? std::numeric_limits<std::uint32_t>::max()
                   : assigned + q;
    step.policy_weights_q16.push_back(q);
  }

  step.natural_gradient_q16.assign(n, 0);
  for (std::size_t row = 0; row < n; ++row) {
    std::uint64_t acc = 0;
    for (std::size_t col = 0; col < n; ++col) {
      acc = saturating_add(
          acc,
          saturating_mul(fisher_inv_sqrt_q16[row * n + col], step.policy_weights_q16[col]) >> 16);
    }
    step.natural_gradient_q16[row] = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(acc, std::numeric_limits<std::uint32_t>::max()));
  }
  // The largest entry, the last one on ties.
  step.selected = 0;
  for (std::size_t i = 1; i < n; ++i) {
    if (step.natural_gradient_q16[i] >= step.natural_gradient_q16[step.selected]) {
      step.selected = i;
    }
  }
  return step;
}

namespace detail {
namespace {

constexpr double kLearningRate = 0.35;
// Every value keeps at least this share of a uniform choice's probability.
constexpr double kEntropyFloor = 0.15;
// Exact sampling weighs every valid configuration; beyond this many it samples by rejection.
constexpr std::size_t kMaxExactSpace = 200'000;

class NaturalGradientSearch final : public Technique {
 public:
  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    rng_.seed(seed);
    const auto& params = history.space().params();
    theta_.clear();
    for (const Param& p : params) {
      theta_.emplace_back(p.values.size(), 1.0 / static_cast<double>(p.values.size()));
    }
    generation_.clear();
    lambda_ = 4 + static_cast<std::size_t>(3.0 * std::log(static_cast<double>(params.size())));
  }

  std::optional<std::size_t> propose() override {
    const std::size_t d = theta_.size();
    if (history_->size() <= kMaxExactSpace) {
      // Exact: draw among the unseen valid configurations with probability proportional to the
      // product of their values' probabilities.
      double total = 0.0;
      weights_.assign(history_->size(), 0.0);
      for (std::size_t i = 0; i < history_->size(); ++i) {
        if (history_->seen(i)) continue;
        const std::uint32_t* pos = history_->positions(i);
        double w = 1.0;
        for (std::size_t p = 0; p < d; ++p) w *= theta_[p][pos[p]];
        weights_[i] = w;
        total += w;
      }
      if (total <= 0.0) return history_->random_unseen(rng_);
      double r = uniform01(rng_) * total;
      std::size_t last = history_->size();
      for (std::size_t i = 0; i < history_->size(); ++i) {
        if (weights_[i] <= 0.0) continue;
        last = i;
        r -= weights_[i];
        if (r < 0.0) return i;
      }
      return last < history_->size() ? std::optional<std::size_t>(last) : std::nullopt;
    }
    std::vector<std::uint32_t> positions(d);
    for (int attempt = 0; attempt < 256; ++attempt) {
      for (std::size_t p = 0; p < d; ++p) positions[p] = sample_value(p);
      const std::optional<std::size_t> index = history_->index_of(positions);
      if (index && !history_->seen(*index)) return index;
    }
    return history_->random_unseen(rng_);
  }

  void observe(const Observation& o, bool /*own*/) override {
    generation_.push_back(o);
    if (generation_.size() >= lambda_) update();
  }

 private:
  std::uint32_t sample_value(std::size_t p) {
    double r = uniform01(rng_);
    for (std::size_t v = 0; v + 1 < theta_[p].size(); ++v) {
      r -= theta_[p][v];
      if (r < 0.0) return static_cast<std::uint32_t>(v);
    }
    return static_cast<std::uint32_t>(theta_[p].size() - 1);
  }

  // One natural-gradient step on the generation just measured.
  void update() {
    // Rank-based utilities: the better half gets log-decreasing weights summing to one (failures
    // rank last), the rest zero, as in CMA-ES's recombination weights.
    std::vector<const Observation*> order;
    for (const Observation& o : generation_) order.push_back(&o);
    std::stable_sort(order.begin(), order.end(), [](const Observation* a, const Observation* b) {
      const bool ao = a->status == Status::Ok;
      const bool bo = b->status == Status::Ok;
      if (ao != bo) return ao;
      return ao && a->objective < b->objective;
    });
    const std::size_t mu = std::max<std::size_t>(1, order.size() / 2);
    std::vector<double> utility(mu);
    double sum = 0.0;
    for (std::size_t k = 0; k < mu; ++k) {
      utility[k] = std::log(static_cast<double>(mu) + 0.5) - std::log(static_cast<double>(k) + 1.0);
      sum += utility[k];
    }
    for (double& u : utility) u /= sum;
    for (std::size_t p = 0; p < theta_.size(); ++p) {
      std::vector<double> target(theta_[p].size(), 0.0);
      for (std::size_t k = 0; k < mu; ++k) {
        if (order[k]->status != Status::Ok) continue;
        target[history_->positions(order[k]->index)[p]] += utility[k];
      }
      double used = 0.0;
      for (double t : target) used += t;
      // theta += eta * (sum_k u_k onehot_k - theta * sum_k u_k): the natural gradient.
      for (std::size_t v = 0; v < theta_[p].size(); ++v) {
        theta_[p][v] += kLearningRate * (target[v] - used * theta_[p][v]);
      }
      const double floor = kEntropyFloor / static_cast<double>(theta_[p].size());
      double total = 0.0;
      for (double& t : theta_[p]) {
        t = std::max(t, floor);
        total += t;
      }
      for (double& t : theta_[p]) t /= total;
    }
    generation_.clear();
  }

  History* history_ = nullptr;
  std::mt19937_64 rng_;
  std::vector<std::vector<double>> theta_;
  std::vector<Observation> generation_;
  std::vector<double> weights_;
  std::size_t lambda_ = 8;
};

}  // namespace

std::unique_ptr<Technique> make_natural_gradient() {
  return std::make_unique<NaturalGradientSearch>();
}

}  // namespace detail
}  // namespace attune
