// Verifier tests: each case uses numbers for which a wrong formula (a plain instead of relative L2
// error, an OR instead of an AND of the tolerances, NaN compared as a number) gives the opposite
// verdict.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attune/error.hpp"
#include "attune/verifier.hpp"

namespace attune {
namespace {

constexpr Tolerance kLoose{.rel_l2 = 1e30, .max_abs = 1e30};

TEST(Verifier, ExactMatchPasses) {
  const std::vector<float> got{1.0f, -2.5f, 0.0f, 1e6f};
  const std::vector<double> expected{1.0, -2.5, 0.0, 1e6};
  const VerifyResult r = compare(got, expected, Tolerance{.rel_l2 = 0.0, .max_abs = 0.0});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.rel_l2_error, 0.0);
  EXPECT_EQ(r.max_abs_error, 0.0);
  EXPECT_EQ(r.nan_count, 0u);
  EXPECT_EQ(r.first_bad_index, VerifyResult::kNoIndex);
  EXPECT_TRUE(r.message.empty());
}

TEST(Verifier, EmptyOutputsPass) {
  EXPECT_TRUE(compare(std::vector<float>{}, std::vector<double>{}, Tolerance{}).ok);
}

TEST(Verifier, SingleWrongElementFailsNamingItsIndexAndValues) {
  std::vector<float> got(100, 1.0f);
  const std::vector<double> expected(100, 1.0);
  got[37] = 1.5f;
  const VerifyResult r = compare(got, expected, default_tolerance_f32());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 37u);
  EXPECT_EQ(r.max_abs_error, 0.5);
  // ||e|| = 0.5, ||expected|| = sqrt(100) = 10.
  EXPECT_DOUBLE_EQ(r.rel_l2_error, 0.05);
  EXPECT_NE(r.message.find("element 37"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("got 1.5"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("expected 1"), std::string::npos) << r.message;
}

TEST(Verifier, FirstBadIndexIsTheFirstOverMaxAbsNotTheLargest) {
  const std::vector<double> got{0.0, 0.2, 0.0, 0.9};
  const std::vector<double> expected{0.0, 0.0, 0.0, 0.0};
  const VerifyResult r = compare(got, expected, Tolerance{.rel_l2 = 1e30, .max_abs = 0.1});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 1u);
  EXPECT_EQ(r.max_abs_error, 0.9);
}

TEST(Verifier, NanInOutputFailsEvenWithHugeTolerance) {
  std::vector<float> got{1.0f, 2.0f, 3.0f};
  got[1] = std::numeric_limits<float>::quiet_NaN();
  const VerifyResult r = compare(got, std::vector<double>{1.0, 2.0, 3.0}, kLoose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nan_count, 1u);
  EXPECT_EQ(r.first_bad_index, 1u);
  EXPECT_NE(r.message.find("element 1"), std::string::npos) << r.message;
  // The errors describe the finite elements, which are exact.
  EXPECT_EQ(r.max_abs_error, 0.0);
}

TEST(Verifier, InfinityInOutputFails) {
  const std::vector<double> got{1.0, std::numeric_limits<double>::infinity()};
  const VerifyResult r = compare(got, std::vector<double>{1.0, 2.0}, kLoose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nan_count, 1u);
  EXPECT_EQ(r.first_bad_index, 1u);
}

TEST(Verifier, NanInOutputFailsEvenWhenTheReferenceIsNan) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const VerifyResult r = compare(std::vector<double>{nan}, std::vector<double>{nan}, kLoose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nan_count, 1u);
}

TEST(Verifier, NonFiniteReferenceFailsAndSaysSo) {
  const std::vector<float> got{1.0f, 2.0f};
  const std::vector<double> expected{1.0, std::numeric_limits<double>::quiet_NaN()};
  const VerifyResult r = compare(got, expected, kLoose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.nan_count, 0u);
  EXPECT_EQ(r.first_bad_index, 1u);
  EXPECT_NE(r.message.find("reference"), std::string::npos) << r.message;
}

TEST(Verifier, PoisonedElementTheKernelNeverWroteFails) {
  std::vector<float> out(8);
  poison(out);
  for (float x : out) EXPECT_TRUE(std::isnan(x));
  // A "kernel" that writes every element but the last (an off-by-one bound).
  for (std::size_t i = 0; i + 1 < out.size(); ++i) out[i] = static_cast<float>(i);
  std::vector<double> expected(8);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<double>(i);
  const VerifyResult r = compare(out, expected, kLoose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 7u);
  EXPECT_EQ(r.nan_count, 1u);
}

TEST(Verifier, PoisonDoubles) {
  std::vector<double> out(3, 1.0);
  poison(out);
  for (double x : out) EXPECT_TRUE(std::isnan(x));
}

