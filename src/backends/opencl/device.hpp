#pragma once
// Which OpenCL device the backend runs on, and what it may ask of it.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "attune/backends/opencl.hpp"
#include "attune/device_info.hpp"
#include "cl_api.hpp"

namespace attune::opencl::detail {

/// The limits prepare() checks a configuration against before building it.
struct DeviceLimits {
  std::size_t max_work_group_size = 1;
  std::array<std::size_t, 3> max_work_item_sizes{1, 1, 1};
  std::size_t max_dimensions = 3;
  std::uint64_t local_mem_bytes = 0;
  std::uint64_t max_alloc_bytes = 0;
  std::uint64_t global_mem_bytes = 0;
};

struct SelectedDevice {
  cl_platform_id platform = nullptr;
  cl_device_id device = nullptr;
  /// Where it is in the ICD loader's lists, for another process to find the same device.
  std::size_t platform_index = 0;
  std::size_t device_index = 0;
  DeviceInfo info;
  DeviceLimits limits;
  /// PoCL compiles a kernel's work-group function at its first launch for each local size, not
  /// in clBuildProgram (see prepare() in opencl_backend.cpp).
  bool compiles_at_first_launch = false;
};

/// The device `options.device` (else $ATTUNE_OPENCL_DEVICE) names, as a case-insensitive
/// substring of "<platform>: <device>"; with neither, the first GPU, else the first device.
/// Throws Error(Unsupported) when there is no device at all, Error(NotFound) listing the devices
/// when none matches.
SelectedDevice select_device(const OpenClOptions& options);

/// "P:D:NAME": where `device` is in the ICD loader's lists, and its name, so that another process
/// (attune-opencl-builder) can open the same device.
std::string device_place(const SelectedDevice& device);

/// The device a device_place() names. Throws Error(NotFound) when there is none at that place or
/// it has another name, Error(InvalidArgument) when `place` is malformed.
SelectedDevice select_device_at(const std::string& place);

}  // namespace attune::opencl::detail
