#pragma once
/// \file
/// A backend turns a configuration into something that runs: `prepare` builds it (compiles, plans,
/// allocates) and the result runs batches of calls and checks its own output. Small on purpose:
/// the harness, the verifier's arithmetic and the tuner loop are shared by every backend.

#include <memory>
#include <stdexcept>
#include <string>

#include "attune/device_info.hpp"
#include "attune/harness.hpp"
#include "attune/measurement.hpp"
#include "attune/search_space.hpp"
#include "attune/verifier.hpp"

namespace attune {

/// Thrown by PreparedKernel::verify() when the verification run itself failed (the kernel
/// crashed, hung, or the device reported an error): the evaluator records `status()` (e.g.
/// RuntimeFailed, Timeout) with the message, and never times the configuration.
class KernelFailure : public std::runtime_error {
 public:
  KernelFailure(Status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  Status status() const noexcept { return status_; }

 private:
  Status status_;
};

/// One configuration, built and ready to run on the backend's inputs.
class PreparedKernel {
 public:
  virtual ~PreparedKernel() = default;
  /// Runs once on the check inputs with every output element poisoned beforehand, and compares
  /// the outputs with the reference. Called once, before timing. A run that fails throws
  /// KernelFailure; a wrong output is a VerifyResult that is not ok.
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
  /// True when prepare() may be called from several threads at once, and while the measuring
  /// thread runs prepared kernels: the tuner's pipeline then compiles ahead on worker threads.
  virtual bool concurrent_prepare() const { return false; }
};

}  // namespace attune