TEST(Verifier, RelativeL2IsRelativeToTheReferenceNorm) {
  // Errors of 1 on values of 1000: absolute L2 error 2, relative 2 / 2000 = 1e-3. A formula
  // without the division (or dividing by the error norm) would fail a 2e-3 tolerance.
  const std::vector<double> got{1001.0, 999.0, 1001.0, 999.0};
  const std::vector<double> expected{1000.0, 1000.0, 1000.0, 1000.0};
  const VerifyResult pass = compare(got, expected, Tolerance{.rel_l2 = 2e-3, .max_abs = 1.0});
  EXPECT_TRUE(pass.ok) << pass.message;
  EXPECT_DOUBLE_EQ(pass.rel_l2_error, 1e-3);
  EXPECT_EQ(pass.max_abs_error, 1.0);
  // The same errors on values of 1 are 100% wrong.
  const std::vector<double> small_got{2.0, 0.0, 2.0, 0.0};
  const std::vector<double> small_expected{1.0, 1.0, 1.0, 1.0};
  const VerifyResult fail =
      compare(small_got, small_expected, Tolerance{.rel_l2 = 2e-3, .max_abs = 1.0});
  EXPECT_FALSE(fail.ok);
  EXPECT_DOUBLE_EQ(fail.rel_l2_error, 1.0);
  // Only the L2 bound failed: the message is about the element with the largest error.
  EXPECT_EQ(fail.first_bad_index, 0u);
}

TEST(Verifier, BothTolerancesMustHold) {
  // One element off by 0.5 among 10000 ones: relative L2 0.5 / 100 = 5e-3 passes a 1e-2 bound,
  // but max_abs 0.5 fails a 0.1 bound. An OR of the two tolerances would pass it.
  std::vector<float> got(10000, 1.0f);
  got[9999] = 1.5f;
  const std::vector<double> expected(10000, 1.0);
  const VerifyResult r = compare(got, expected, Tolerance{.rel_l2 = 1e-2, .max_abs = 0.1});
  EXPECT_DOUBLE_EQ(r.rel_l2_error, 5e-3);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 9999u);
  // With max_abs relaxed it passes: the relative bound alone is met.
  EXPECT_TRUE(compare(got, expected, Tolerance{.rel_l2 = 1e-2, .max_abs = 0.5}).ok);
}

TEST(Verifier, FloatRoundingPassesTheDefaultTolerance) {
  // 0.1 is not a float: each element is off by about 1.5e-9, far inside the f32 defaults.
  const std::vector<float> got(1000, 0.1f);
  const std::vector<double> expected(1000, 0.1);
  const VerifyResult r = compare(got, expected, default_tolerance_f32());
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.max_abs_error, 0.0);
  EXPECT_LT(r.rel_l2_error, 1e-7);
  // The same rounding is far outside the f64 defaults.
  std::vector<double> got64(got.begin(), got.end());
  EXPECT_FALSE(compare(got64, expected, default_tolerance_f64()).ok);
}

TEST(Verifier, AllZeroReferenceNeedsAnExactZeroForTheRelativeBound) {
  const std::vector<double> expected(4, 0.0);
  EXPECT_TRUE(compare(std::vector<double>(4, 0.0), expected, default_tolerance_f64()).ok);
  const VerifyResult r =
      compare(std::vector<double>{0.0, 1e-300, 0.0, 0.0}, expected, default_tolerance_f64());
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.rel_l2_error, 1.0);
}

TEST(Verifier, HugeDoubleValuesDoNotOverflowTheNorm) {
  // Squaring 1e200 overflows a double; the scaled norm gives ||e|| / ||x|| = 1e190 / 2e200.
  const std::vector<double> got{1e200 + 1e190, 1e200, 1e200, 1e200};
  const std::vector<double> expected{1e200, 1e200, 1e200, 1e200};
  const VerifyResult r = compare(got, expected, Tolerance{.rel_l2 = 1.0, .max_abs = 1e300});
  EXPECT_TRUE(std::isfinite(r.rel_l2_error));
  EXPECT_NEAR(r.rel_l2_error, 5e-11, 1e-15);
}

TEST(Verifier, DefaultTolerancesHaveTheDocumentedValues) {
  EXPECT_EQ(default_tolerance_f32().rel_l2, 1e-4);
  EXPECT_EQ(default_tolerance_f32().max_abs, 1e-2);
  EXPECT_EQ(default_tolerance_f64().rel_l2, 1e-10);
  EXPECT_EQ(default_tolerance_f64().max_abs, 1e-8);
}

TEST(Verifier, MismatchedSizesAndNegativeTolerancesAreMisuse) {
  EXPECT_THROW(compare(std::vector<float>(3), std::vector<double>(4), kLoose), Error);
  EXPECT_THROW(compare(std::vector<double>(3), std::vector<double>(3),
                       Tolerance{.rel_l2 = -1.0, .max_abs = 0.0}),
               Error);
  EXPECT_THROW(compare(std::vector<double>(3), std::vector<double>(3),
                       Tolerance{.rel_l2 = 0.0, .max_abs = std::nan("")}),
               Error);
}

}  // namespace
}  // namespace attune
