// Statistics are pure functions, so every test is a literal vector with an answer worked out by
// hand (or, for the confidence interval ranks, from exact binomial tables).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "attune/error.hpp"
#include "attune/statistics.hpp"

namespace attune {
namespace {

// Samples whose values equal their 1-based rank, shuffled, so the interval's ends read off as the
// ranks of the order statistics the binomial rule chose.
std::vector<double> shuffled_ranks(std::size_t n) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), 1.0);
  std::mt19937 rng(42);
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

TEST(Median, OddCountIsTheMiddleValue) {
  const std::vector<double> v{5.0, 1.0, 4.0, 2.0, 3.0};
  EXPECT_EQ(median(v), 3.0);
}

TEST(Median, EvenCountIsTheMeanOfTheTwoMiddleValues) {
  const std::vector<double> v{10.0, 1.0, 4.0, 2.0};
  EXPECT_EQ(median(v), 3.0);
}

TEST(Median, SingleSample) {
  const std::vector<double> v{7.5};
  EXPECT_EQ(median(v), 7.5);
}

TEST(Median, IsRobustToOneHugeOutlier) {
  const std::vector<double> v{1.0, 1.0, 2.0, 1e9, 2.0};
  EXPECT_EQ(median(v), 2.0);
}

TEST(Median, EmptyThrowsInvalidArgument) {
  const std::vector<double> v;
  try {
    median(v);
    FAIL() << "expected attune::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
  }
}

TEST(Mean, OfLiteralVector) {
  const std::vector<double> v{1.0, 2.0, 3.0, 10.0};
  EXPECT_DOUBLE_EQ(mean(v), 4.0);
  EXPECT_THROW(mean(std::vector<double>{}), Error);
}

TEST(Stddev, SampleStandardDeviationDividesByNMinusOne) {
  // Mean 5; squared deviations 9 1 1 1 0 0 4 16 sum to 32; 32 / 7 (n - 1), not 32 / 8 = 4.
  const std::vector<double> v{2, 4, 4, 4, 5, 5, 7, 9};
  EXPECT_DOUBLE_EQ(stddev(v), std::sqrt(32.0 / 7.0));
}

TEST(Stddev, ZeroForFewerThanTwoSamples) {
  EXPECT_EQ(stddev(std::vector<double>{}), 0.0);
  EXPECT_EQ(stddev(std::vector<double>{3.0}), 0.0);
}

TEST(Stddev, TinySpreadOnALargeMeanDoesNotCancel) {
  // Deviations of +-1e-9 around 1e3: sum of squares 2e-18 over n - 1 = 1; a one-pass formula
  // loses this entirely in the rounding of 1e6.
  const std::vector<double> v{1e3 - 1e-9, 1e3, 1e3 + 1e-9};
  EXPECT_NEAR(stddev(v), 1e-9, 1e-12);
}

TEST(Summarize, EmptyIsAllZero) {
  const Summary s = summarize(std::vector<double>{});
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.median, 0.0);
  EXPECT_EQ(s.ci_low, 0.0);
  EXPECT_EQ(s.ci_high, 0.0);
  EXPECT_TRUE(std::isinf(s.relative_ci_half_width()));
}

TEST(Summarize, UnsortedInputGivesOrderStatistics) {
  const std::vector<double> v{3.0, 9.0, 1.0, 7.0, 5.0};
  const Summary s = summarize(v);
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.median, 5.0);
  EXPECT_EQ(s.min, 1.0);
  EXPECT_EQ(s.max, 9.0);
  EXPECT_DOUBLE_EQ(s.mean, 5.0);
  // Deviations -4 -2 0 2 4: squares sum to 40, over n - 1 = 4.
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(10.0));
  // Fewer than 6 samples: no binomial interval reaches 95%, so the whole range.
  EXPECT_EQ(s.ci_low, 1.0);
  EXPECT_EQ(s.ci_high, 9.0);
  // Half-width (9 - 1) / 2 = 4 relative to the median 5.
  EXPECT_DOUBLE_EQ(s.relative_ci_half_width(), 0.8);
}

