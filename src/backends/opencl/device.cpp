// Finds the OpenCL devices the ICD loader sees, picks the one the user asked for, and describes
// it as attune does every device: a name, an architecture, features and the limits that decide
// which configurations it can run.

#include "device.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "attune/error.hpp"

namespace attune::opencl {
namespace {

struct Found {
  cl_platform_id platform;
  cl_device_id device;
  OpenClDevice description;
  std::size_t platform_index;  // in clGetPlatformIDs' list
  std::size_t device_index;    // in clGetDeviceIDs(CL_DEVICE_TYPE_ALL)'s list of its platform
};

std::string type_name(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) return "gpu";
  if (type & CL_DEVICE_TYPE_CPU) return "cpu";
  if (type & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
}

// Every device of every platform. A missing ICD, or an ICD without platforms, is an empty list:
// the loader answers CL_PLATFORM_NOT_FOUND_KHR then, which is no error of ours.
std::vector<Found> find_devices() {
  std::vector<Found> out;
  cl_uint platform_count = 0;
  if (clGetPlatformIDs(0, nullptr, &platform_count) != CL_SUCCESS || platform_count == 0) {
    return out;
  }
  std::vector<cl_platform_id> platforms(platform_count);
  if (clGetPlatformIDs(platform_count, platforms.data(), nullptr) != CL_SUCCESS) return out;
  for (std::size_t p = 0; p < platforms.size(); ++p) {
    const cl_platform_id platform = platforms[p];
    cl_uint device_count = 0;
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, nullptr, &device_count) != CL_SUCCESS ||
        device_count == 0) {
      continue;
    }
    std::vector<cl_device_id> devices(device_count);
    if (clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, device_count, devices.data(), nullptr) !=
        CL_SUCCESS) {
      continue;
    }
    const std::string platform_name = detail::platform_string(platform, CL_PLATFORM_NAME);
    for (std::size_t i = 0; i < devices.size(); ++i) {
      const cl_device_id device = devices[i];
      OpenClDevice d;
      d.platform = platform_name;
      d.name = detail::device_string(device, CL_DEVICE_NAME);
      d.type = type_name(detail::device_value<cl_device_type>(device, CL_DEVICE_TYPE));
      out.push_back({platform, device, std::move(d), p, i});
    }
  }
  return out;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string full_name(const OpenClDevice& d) { return d.platform + ": " + d.name; }

bool has_extension(const std::string& extensions, const std::string& name) {
  std::size_t at = 0;
  while ((at = extensions.find(name, at)) != std::string::npos) {
    const std::size_t end = at + name.size();
    const bool starts = at == 0 || extensions[at - 1] == ' ';
    const bool ends = end == extensions.size() || extensions[end] == ' ';
    if (starts && ends) return true;
    at = end;
  }
  return false;
}

detail::SelectedDevice describe(const Found& found) {
  using detail::device_string;
  using detail::device_value;
  detail::SelectedDevice out;
  out.platform = found.platform;
  out.device = found.device;
  out.platform_index = found.platform_index;
  out.device_index = found.device_index;
  const cl_device_id device = found.device;

  detail::DeviceLimits& limits = out.limits;
  limits.max_work_group_size = device_value<std::size_t>(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, 1);
  limits.max_dimensions = device_value<cl_uint>(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, 3);
  const auto item_sizes = detail::device_sizes(device, CL_DEVICE_MAX_WORK_ITEM_SIZES);
  for (std::size_t d = 0; d < 3; ++d) {
    limits.max_work_item_sizes[d] = d < item_sizes.size() ? item_sizes[d] : 1;
  }
  limits.local_mem_bytes = device_value<cl_ulong>(device, CL_DEVICE_LOCAL_MEM_SIZE);
  limits.max_alloc_bytes = device_value<cl_ulong>(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE);
  limits.global_mem_bytes = device_value<cl_ulong>(device, CL_DEVICE_GLOBAL_MEM_SIZE);

  DeviceInfo& info = out.info;
  info.kind = "opencl";
  info.name = full_name(found.description);
  info.architecture =
      device_string(device, CL_DEVICE_VENDOR) + " " + device_string(device, CL_DRIVER_VERSION);
  info.cores = static_cast<int>(
      std::max<cl_uint>(1, device_value<cl_uint>(device, CL_DEVICE_MAX_COMPUTE_UNITS, 1)));
  // The features a kernel's choice depends on, and the limits that decide which configurations
  // are valid: two devices that differ in these must never share results. Part of the
  // fingerprint, so extend the list only together with a fingerprint version change.
  const std::string extensions = device_string(device, CL_DEVICE_EXTENSIONS);
  if (has_extension(extensions, "cl_khr_fp64")) info.features.emplace_back("fp64");
  if (has_extension(extensions, "cl_khr_fp16")) info.features.emplace_back("fp16");
  info.features.push_back("type=" + found.description.type);
  info.features.push_back("local_mem=" + std::to_string(limits.local_mem_bytes));
  info.features.push_back("max_work_group=" + std::to_string(limits.max_work_group_size));
  std::sort(info.features.begin(), info.features.end());

  const std::string version = detail::platform_string(found.platform, CL_PLATFORM_VERSION);
  out.compiles_at_first_launch = version.find("PoCL") != std::string::npos ||
                                 found.description.platform == "Portable Computing Language";
  return out;
}

}  // namespace

