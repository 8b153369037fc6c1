#pragma once
// The OpenCL C API as the backend uses it: the SDK header with the API version pinned, owning
// handles that release what they hold, typed info queries, and the one place where an OpenCL
// error code becomes an attune::Error. Private to src/backends/opencl: no SDK type leaves it.

// OpenCL 1.2 is the newest version every vendor ships (NVIDIA's driver included), and the backend
// needs nothing later.
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attune::opencl::detail {

/// "CL_OUT_OF_RESOURCES" for -5; "CL error -9999" for a code this header does not know.
std::string error_name(cl_int code);

/// Throws Error(Unsupported) "`call` failed: CL_..." when `code` is not CL_SUCCESS. For calls
/// whose failure is an environment problem (no context, no queue), never for what a
/// configuration does wrong.
void check(cl_int code, std::string_view call);

/// Owns one OpenCL object and releases it once. Move-only.
template <typename T, cl_int(CL_API_CALL* Release)(T)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(T raw) noexcept : raw_(raw) {}
  Handle(Handle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      raw_ = std::exchange(other.raw_, nullptr);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  T get() const noexcept { return raw_; }
  explicit operator bool() const noexcept { return raw_ != nullptr; }
  void reset() noexcept {
    if (raw_ != nullptr) Release(raw_);
    raw_ = nullptr;
  }

 private:
  T raw_ = nullptr;
};

using Context = Handle<cl_context, clReleaseContext>;
using Queue = Handle<cl_command_queue, clReleaseCommandQueue>;
using Program = Handle<cl_program, clReleaseProgram>;
using Kernel = Handle<cl_kernel, clReleaseKernel>;
using Memory = Handle<cl_mem, clReleaseMemObject>;
using Event = Handle<cl_event, clReleaseEvent>;

/// String-valued info; empty when the query fails.
std::string platform_string(cl_platform_id platform, cl_platform_info what);
std::string device_string(cl_device_id device, cl_device_info what);

/// Fixed-size device info (cl_uint, cl_ulong, size_t, cl_bool, bitfields); `fallback` when the
/// query fails.
template <typename T>
T device_value(cl_device_id device, cl_device_info what, T fallback = T{}) {
  T value{};
  if (clGetDeviceInfo(device, what, sizeof value, &value, nullptr) != CL_SUCCESS) return fallback;
  return value;
}

/// Array-valued device info (CL_DEVICE_MAX_WORK_ITEM_SIZES); empty when the query fails.
std::vector<std::size_t> device_sizes(cl_device_id device, cl_device_info what);

/// The build log of `program` on `device` (empty when there is none).
std::string build_log(cl_program program, cl_device_id device);

/// What a person needs from a failed build's log: from the first line that mentions an error
/// (else from the start), at most `max_lines` lines and about 4000 characters, each line's
/// trailing blanks removed.
std::string first_error_lines(std::string_view log, std::size_t max_lines = 16);

}  // namespace attune::opencl::detail
