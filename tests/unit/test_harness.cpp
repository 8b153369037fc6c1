// Harness tests against a scripted fake backend: each batch's per-call time (or outcome) is a
// function of the batch's index, and the fake records how many calls every batch asked for. No
// clock is read anywhere, so every expected count and value below is exact.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "attune/error.hpp"
#include "attune/harness.hpp"

namespace attune {
namespace {

RunOutcome took(double seconds) {
  RunOutcome outcome;
  outcome.seconds = seconds;
  return outcome;
}

class FakeBackend {
 public:
  using Script = std::function<RunOutcome(std::size_t batch, std::size_t calls)>;

  explicit FakeBackend(Script script) : script_(std::move(script)) {}

  /// Every call of batch `b` takes per_call(b) seconds.
  static FakeBackend timed(const std::function<double(std::size_t batch)>& per_call) {
    return FakeBackend([per_call](std::size_t batch, std::size_t calls) {
      return took(static_cast<double>(calls) * per_call(batch));
    });
  }

  RunBatch batch() {
    return [this](std::size_t calls) {
      const std::size_t index = calls_.size();
      calls_.push_back(calls);
      RunOutcome outcome = script_(index, calls);
      seconds_.push_back(outcome.seconds);
      return outcome;
    };
  }

  [[nodiscard]] const std::vector<std::size_t>& calls() const { return calls_; }
  [[nodiscard]] const std::vector<double>& seconds() const { return seconds_; }