std::vector<OpenClDevice> list_devices() {
  std::vector<OpenClDevice> out;
  for (Found& f : find_devices()) out.push_back(std::move(f.description));
  return out;
}

namespace detail {

SelectedDevice select_device(const OpenClOptions& options) {
  const std::vector<Found> devices = find_devices();
  if (devices.empty()) {
    throw Error(ErrorCode::Unsupported,
                "no OpenCL device found: install an OpenCL driver (on Debian or Ubuntu, "
                "`apt-get install pocl-opencl-icd` runs OpenCL on the CPU) and check that "
                "`clinfo -l` lists a device");
  }
  std::string wanted = options.device;
  if (wanted.empty()) {
    if (const char* env = std::getenv("ATTUNE_OPENCL_DEVICE")) wanted = env;
  }
  if (wanted.empty()) {
    const auto gpu = std::find_if(devices.begin(), devices.end(),
                                  [](const Found& f) { return f.description.type == "gpu"; });
    return describe(gpu != devices.end() ? *gpu : devices.front());
  }
  const std::string needle = lowercase(wanted);
  for (const Found& f : devices) {
    if (lowercase(full_name(f.description)).find(needle) != std::string::npos) return describe(f);
  }
  std::string names;
  for (const Found& f : devices) names += "\n  " + full_name(f.description);
  throw Error(ErrorCode::NotFound, "no OpenCL device matches \"" + wanted +
                                       "\" (from the options or $ATTUNE_OPENCL_DEVICE); the "
                                       "devices here are:" +
                                       names);
}

std::string device_place(const SelectedDevice& device) {
  return std::to_string(device.platform_index) + ":" + std::to_string(device.device_index) + ":" +
         device_string(device.device, CL_DEVICE_NAME);
}

SelectedDevice select_device_at(const std::string& place) {
  const std::size_t first = place.find(':');
  const std::size_t second = first == std::string::npos ? first : place.find(':', first + 1);
  std::size_t platform_index = 0;
  std::size_t device_index = 0;
  try {
    if (second == std::string::npos) throw std::invalid_argument("no two colons");
    platform_index = std::stoul(place.substr(0, first));
    device_index = std::stoul(place.substr(first + 1, second - first - 1));
  } catch (const std::exception&) {
    throw Error(ErrorCode::InvalidArgument,
                "`" + place + "` is no device place (PLATFORM:DEVICE:NAME)");
  }
  const std::string name = place.substr(second + 1);
  for (const Found& f : find_devices()) {
    if (f.platform_index != platform_index || f.device_index != device_index) continue;
    if (f.description.name != name) {
      throw Error(ErrorCode::NotFound, "OpenCL device " + std::to_string(platform_index) + ":" +
                                           std::to_string(device_index) + " is `" +
                                           f.description.name + "`, not `" + name + "`");
    }
    return describe(f);
  }
  throw Error(ErrorCode::NotFound, "no OpenCL device at " + std::to_string(platform_index) + ":" +
                                       std::to_string(device_index));
}

}  // namespace detail
}  // namespace attune::opencl
