// vyre's natural-gradient launch policy, reproduced bit for bit: its own test vectors, the exact
// Q16.16 weights, saturation, ties and the errors.

#include <gtest/gtest.h>

#include <numeric>

#include "attune/error.hpp"
#include "attune/natural_gradient_policy.hpp"

namespace attune {
namespace {

std::uint64_t sum(const std::vector<std::uint32_t>& v) {
  return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
}

// Workgroup sizes 64, 128, 256 measured at 12000, 8000 and 10000 ns.
const std::vector<std::uint64_t> kTimes{12000, 8000, 10000};

TEST(NaturalGradientPolicy, IdentitySelectsTheFastest) {
  const NaturalGradientPolicy policy{4000};
  const auto step = policy.suggest(kTimes, identity_fisher_q16(3));
  EXPECT_EQ(step.selected, 1u);  // 128
  EXPECT_EQ(step.best_measured, 1u);
  EXPECT_EQ(step.best_elapsed_ns, 8000u);
  EXPECT_EQ(sum(step.policy_weights_q16), 65536u);
  // exp(-1) / (exp(-1) + 1 + exp(-0.5)) * 65536 = 12210.91 rounds to 12211, 33192.70 to 33193,
  // and the last takes the remainder.
  EXPECT_EQ(step.policy_weights_q16[0], 12211u);
  EXPECT_EQ(step.policy_weights_q16[1], 33193u);
  EXPECT_EQ(step.policy_weights_q16[2], 65536u - 12211u - 33193u);
  EXPECT_EQ(step.natural_gradient_q16, step.policy_weights_q16);
}

TEST(NaturalGradientPolicy, PreconditioningChangesTheChoice) {
  const NaturalGradientPolicy policy{4000};
  auto fisher = identity_fisher_q16(3);
  fisher[0] = 8u << 16;  // 8.0
  const auto step = policy.suggest(kTimes, fisher);
  EXPECT_EQ(step.selected, 0u);  // 64
  EXPECT_EQ(step.best_measured, 1u);
  EXPECT_EQ(step.natural_gradient_q16[0], 8u * 12211u);
}

TEST(NaturalGradientPolicy, WeightsSumToOneForAnyBaseLatency) {
  const NaturalGradientPolicy policy{1};
  for (std::uint64_t base : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{10},
                             std::uint64_t{1000}, ~std::uint64_t{0} - 2}) {
    const std::vector<std::uint64_t> times{base, base + 1, base + 2};
    const auto step = policy.suggest(times, identity_fisher_q16(3));
    EXPECT_EQ(sum(step.policy_weights_q16), 65536u) << base;
    EXPECT_EQ(step.selected, 0u) << base;
  }
}

TEST(NaturalGradientPolicy, TiesGoToTheLastAndAccumulationIsWide) {
  const NaturalGradientPolicy policy;
  EXPECT_EQ(policy.temperature_ns, 10000u);
  const std::vector<std::uint64_t> equal{500, 500};
  EXPECT_EQ(policy.suggest(equal, identity_fisher_q16(2)).selected, 1u);
  EXPECT_EQ(policy.suggest(equal, identity_fisher_q16(2)).best_measured, 0u);
  // (2^32 - 1) * 32768 overflows 32 bits; accumulated in 64 it is 2 * 2147483647.
  const std::vector<std::uint32_t> huge(4, 0xffffffffu);
  const auto step = policy.suggest(equal, huge);
  EXPECT_EQ(step.natural_gradient_q16[0], 4294967294u);
}

TEST(NaturalGradientPolicy, Errors) {
  const NaturalGradientPolicy policy;
  EXPECT_THROW(policy.suggest({}, {}), Error);
  EXPECT_THROW(NaturalGradientPolicy{0}.suggest(kTimes, identity_fisher_q16(3)), Error);
  EXPECT_THROW(policy.suggest(kTimes, identity_fisher_q16(2)), Error);
}

}  // namespace
}  // namespace attune
