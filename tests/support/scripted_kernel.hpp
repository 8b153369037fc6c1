#pragma once
// A prepared kernel for tests whose time per call is given, not measured, so that tuner and
// database tests know the optimum and get the same values on every run.

#include <vector>

#include "attune/backend.hpp"

namespace attune::test_support {

class ScriptedKernel final : public PreparedKernel {
 public:
  /// Each call "takes" `seconds_per_call`; a `wrong` kernel fails verification.
  explicit ScriptedKernel(double seconds_per_call, bool wrong = false)
      : seconds_per_call_(seconds_per_call), wrong_(wrong) {}

  VerifyResult verify() override {
    const std::vector<float> got{wrong_ ? 2.0f : 1.0f};
    const std::vector<double> expected{1.0};
    return compare(got, expected, Tolerance{1e-6, 1e-6});
  }
  RunOutcome run(std::size_t calls) override {
    return RunOutcome{Status::Ok, seconds_per_call_ * static_cast<double>(calls), {}};
  }

 private:
  double seconds_per_call_;
  bool wrong_;
};

}  // namespace attune::test_support