 private:
  Script script_;
  std::vector<std::size_t> calls_;
  std::vector<double> seconds_;
};

// One call per sample, so a batch's time is the call's time and scripts read directly.
HarnessOptions one_call_per_sample() {
  HarnessOptions o;
  o.min_sample_s = 0.0;
  return o;
}

constexpr double kUnit = 1.0 / 1024.0;  // a power of two, so sums of it are exact

TEST(Harness, DefaultOptionsAreValidAndDocumented) {
  const Harness h;
  EXPECT_EQ(h.options().warmup_calls, 1u);
  EXPECT_EQ(h.options().min_samples, 5u);
  EXPECT_EQ(h.options().max_samples, 200u);
  EXPECT_DOUBLE_EQ(h.options().target_rel_ci, 0.02);
}

TEST(Harness, WarmupBatchIsDiscarded) {
  auto fake = FakeBackend::timed([](std::size_t b) { return b == 0 ? 5.0 : 1e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  ASSERT_EQ(m.samples_s.size(), 5u);
  for (double s : m.samples_s) EXPECT_EQ(s, 1e-3);
  EXPECT_EQ(m.summary.max, 1e-3);
  EXPECT_EQ(fake.calls().front(), 1u);
  // The warm-up's time is spent on the configuration even though it is not a sample.
  EXPECT_DOUBLE_EQ(m.measure_s, 5.0 + 5 * 1e-3);
}

TEST(Harness, WarmupCallsSetsTheWarmupBatchSize) {
  HarnessOptions o = one_call_per_sample();
  o.warmup_calls = 3;
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-3; });
  (void)Harness(o).measure(fake.batch());
  EXPECT_EQ(fake.calls(), (std::vector<std::size_t>{3, 1, 1, 1, 1, 1}));
}

TEST(Harness, NoWarmupMakesTheFirstBatchASample) {
  HarnessOptions o = one_call_per_sample();
  o.warmup_calls = 0;
  auto fake = FakeBackend::timed([](std::size_t b) { return b == 0 ? 2e-3 : 1e-3; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_FALSE(m.samples_s.empty());
  EXPECT_EQ(m.samples_s.front(), 2e-3);
}

TEST(Harness, GrowsCallsPerSampleUntilASampleLastsMinSampleTime) {
  // A ~1 us kernel (2^-20 s) and a ~1 ms minimum (2^-10 s). Growth: 1 call lasts 2^-10 of the
  // minimum (x10), 10 calls 0.0098 (x10), 100 calls 0.098, still not over a tenth (x10), 1000
  // calls 0.977: predicted 1000 * 1.4 / 0.977 = 1433.6 -> 1434 calls, which lasts 1.4 x min.
  HarnessOptions o;
  o.min_sample_s = kUnit;
  const double per_call = 1.0 / (1024.0 * 1024.0);
  auto fake = FakeBackend::timed([&](std::size_t) { return per_call; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(fake.calls(),
            (std::vector<std::size_t>{1, 1, 10, 100, 1000, 1434, 1434, 1434, 1434, 1434}));
  EXPECT_EQ(m.calls_per_sample, 1434u);
  EXPECT_GE(static_cast<double>(m.calls_per_sample) * per_call, o.min_sample_s);
  ASSERT_EQ(m.samples_s.size(), 5u);
  for (double s : m.samples_s) EXPECT_EQ(s, per_call);  // per call, not per batch
}

TEST(Harness, GrowthStopsAtMaxCallsPerSample) {
  HarnessOptions o;
  o.min_sample_s = 1.0;
  o.max_calls_per_sample = 5000;
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-9; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.calls_per_sample, 5000u);
  EXPECT_EQ(fake.calls(),
            (std::vector<std::size_t>{1, 1, 10, 100, 1000, 5000, 5000, 5000, 5000, 5000}));
}

TEST(Harness, BatchesReportedAsTakingNoTimeStillGrow) {
  // A coarse clock reads 0 for anything under 100 us, then 1 us per call.
  HarnessOptions o;
  o.min_sample_s = 1e-3;
  auto fake = FakeBackend([](std::size_t, std::size_t calls) {
    const double t = static_cast<double>(calls) * 1e-6;
    return took(t < 1e-4 ? 0.0 : t);
  });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_GE(static_cast<double>(m.calls_per_sample) * 1e-6, 1e-3);
  EXPECT_LE(m.calls_per_sample, 2000u);
}

TEST(Harness, SamplesAreBatchSecondsDividedByCalls) {
  // A fixed launch overhead per batch makes the per-call time depend on the batch size; samples
  // must divide each batch's reported seconds by the calls it ran.
  HarnessOptions o;
  o.min_sample_s = 1e-4;
  auto fake = FakeBackend([](std::size_t b, std::size_t calls) {
    return took(3e-6 + static_cast<double>(calls) * (1e-6 + 1e-8 * static_cast<double>(b % 3)));
  });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  const std::size_t first_sample_batch = fake.calls().size() - m.samples_s.size();
  for (std::size_t i = 0; i < m.samples_s.size(); ++i) {
    EXPECT_EQ(fake.calls()[first_sample_batch + i], m.calls_per_sample);
    EXPECT_DOUBLE_EQ(m.samples_s[i], fake.seconds()[first_sample_batch + i] /
                                         static_cast<double>(m.calls_per_sample));
  }
}

TEST(Harness, ConstantTimesStopAtMinSamples) {
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.samples_s.size(), 5u);
  EXPECT_EQ(fake.calls().size(), 6u);  // warm-up + 5 samples
  EXPECT_EQ(m.summary.median, 1e-3);
  EXPECT_EQ(m.summary.ci_low, 1e-3);
  EXPECT_EQ(m.summary.ci_high, 1e-3);
  EXPECT_FALSE(m.rechecked);
}

// Deterministic noise: uniform in [0.9, 1.1] ms from a fixed hash (splitmix64) of the batch index.
double noisy_ms(std::size_t batch) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull * (batch + 1);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  const double u = static_cast<double>(x >> 11) / static_cast<double>(1ull << 53);
  return 1e-3 * (0.9 + 0.2 * u);
}

TEST(Harness, NoisyTimesTakeMoreSamplesUntilTheIntervalIsTight) {
  auto fake = FakeBackend::timed(noisy_ms);
  const Harness harness(one_call_per_sample());
  const Measurement m = harness.measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_GT(m.samples_s.size(), 20u);
  EXPECT_LT(m.samples_s.size(), 200u);
  EXPECT_LE(m.summary.relative_ci_half_width(), 0.02);
  // It stopped as soon as the target was met, not later.
  const std::vector<double> one_fewer(m.samples_s.begin(), m.samples_s.end() - 1);
  EXPECT_GT(summarize(one_fewer).relative_ci_half_width(), 0.02);
  EXPECT_NEAR(m.summary.median, 1e-3, 0.03e-3);
}

TEST(Harness, NeverConvergingTimesStopAtMaxSamples) {
  // Bimodal: half the calls 1 ms, half 3 ms. The median's interval spans both modes forever.
  auto fake = FakeBackend::timed([](std::size_t b) { return b % 2 == 0 ? 1e-3 : 3e-3; });
  HarnessOptions o = one_call_per_sample();
  o.max_measure_s = 100.0;
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.samples_s.size(), 200u);
  EXPECT_EQ(fake.calls().size(), 201u);
}

TEST(Harness, NeverConvergingTimesStopAtMaxMeasureSeconds) {
  // Batches alternate 1 and 3 units (1 unit = 2^-10 s) starting with the warm-up, which the
  // budget does not count. Batches 1..24 spend 12 * (3 + 1) = 48 units, under the cap of 49;
  // batch 25 brings it to 51 and no further batch starts: 25 samples. (Counting the warm-up would
  // stop at 24.) measure_s counts everything: 1 + 51 units.
  auto fake = FakeBackend::timed([](std::size_t b) { return (b % 2 == 0 ? 1 : 3) * kUnit; });
  HarnessOptions o = one_call_per_sample();
  o.max_measure_s = 49 * kUnit;
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.samples_s.size(), 25u);
  EXPECT_EQ(m.measure_s, 52 * kUnit);
}

TEST(Harness, MaxMeasureSecondsWinsOverMinSamples) {
  HarnessOptions o = one_call_per_sample();
  o.max_measure_s = 2.5;
  auto fake = FakeBackend::timed([](std::size_t) { return 1.0; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.samples_s.size(), 3u);  // the budget reaches 1, 2, then 3 s > 2.5 s
  EXPECT_EQ(m.measure_s, 4.0);        // and the 1 s warm-up
}

TEST(Harness, SlowWarmupDoesNotStarveTheSamples) {
  HarnessOptions o = one_call_per_sample();
  o.max_measure_s = 0.5;
  auto fake = FakeBackend::timed([](std::size_t b) { return b == 0 ? 3.0 : 1e-3; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.samples_s.size(), 5u);
}

TEST(Harness, TooFastResultIsMeasuredAgainAndTheSlowerBelieved) {
  // A glitch makes the whole first measurement (warm-up + 5 samples) read half the true 1 ms.
  auto fake = FakeBackend::timed([](std::size_t b) { return b < 6 ? 0.5e-3 : 1e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch(), 1e-3);
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_TRUE(m.rechecked);
  EXPECT_EQ(fake.calls().size(), 12u);
  EXPECT_EQ(m.summary.median, 1e-3);
  for (double s : m.samples_s) EXPECT_EQ(s, 1e-3);
  EXPECT_DOUBLE_EQ(m.measure_s, 6 * 0.5e-3 + 6 * 1e-3);
}

TEST(Harness, GenuinelyFasterResultSurvivesTheRecheck) {
  auto fake = FakeBackend::timed([](std::size_t) { return 0.5e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch(), 1e-3);
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_TRUE(m.rechecked);
  EXPECT_EQ(m.summary.median, 0.5e-3);
}

TEST(Harness, SlowerFirstPassIsKeptWhenTheRecheckIsFaster) {
  auto fake = FakeBackend::timed([](std::size_t b) { return b < 6 ? 0.6e-3 : 0.4e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch(), 1e-3);
  EXPECT_TRUE(m.rechecked);
  EXPECT_EQ(m.summary.median, 0.6e-3);
  EXPECT_DOUBLE_EQ(m.measure_s, 6 * 0.6e-3 + 6 * 0.4e-3);
}

TEST(Harness, RecheckOnlyBeyondTheMargin) {
  // The rule: ci_high < best * (1 - margin). With best 1 ms and margin 5%: 0.96 ms is within the
  // margin, 0.94 ms is not.
  for (const auto& [time, margin, expect_recheck] :
       std::vector<std::tuple<double, double, bool>>{{0.96e-3, 0.05, false},
                                                     {0.94e-3, 0.05, true},
                                                     {0.96e-3, 0.0, true},
                                                     {1.2e-3, 0.0, false}}) {
    HarnessOptions o = one_call_per_sample();
    o.recheck_margin = margin;
    auto fake = FakeBackend::timed([t = time](std::size_t) { return t; });
    const Measurement m = Harness(o).measure(fake.batch(), 1e-3);
    EXPECT_EQ(m.rechecked, expect_recheck) << "time " << time << " margin " << margin;
    EXPECT_EQ(fake.calls().size(), expect_recheck ? 12u : 6u);
  }
}

TEST(Harness, NoRecheckWithoutABestSoFar) {
  auto fake = FakeBackend::timed([](std::size_t) { return 0.5e-3; });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch());
  EXPECT_FALSE(m.rechecked);
  EXPECT_EQ(fake.calls().size(), 6u);
}

TEST(Harness, RecheckUsesTheIntervalNotTheMedian) {
  // Median 0.5 ms is far below best 1 ms, but one sample at 2 ms makes ci_high (= max for 5
  // samples) 2 ms: not clearly faster, so no re-check.
  auto fake = FakeBackend::timed([](std::size_t b) { return b == 3 ? 2e-3 : 0.5e-3; });
  HarnessOptions o = one_call_per_sample();
  o.max_samples = 5;
  const Measurement m = Harness(o).measure(fake.batch(), 1e-3);
  EXPECT_EQ(m.summary.median, 0.5e-3);
  EXPECT_FALSE(m.rechecked);
}

TEST(Harness, FailureDuringRecheckIsTheResult) {
  auto fake = FakeBackend([](std::size_t b, std::size_t calls) -> RunOutcome {
    if (b == 8) throw std::runtime_error("device lost");
    return took(static_cast<double>(calls) * 0.5e-3);
  });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch(), 1e-3);
  EXPECT_EQ(m.status, Status::RuntimeFailed);
  EXPECT_EQ(m.message, "on re-check: device lost");
  EXPECT_TRUE(m.rechecked);
}

TEST(Harness, CallSlowerThanTimeoutIsTimeout) {
  HarnessOptions o = one_call_per_sample();
  o.timeout_s = 0.1;
  auto fake = FakeBackend::timed([](std::size_t) { return 0.5; });
  const Measurement m = Harness(o).measure(fake.batch());
  EXPECT_EQ(m.status, Status::Timeout);
  EXPECT_NE(m.message.find("timeout"), std::string::npos) << m.message;
  EXPECT_TRUE(m.samples_s.empty());
  EXPECT_EQ(fake.calls().size(), 1u);  // the warm-up already timed out
}

TEST(Harness, TimeoutDuringSamplingKeepsEarlierSamples) {
  HarnessOptions o = one_call_per_sample();
  o.timeout_s = 0.5;
  auto fake = FakeBackend::timed([](std::size_t b) { return b == 4 ? 1.0 : 1e-3; });
  const Measurement m = Harness(o).measure(fake.batch());
  EXPECT_EQ(m.status, Status::Timeout);
  EXPECT_EQ(m.samples_s, (std::vector<double>{1e-3, 1e-3, 1e-3}));
  EXPECT_EQ(fake.calls().size(), 5u);
}

TEST(Harness, TimeoutComparesTheMeanCallNotTheBatch) {
  // Batches of 5 calls of 0.3 s last 1.5 s, over the 0.5 s timeout, but no call is.
  HarnessOptions o;
  o.min_sample_s = 1.0;
  o.timeout_s = 0.5;
  o.max_measure_s = 100.0;
  auto fake = FakeBackend::timed([](std::size_t) { return 0.3; });
  const Measurement m = Harness(o).measure(fake.batch());
  ASSERT_TRUE(m.ok()) << m.message;
  EXPECT_EQ(m.calls_per_sample, 5u);
}

TEST(Harness, BackendTimeoutPassesThrough) {
  auto fake = FakeBackend([](std::size_t, std::size_t) {
    return RunOutcome{.status = Status::Timeout, .seconds = 0.0, .message = "killed after 10 s"};
  });
  const Measurement m = Harness().measure(fake.batch());
  EXPECT_EQ(m.status, Status::Timeout);
  EXPECT_EQ(m.message, "killed after 10 s");
}

TEST(Harness, RuntimeFailedOutcomeEndsTheMeasurementKeepingSamples) {
  auto fake = FakeBackend([](std::size_t b, std::size_t calls) {
    if (b == 3) {
      return RunOutcome{
          .status = Status::RuntimeFailed, .seconds = 2e-3, .message = "illegal address"};
    }
    return took(static_cast<double>(calls) * 1e-3);
  });
  const Measurement m = Harness(one_call_per_sample()).measure(fake.batch());
  EXPECT_EQ(m.status, Status::RuntimeFailed);
  EXPECT_EQ(m.message, "illegal address");
  EXPECT_EQ(m.samples_s.size(), 2u);
  EXPECT_EQ(fake.calls().size(), 4u);
  EXPECT_DOUBLE_EQ(m.measure_s, 3 * 1e-3 + 2e-3);
}

TEST(Harness, ThrownExceptionIsRuntimeFailedWithItsMessage) {
  auto fake = FakeBackend([](std::size_t, std::size_t) -> RunOutcome {
    throw std::runtime_error("segfault in worker");
  });
  Measurement m;
  EXPECT_NO_THROW(m = Harness().measure(fake.batch()));
  EXPECT_EQ(m.status, Status::RuntimeFailed);
  EXPECT_EQ(m.message, "segfault in worker");
  EXPECT_TRUE(m.samples_s.empty());
}

TEST(Harness, NonStandardExceptionIsRuntimeFailed) {
  auto fake = FakeBackend([](std::size_t, std::size_t) -> RunOutcome { throw 42; });
  const Measurement m = Harness().measure(fake.batch());
  EXPECT_EQ(m.status, Status::RuntimeFailed);
  EXPECT_FALSE(m.message.empty());
}

TEST(Harness, InvalidReportedTimeIsRuntimeFailed) {
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), -1.0, std::numeric_limits<double>::infinity()}) {
    auto fake = FakeBackend([bad](std::size_t, std::size_t) { return took(bad); });
    const Measurement m = Harness().measure(fake.batch());
    EXPECT_EQ(m.status, Status::RuntimeFailed) << bad;
    EXPECT_NE(m.message.find("invalid time"), std::string::npos) << m.message;
  }
}

TEST(Harness, BeforeSampleRunsBeforeEveryBatch) {
  std::vector<std::size_t> hook_at;  // batches already run when the hook fired
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-3; });
  HarnessOptions o = one_call_per_sample();
  o.before_sample = [&] { hook_at.push_back(fake.calls().size()); };
  (void)Harness(o).measure(fake.batch());
  EXPECT_EQ(hook_at, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));
}

