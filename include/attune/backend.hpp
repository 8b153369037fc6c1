#pragma once
/// \file
/// A backend turns a configuration into something that runs: `prepare` builds it (compiles, plans,
/// allocates) and the result runs batches of calls and checks its own output. Small on purpose:
/// the harness, the verifier's arithmetic and the tuner loop are shared by every backend.

#include <memory>
#include <string>

#include "attune/device_info.hpp"
#include "attune/harness.hpp"
#include "attune/measurement.hpp"
#include "attune/search_space.hpp"
#include "attune/verifier.hpp"

namespace attune {

/// One configuration, built and ready to run on the backend's inputs.
class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  /// Runs once on the check inputs with every output element poisoned beforehand, and compares
  /// the outputs with the reference. Called once, before timing.
  virtual VerifyResult verify() = 0;
  /// Runs `calls` times back to back on the timing inputs and reports the elapsed seconds of the
  /// whole batch, measured with the device's own clock. Never throws for a failing kernel.
  virtual RunOutcome run(std::size_t calls) = 0;
};

/// What prepare produced: a kernel, or the status and reason why there is none.
struct Prepared {
  Status status = Status::Ok;
  std::string message;
  std::unique_ptr<PreparedKernel> kernel;
  double compile_s = 0.0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const DeviceInfo& device() const = 0;
  /// Identifies the kernel and its version, e.g. "attune.cpu.sgemm/1"; a changed kernel must
  /// change it so stale results are never reused.
  virtual std::string kernel_id() const = 0;
  /// Builds `config`. A configuration the device cannot run is a Prepared with status
  /// OverLimits or Invalid and a reason, not an exception.
  virtual Prepared prepare(const Config& config) = 0;
};

}  // namespace attune
