// Bayesian optimization with a Gaussian process. Each configuration is encoded per parameter in
// [0, 1]: a parameter of positive numbers by the logarithm of its value (block sizes, tile sizes
// and unroll factors act by ratios), any other by its value's position; a parameter that mixes
// powers of two with other values gets a second input saying which, because on GPUs a size that
// is not a power of two often misaligns with warps, memory transactions and the problem size, and
// is slow in a way no smooth function of the value captures. The model is a Matern 5/2 kernel with
// one length scale per input, a signal and a noise variance, fitted by maximizing the log marginal
// likelihood plus a Gamma(2, 2) prior on each length scale (Adam on its analytic gradient,
// warm-started from the previous fit, so a new observation costs a few steps, not a fresh
// optimization). Without the prior, a fit to a few dozen points shrinks length scales until the
// model only remembers what it saw, and the search exploits the first basin it finds. The
// objective is log time, which makes a 10% difference look the same on every kernel. The next
// configuration maximizes expected improvement, or on every third proposal minimizes the lower
// confidence bound, times the probability of not failing, estimated by a kernel-weighted average of
// the failed measurements around it. Candidates are every unseen configuration of a small space,
// else a large random sample plus the neighbourhoods of the best configurations found so far.
//
// Eigen's parallel paths are off: the strategy must be deterministic and run on one thread.

#define EIGEN_DONT_PARALLELIZE
#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "strategies/technique.hpp"

namespace attune::detail {
namespace {

constexpr std::size_t kWholeSpaceCandidates = 2000;
constexpr std::size_t kSampledCandidates = 1500;
constexpr std::size_t kNeighbourhoodsOfBest = 5;
constexpr std::size_t kFullFitSteps = 60;
constexpr std::size_t kMaxModelPoints = 240;
constexpr std::size_t kWarmFitSteps = 6;
constexpr std::size_t kMaxFitPoints = 100;
// Gamma(shape, rate) prior on each length scale of an input scaled to [0, 1].
constexpr double kLengthPriorShape = 2.0;
constexpr double kLengthPriorRate = 2.0;
// The lower confidence bound looks this many standard deviations below the mean; further while
// the model has few points, when a value it has seen once in a bad context is not yet known bad.
constexpr double kConfidenceWidth = 2.0;
constexpr double kEarlyConfidenceWidth = 3.0;
constexpr std::size_t kEarlyPoints = 30;
const double kSqrt5 = std::sqrt(5.0);

using Matrix = Eigen::MatrixXd;
using Vector = Eigen::VectorXd;

double normal_pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI); }
double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

class Bayes final : public Technique {
 public:
  void start(History& history, std::uint64_t seed) override {
    history_ = &history;
    rng_.seed(seed);
    columns_ = encoding(history.space());
    const std::size_t d = std::max<std::size_t>(columns_.size(), 1);
    // A random initial design large enough for the first fit to see every parameter vary.
    initial_ = std::clamp<std::size_t>(d + 2, 6, 12);
    log_length_ = Vector::Constant(static_cast<Eigen::Index>(d), std::log(0.5));
    log_signal_ = 0.0;
    log_noise_ = std::log(1e-2);
    fitted_once_ = false;
    proposals_ = 0;
    adam_m_ = adam_v_ = Vector::Zero(static_cast<Eigen::Index>(d + 2));
    adam_t_ = 0;
  }

  std::optional<std::size_t> propose() override {
    ++proposals_;
    std::vector<const Observation*> ok;
    std::vector<const Observation*> failed;
    for (const Observation& o : history_->observations()) {
      (o.status == Status::Ok ? ok : failed).push_back(&o);
    }
    if (ok.size() < initial_) return history_->random_unseen(rng_);

    if (ok.size() > kMaxModelPoints) {
      // The fit costs n^3: beyond a few hundred points keep the best half and the most recent.
      std::vector<const Observation*> model = history_->ranked();
      model.resize(kMaxModelPoints / 2);
      for (auto it = ok.rbegin(); it != ok.rend() && model.size() < kMaxModelPoints; ++it) {
        if (std::find(model.begin(), model.end(), *it) == model.end()) model.push_back(*it);
      }
      ok = std::move(model);
    }
    fit(ok);
    const std::vector<std::size_t> candidates = candidate_set();
    if (candidates.empty()) return std::nullopt;
    const Matrix xc = encode(candidates);
    const Matrix kc = cross_kernel(xc, x_);  // m x n
    const Vector mean = kc * alpha_;
    // k** - k*^T K^-1 k* = k** - |L^-1 k*|^2: one triangular solve for all candidates, half the
    // work of multiplying by K^-1.
    const Matrix v = llt_.matrixL().solve(kc.transpose());
    const double signal = std::exp(log_signal_);
    const Vector variance =
        (signal - v.colwise().squaredNorm().transpose().array()).max(1e-12).matrix();

    Vector fail_probability = Vector::Zero(static_cast<Eigen::Index>(candidates.size()));
    if (!failed.empty()) fail_probability = failure_model(xc, failed);

    const double best = y_.minCoeff();
    const bool use_lcb = proposals_ % 3 == 0;
    const double width = ok.size() < kEarlyPoints ? kEarlyConfidenceWidth : kConfidenceWidth;
    std::size_t chosen = 0;
    double chosen_score = -INFINITY;
    for (Eigen::Index i = 0; i < xc.rows(); ++i) {
      const double sd = std::sqrt(variance[i]);
      double score;
      if (use_lcb) {
        score = -(mean[i] - width * sd) - 4.0 * fail_probability[i];
      } else {
        const double z = (best - mean[i]) / sd;
        score = std::log(std::max(sd * (z * normal_cdf(z) + normal_pdf(z)), 1e-300)) +
                std::log(std::max(1.0 - fail_probability[i], 1e-6));
      }
      if (score > chosen_score) {
        chosen_score = score;
        chosen = static_cast<std::size_t>(i);
      }
    }
    return candidates[chosen];
  }