TEST(Harness, ThrowingBeforeSampleIsRuntimeFailed) {
  HarnessOptions o = one_call_per_sample();
  o.before_sample = [] { throw std::runtime_error("flush failed"); };
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-3; });
  const Measurement m = Harness(o).measure(fake.batch());
  EXPECT_EQ(m.status, Status::RuntimeFailed);
  EXPECT_EQ(m.message, "flush failed");
  EXPECT_TRUE(fake.calls().empty());
}

TEST(Harness, RejectsOptionsOutOfRange) {
  const auto rejects = [](const std::function<void(HarnessOptions&)>& change) {
    HarnessOptions o;
    change(o);
    try {
      Harness h(o);
    } catch (const Error& e) {
      return e.code() == ErrorCode::InvalidArgument;
    }
    return false;
  };
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.min_samples = 0; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.max_samples = 4; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.min_sample_s = -1.0; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.min_sample_s = std::nan(""); }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.max_measure_s = 0.0; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.timeout_s = 0.0; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.recheck_margin = 1.0; }));
  EXPECT_TRUE(rejects([](HarnessOptions& o) { o.max_calls_per_sample = 0; }));
  EXPECT_FALSE(rejects([](HarnessOptions&) {}));
}

TEST(Harness, RejectsANonPositiveBestSoFar) {
  auto fake = FakeBackend::timed([](std::size_t) { return 1e-3; });
  EXPECT_THROW(Harness().measure(fake.batch(), 0.0), Error);
  EXPECT_THROW(Harness().measure(fake.batch(), std::nan("")), Error);
}

}  // namespace
}  // namespace attune