TEST(Summarize, DoesNotReorderTheCallersSamples) {
  const std::vector<double> v{3.0, 1.0, 2.0};
  summarize(v);
  EXPECT_EQ(v, (std::vector<double>{3.0, 1.0, 2.0}));
}

struct CiRanks {
  std::size_t n;
  double low_rank;   // 1-based
  double high_rank;  // 1-based
};

void PrintTo(const CiRanks& c, std::ostream* out) {
  *out << "n=" << c.n << " ranks [" << c.low_rank << ", " << c.high_rank << "]";
}

class MedianCi : public ::testing::TestWithParam<CiRanks> {};

// Ranks from exact binomial(n, 1/2) tails: the largest j with P(B <= j - 1) <= 0.025. For n = 10,
// P(B <= 1) = 11/1024 = 0.0107 and P(B <= 2) = 56/1024 = 0.0547, so j = 2 and the interval is
// [x_(2), x_(9)] with coverage 1 - 22/1024 = 97.9%. For n = 20, P(B <= 5) = 0.0207 and
// P(B <= 6) = 0.0577: [x_(6), x_(15)]. For n = 100, P(B <= 39) = 0.0176, P(B <= 40) = 0.0284:
// [x_(40), x_(61)]. For n = 6, P(B <= 0) = 1/64 = 0.0156 allows j = 1: the full range with 96.9%.
TEST_P(MedianCi, RanksMatchBinomialTables) {
  const CiRanks& c = GetParam();
  const Summary s = summarize(shuffled_ranks(c.n));
  EXPECT_EQ(s.ci_low, c.low_rank) << "n = " << c.n;
  EXPECT_EQ(s.ci_high, c.high_rank) << "n = " << c.n;
}

INSTANTIATE_TEST_SUITE_P(
    KnownTables, MedianCi,
    ::testing::Values(CiRanks{1, 1, 1}, CiRanks{2, 1, 2}, CiRanks{5, 1, 5}, CiRanks{6, 1, 6},
                      CiRanks{8, 1, 8}, CiRanks{9, 2, 8}, CiRanks{10, 2, 9}, CiRanks{15, 4, 12},
                      CiRanks{20, 6, 15}, CiRanks{30, 10, 21}, CiRanks{50, 18, 33},
                      CiRanks{100, 40, 61},
                      // Beyond 1074 samples 2^-n underflows a double: the pmf must be built in
                      // log space. Ranks from exact integer arithmetic.
                      CiRanks{1000, 469, 532}, CiRanks{5000, 2431, 2570}));

TEST(Summarize, MedianCiOfSkewedSamples) {
  // Ten timings with one slow outlier: the interval [x_(2), x_(9)] ignores both extremes.
  const std::vector<double> v{1.00, 1.02, 0.99, 1.01, 5.00, 1.03, 1.00, 0.98, 1.01, 1.02};
  const Summary s = summarize(v);
  EXPECT_DOUBLE_EQ(s.median, 1.01);
  EXPECT_EQ(s.ci_low, 0.99);
  EXPECT_EQ(s.ci_high, 1.03);
  EXPECT_NEAR(s.relative_ci_half_width(), 0.02 / 1.01, 1e-12);
}

TEST(Summary, RelativeHalfWidthEdgeCases) {
  Summary constant;
  constant.count = 6;
  constant.median = 2.0;
  constant.ci_low = 2.0;
  constant.ci_high = 2.0;
  EXPECT_EQ(constant.relative_ci_half_width(), 0.0);

  Summary zero_median = constant;
  zero_median.median = 0.0;
  zero_median.ci_low = -1.0;
  zero_median.ci_high = 1.0;
  EXPECT_EQ(zero_median.relative_ci_half_width(), std::numeric_limits<double>::infinity());
}

}  // namespace
}  // namespace attune
