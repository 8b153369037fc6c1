#pragma once
/// \file
/// The OpenCL backend: builds a spec's OpenCL kernel at run time with one -D option per
/// parameter, launches it with the spec's geometry and times it with profiling events. Runs on
/// any OpenCL device; on a machine without a GPU, PoCL runs it on the CPU. Device limits
/// (work-group size, per-dimension sizes, local memory) are checked before building, so a
/// configuration the device cannot run is over_limits without a build. Build logs of failed builds
/// are kept in the measurement's message.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attune/backend.hpp"
#include "attune/kernel_spec.hpp"

namespace attune::opencl {

/// Where prepare() builds a configuration.
enum class BuildPlace {
  /// Builder on PoCL with its kernel cache on (the default; POCL_KERNEL_CACHE=0 turns it off),
  /// when attune-opencl-builder is found; in process otherwise.
  Automatic,
  /// clBuildProgram on the calling thread, in the tuner's process.
  InProcess,
  /// First in attune-opencl-builder, a process of its own per configuration, which on PoCL also
  /// launches the kernel once (on one work-group) so that the work-group function is compiled;
  /// then in process, where the build and the first launch find both in the driver's kernel
  /// cache. PoCL holds one lock over its compiler and its launches in a process: compiled in the
  /// tuner's process, a build ahead stalls the measurement of another configuration for as long
  /// as it takes, and compiling ahead gains nothing. Also keeps a kernel whose first launch
  /// crashes or hangs from taking the tuner with it (that configuration is runtime_failed or
  /// timeout). Useful only with a driver that caches builds on disk: PoCL, with its cache on.
  Builder,
};

struct OpenClOptions {
  /// Substring of the platform and device name to use; empty: the first GPU, else the first
  /// device of any kind. Also read from $ATTUNE_OPENCL_DEVICE.
  std::string device;
  BuildPlace build_place = BuildPlace::Automatic;
  /// The builder executable (attune-opencl-builder). Empty: $ATTUNE_OPENCL_BUILDER, then the
  /// directory of the running executable, then the build tree's copy, then the installed one.
  std::filesystem::path builder;
  /// Longest the builder may take for one configuration, its launch included, before it is killed
  /// and the configuration is `timeout`.
  double build_timeout_s = 120.0;
};

/// A device as the backend sees it.
struct OpenClDevice {
  std::string platform;
  std::string name;
  std::string type;  ///< "gpu", "cpu", "accelerator"
};

/// Every OpenCL device present; empty when there is no ICD or no platform (never throws for that).
std::vector<OpenClDevice> list_devices();

/// Throws Error(Unsupported) when no OpenCL device is present, saying how to get one (install
/// pocl-opencl-icd), Error(NotFound) when no device matches OpenClOptions::device, and
/// Error(InvalidArgument) for a spec the backend cannot run (no entry point, 0 or more than 3
/// launch dimensions, a reference kernel that does not build). Thread-safe prepare() (builds may
/// run in parallel); run() and verify() from one thread. The backend must outlive the kernels it
/// prepares.
///
/// What prepare() decides, before building where it can: a launch size that is not a whole
/// number >= 1, or a global size that is not a multiple of the local size, is `invalid`; a local
/// size over the device's work-group or work-item limits, __local arguments over its local
/// memory, or a buffer over its largest allocation is `over_limits`, without a build (compile_s
/// stays 0). After the build: a local size over the kernel's own CL_KERNEL_WORK_GROUP_SIZE is
/// `over_limits`, one that differs from its reqd_work_group_size, or an argument that does not
/// fit the kernel's parameter, `invalid`; a failed build is `compile_failed` with the first
/// error lines of the build log.
///
/// Verification follows the spec: a reference kernel runs once per distinct set of argument
/// sizes, built with the default configuration's (space index 0) -D values and launched with the
/// kernel's geometry and __local sizes at that configuration; first-valid takes the outputs of
/// the first configuration that runs without leaving a poisoned element. run() reports the sum
/// of the launches' profiling-event times (END - START of each).
std::unique_ptr<Backend> make_opencl_backend(const KernelSpec& spec, OpenClOptions options = {});

}  // namespace attune::opencl
