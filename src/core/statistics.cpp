// Statistics over timing samples. The harness recomputes a summary after every sample to decide
// when to stop, so these are pure functions over a span, cheap enough for a few thousand samples.
// The confidence interval of the median comes from binomial order statistics rather than a normal
// approximation, because kernel timings are skewed and heavy-tailed.

#include "attune/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "attune/error.hpp"

namespace attune {
namespace {

// Each tail of the binomial distribution outside a 95% interval.
constexpr double kTailMass = 0.025;

// 0-based indices (low, high) into the sorted samples of the 95% confidence interval of the
// median, low <= high, high == n - 1 - low. For n < 6 the interval is the whole range.
std::pair<std::size_t, std::size_t> median_ci_indices(std::size_t n) {
  if (n < 6) return {0, n == 0 ? 0 : n - 1};
  // The pmf of Binomial(n, 1/2) is built iteratively in log space: 2^-n underflows for n > 1074,
  // and std::lgamma writes the global signgam, which would race when tuners run in parallel.
  const auto nd = static_cast<double>(n);
  double log_pmf = -nd * std::log(2.0);
  double lower_tail = 0.0;
  std::size_t count_within = 0;  // how many c = 0, 1, ... have P(B <= c) <= kTailMass
  for (std::size_t c = 0; c <= n / 2; ++c) {
    if (c > 0) log_pmf += std::log((nd - static_cast<double>(c - 1)) / static_cast<double>(c));
    lower_tail += std::exp(log_pmf);
    if (lower_tail > kTailMass) break;
    count_within = c + 1;
  }
  // P(B <= 0) = 2^-n <= 1/64 for n >= 6, so count_within >= 1; with j = count_within the interval
  // is [x_(j), x_(n+1-j)] in 1-based ranks.
  const std::size_t low = count_within - 1;
  return {low, n - 1 - low};
}

double median_of_sorted(const std::vector<double>& sorted) {
  const std::size_t n = sorted.size();
  if (n % 2 == 1) return sorted[n / 2];
  return 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

void require_samples(std::span<const double> samples, const char* what) {
  if (samples.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                std::string(what) + " of no samples is undefined; pass at least one sample");
  }
}

}  // namespace

double Summary::relative_ci_half_width() const noexcept {
  if (count == 0) return std::numeric_limits<double>::infinity();
  const double half_width = 0.5 * (ci_high - ci_low);
  if (half_width == 0.0) return 0.0;
  if (median == 0.0) return std::numeric_limits<double>::infinity();
  return half_width / std::abs(median);
}

double median(std::span<const double> samples) {
  require_samples(samples, "the median");
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  return median_of_sorted(sorted);
}

double mean(std::span<const double> samples) {
  require_samples(samples, "the mean");
  return std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(samples.size());
}

double stddev(std::span<const double> samples) {
  if (samples.size() < 2) return 0.0;
  // Two passes: the one-pass sum-of-squares formula cancels catastrophically when the spread is
  // tiny next to the mean, which is exactly the case for stable kernel timings.
  const double m = mean(samples);
  double squares = 0.0;
  for (double x : samples) squares += (x - m) * (x - m);
  return std::sqrt(squares / static_cast<double>(samples.size() - 1));
}

Summary summarize(std::span<const double> samples) {
  Summary s;
  if (samples.empty()) return s;
  std::vector<double> sorted(samples.begin(), samples.end());
  std::sort(sorted.begin(), sorted.end());
  s.count = sorted.size();
  s.median = median_of_sorted(sorted);
  s.min = sorted.front();
  s.max = sorted.back();
  s.mean = mean(samples);
  s.stddev = stddev(samples);
  const auto [low, high] = median_ci_indices(sorted.size());
  s.ci_low = sorted[low];
  s.ci_high = sorted[high];
  return s;
}

}  // namespace attune
