#pragma once
/// \file
/// Statistics over timing samples, as pure functions (tested on literal vectors). The confidence
/// interval of the median is distribution-free (binomial order statistics), because kernel timings
/// are skewed and heavy-tailed, so a normal approximation would be too narrow.

#include <cstddef>
#include <span>

namespace attune {

struct Summary {
  std::size_t count = 0;
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  double stddev = 0.0;   ///< sample standard deviation (n - 1); 0 for fewer than two samples
  double ci_low = 0.0;   ///< lower end of the 95% confidence interval of the median
  double ci_high = 0.0;  ///< upper end of the 95% confidence interval of the median

  /// Half-width of the confidence interval, (ci_high - ci_low) / 2, relative to |median|. 0 when
  /// the interval has zero width; +inf when undefined (no samples, or a zero median with a
  /// non-empty interval).
  double relative_ci_half_width() const noexcept;
};

/// The middle value; for an even count, the mean of the two middle values. The samples need not
/// be sorted. Throws Error(InvalidArgument) for an empty span.
double median(std::span<const double> samples);
/// Arithmetic mean. Throws Error(InvalidArgument) for an empty span.
double mean(std::span<const double> samples);
/// Sample standard deviation (divides by n - 1); 0 for fewer than two samples.
double stddev(std::span<const double> samples);
/// Summary of the samples (need not be sorted); all zero for an empty span. The 95% interval of
/// the median is [x_(j), x_(n+1-j)] (1-based order statistics) with the largest j such that
/// P(Binomial(n, 1/2) <= j - 1) <= 0.025, computed exactly for any n; so its coverage is at least
/// 95% whatever the distribution. For fewer than 6 samples no such j exists and the interval is
/// [min, max].
Summary summarize(std::span<const double> samples);

}  // namespace attune