  void observe(const Observation&, bool) override {}

 private:
  std::vector<std::size_t> candidate_set() {
    std::vector<std::size_t> out;
    const std::size_t unseen = history_->size() - history_->seen_count();
    if (unseen <= kWholeSpaceCandidates) {
      for (std::size_t i = 0; i < history_->size(); ++i) {
        if (!history_->seen(i)) out.push_back(i);
      }
      return out;
    }
    for (std::size_t k = 0; k < kSampledCandidates; ++k) {
      if (auto i = history_->random_unseen(rng_)) out.push_back(*i);
    }
    const auto ranked = history_->ranked();
    for (std::size_t r = 0; r < std::min(kNeighbourhoodsOfBest, ranked.size()); ++r) {
      for (std::size_t n : history_->space().neighbours(ranked[r]->index, Neighbourhood::Hamming)) {
        if (!history_->seen(n)) out.push_back(n);
      }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // One input of the model: a parameter, and the code in [0, 1] of each of its values.
  struct Column {
    std::size_t param;
    std::vector<double> code;
  };

  static bool power_of_two(const Value& v) {
    return v.is_int() && v.as_int() > 0 && (v.as_int() & (v.as_int() - 1)) == 0;
  }

  static std::vector<Column> encoding(const SearchSpace& space) {
    std::vector<Column> columns;
    const auto& params = space.params();
    for (std::size_t p = 0; p < params.size(); ++p) {
      const std::vector<Value>& values = params[p].values;
      if (values.size() < 2) continue;
      const bool positive = std::all_of(values.begin(), values.end(), [](const Value& v) {
        return v.is_numeric() && !v.is_bool() && v.as_double() > 0;
      });
      std::vector<double> code(values.size());
      double lo = INFINITY, hi = -INFINITY;
      if (positive) {
        for (const Value& v : values) {
          lo = std::min(lo, std::log(v.as_double()));
          hi = std::max(hi, std::log(v.as_double()));
        }
      }
      for (std::size_t v = 0; v < values.size(); ++v) {
        code[v] = positive && hi > lo
                      ? (std::log(values[v].as_double()) - lo) / (hi - lo)
                      : static_cast<double>(v) / static_cast<double>(values.size() - 1);
      }
      columns.push_back({p, std::move(code)});
      const auto powers =
          static_cast<std::size_t>(std::count_if(values.begin(), values.end(), power_of_two));
      if (powers >= 2 && powers < values.size()) {
        std::vector<double> other(values.size());
        for (std::size_t v = 0; v < values.size(); ++v) other[v] = power_of_two(values[v]) ? 0 : 1;
        columns.push_back({p, std::move(other)});
      }
    }
    return columns;
  }

  Matrix encode(const std::vector<std::size_t>& indices) {
    Matrix x(static_cast<Eigen::Index>(indices.size()),
             static_cast<Eigen::Index>(std::max<std::size_t>(columns_.size(), 1)));
    x.setZero();
    for (std::size_t r = 0; r < indices.size(); ++r) {
      const std::uint32_t* pos = history_->positions(indices[r]);
      for (std::size_t c = 0; c < columns_.size(); ++c) {
        x(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) =
            columns_[c].code[pos[columns_[c].param]];
      }
    }
    return x;
  }

  // Matern 5/2 between the rows of a and b with the current length scales and signal.
  Matrix cross_kernel(const Matrix& a, const Matrix& b) const {
    const Eigen::RowVectorXd inv = (-log_length_.array()).exp().matrix().transpose();
    const Matrix as = a.array().rowwise() * inv.array();
    const Matrix bs = b.array().rowwise() * inv.array();
    Matrix r2 = (-2.0 * as * bs.transpose()).colwise() + as.rowwise().squaredNorm();
    r2.rowwise() += bs.rowwise().squaredNorm().transpose();
    const double signal = std::exp(log_signal_);
    return r2.array().max(0.0).sqrt().unaryExpr([signal](double r) {
      return signal * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
    });
  }

  // Refits the hyperparameters by Adam on the log marginal likelihood and leaves alpha_ and the
  // Cholesky factor llt_ for the final ones.
  void fit(const std::vector<const Observation*>& ok) {
    std::vector<std::size_t> indices;
    for (const Observation* o : ok) indices.push_back(o->index);
    x_ = encode(indices);
    const auto n = static_cast<Eigen::Index>(ok.size());
    Vector y(n);
    for (Eigen::Index i = 0; i < n; ++i) {
      y[i] = std::log(ok[static_cast<std::size_t>(i)]->objective);
    }
    y_mean_ = y.mean();
    y_scale_ = std::sqrt((y.array() - y_mean_).square().mean());
    if (!(y_scale_ > 1e-12)) y_scale_ = 1.0;
    y_ = (y.array() - y_mean_) / y_scale_;

    // The hyperparameters move little from one observation to the next: a full fit once, then a
    // few warm steps per observation. The steps see at most kMaxFitPoints points (the best half
    // and the most recent), which keeps their n^3 cost bounded; the model itself uses them all.
    const std::size_t steps = fitted_once_ ? kWarmFitSteps : kFullFitSteps;
    fitted_once_ = true;
    if (static_cast<std::size_t>(n) <= kMaxFitPoints) {
      likelihood_steps(x_, y_, steps);
    } else {
      std::vector<Eigen::Index> order(static_cast<std::size_t>(n));
      std::iota(order.begin(), order.end(), Eigen::Index{0});
      std::stable_sort(order.begin(), order.end(),
                       [&](Eigen::Index a, Eigen::Index b) { return y_[a] < y_[b]; });
      std::vector<char> used(static_cast<std::size_t>(n), 0);
      std::vector<Eigen::Index> subset(order.begin(), order.begin() + kMaxFitPoints / 2);
      for (Eigen::Index i : subset) used[static_cast<std::size_t>(i)] = 1;
      for (Eigen::Index i = n - 1; i >= 0 && subset.size() < kMaxFitPoints; --i) {
        if (!used[static_cast<std::size_t>(i)]) subset.push_back(i);
      }
      std::sort(subset.begin(), subset.end());
      Matrix xs(static_cast<Eigen::Index>(subset.size()), x_.cols());
      Vector ys(static_cast<Eigen::Index>(subset.size()));
      for (std::size_t k = 0; k < subset.size(); ++k) {
        xs.row(static_cast<Eigen::Index>(k)) = x_.row(subset[k]);
        ys[static_cast<Eigen::Index>(k)] = y_[subset[k]];
      }
      likelihood_steps(xs, ys, steps);
    }
    factorize(x_, y_);
  }

  // K for the current hyperparameters over the rows of x, with what the gradient reuses.
  struct KernelParts {
    Matrix r, r2, e, kf;
  };
  KernelParts kernel_parts(const std::vector<Matrix>& diff2) const {
    KernelParts p;
    const Eigen::Index n = diff2.empty() ? 0 : diff2[0].rows();
    p.r2 = Matrix::Zero(n, n);
    for (std::size_t c = 0; c < diff2.size(); ++c) {
      p.r2 += diff2[c] * std::exp(-2.0 * log_length_[static_cast<Eigen::Index>(c)]);
    }
    p.r = p.r2.array().sqrt();
    p.e = (-kSqrt5 * p.r.array()).exp();
    p.kf = std::exp(log_signal_) *
           ((1.0 + kSqrt5 * p.r.array() + 5.0 / 3.0 * p.r2.array()) * p.e.array()).matrix();
    return p;
  }

  static std::vector<Matrix> squared_differences(const Matrix& x) {
    const Eigen::Index n = x.rows();
    std::vector<Matrix> diff2(static_cast<std::size_t>(x.cols()));
    for (Eigen::Index c = 0; c < x.cols(); ++c) {
      const Vector col = x.col(c);
      diff2[static_cast<std::size_t>(c)] =
          (col.replicate(1, n) - col.transpose().replicate(n, 1)).array().square();
    }
    return diff2;
  }

  // Adam steps on the log marginal likelihood of (x, y) plus the log prior of the length scales.
  void likelihood_steps(const Matrix& x, const Vector& y, std::size_t steps) {
    if (steps == 0) return;
    const std::vector<Matrix> diff2 = squared_differences(x);
    const Eigen::Index n = x.rows();
    const Eigen::Index d = x.cols();
    for (std::size_t s = 0; s < steps; ++s) {
      const KernelParts p = kernel_parts(diff2);
      const double signal = std::exp(log_signal_);
      const double noise = std::exp(log_noise_);
      Matrix k = p.kf;
      k.diagonal().array() += noise + 1e-8;
      const Eigen::LLT<Matrix> llt(k);
      const Vector alpha = llt.solve(y);
      const Matrix k_inverse = llt.solve(Matrix::Identity(n, n));
      // d log p / d theta = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta)
      const Matrix w = alpha * alpha.transpose() - k_inverse;
      Vector grad(d + 2);
      const Matrix base = signal * 5.0 / 3.0 * ((1.0 + kSqrt5 * p.r.array()) * p.e.array());
      for (Eigen::Index c = 0; c < d; ++c) {
        grad[c] = 0.5 *
                  (w.array() * base.array() * diff2[static_cast<std::size_t>(c)].array()).sum() *
                  std::exp(-2.0 * log_length_[c]);
      }
      grad[d] = 0.5 * (w.array() * p.kf.array()).sum();
      grad[d + 1] = 0.5 * w.trace() * noise;
      for (Eigen::Index c = 0; c < d; ++c) {
        // d log Gamma(l; a, b) / d log l = (a - 1) - b l
        grad[c] += (kLengthPriorShape - 1.0) - kLengthPriorRate * std::exp(log_length_[c]);
      }
      adam_step(grad);
    }
  }

  // The model for prediction: llt_ and alpha_ over every point.
  void factorize(const Matrix& x, const Vector& y) {
    const KernelParts p = kernel_parts(squared_differences(x));
    Matrix k = p.kf;
    k.diagonal().array() += std::exp(log_noise_) + 1e-8;
    llt_.compute(k);
    alpha_ = llt_.solve(y);
  }

  void adam_step(const Vector& grad) {
    constexpr double kRate = 0.05, kBeta1 = 0.9, kBeta2 = 0.999;
    ++adam_t_;
    adam_m_ = kBeta1 * adam_m_ + (1 - kBeta1) * grad;
    adam_v_ = kBeta2 * adam_v_ + (1 - kBeta2) * grad.cwiseAbs2();
    const double c1 = 1 - std::pow(kBeta1, adam_t_);
    const double c2 = 1 - std::pow(kBeta2, adam_t_);
    const Vector step = kRate * (adam_m_ / c1).array() / ((adam_v_ / c2).array().sqrt() + 1e-8);
    const Eigen::Index d = log_length_.size();
    // Ascent on the likelihood, kept within bounds that stay well conditioned.
    log_length_ = (log_length_ + step.head(d)).cwiseMax(std::log(0.03)).cwiseMin(std::log(30.0));
    log_signal_ = std::clamp(log_signal_ + step[d], std::log(0.05), std::log(20.0));
    log_noise_ = std::clamp(log_noise_ + step[d + 1], std::log(1e-6), std::log(0.5));
  }

  // Probability that a candidate fails: failures and successes weighted by the kernel's
  // correlation with the candidate, with a weak prior toward success.
  Vector failure_model(const Matrix& xc, const std::vector<const Observation*>& failed) {
    std::vector<std::size_t> f_indices;
    for (const Observation* o : failed) f_indices.push_back(o->index);
    const Matrix xf = encode(f_indices);
    const double signal = std::exp(log_signal_);
    const Vector wf = cross_kernel(xc, xf).rowwise().sum() / signal;
    const Vector wo = cross_kernel(xc, x_).rowwise().sum() / signal;
    return (wf.array() / (wf.array() + wo.array() + 1.0)).matrix();
  }

  History* history_ = nullptr;
  std::mt19937_64 rng_;
  std::vector<Column> columns_;
  std::size_t initial_ = 8;
  std::size_t proposals_ = 0;
  bool fitted_once_ = false;
  Vector log_length_;
  double log_signal_ = 0.0;
  double log_noise_ = 0.0;
  Vector adam_m_, adam_v_;
  int adam_t_ = 0;
  Matrix x_;
  Vector y_;
  double y_mean_ = 0.0, y_scale_ = 1.0;
  Vector alpha_;
  Eigen::LLT<Matrix> llt_;
};

}  // namespace

std::unique_ptr<Technique> make_bayes() { return std::make_unique<Bayes>(); }

}  // namespace attune::detail
