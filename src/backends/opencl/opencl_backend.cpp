// The OpenCL backend: one program and kernel per configuration, built at run time from the spec's
// source with one -D option per parameter; device buffers shared by every configuration whose
// arguments have the same sizes and values; launches timed by profiling events.
//
// On PoCL each configuration is first built by attune-opencl-builder in a process of its own (see
// BuildPlace in opencl.hpp and builder_main.cpp), which leaves the program and its work-group
// function in PoCL's kernel cache; the build here then loads them from there.
//
// Threads: prepare() runs on the tuner's worker threads while the measuring thread verifies and
// times other configurations. It touches only objects it creates (program, kernel, a queue of
// its own) and the argument sets, whose creation is serialized per set; the context is shared,
// which OpenCL allows. verify() and run() use the one measuring queue, from one thread.

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "attune/backends/opencl.hpp"
#include "attune/error.hpp"
#include "builder_process.hpp"
#include "builder_protocol.hpp"
#include "cl_api.hpp"
#include "core/subprocess.hpp"
#include "device.hpp"

namespace attune::opencl {
namespace {

using detail::check;
using detail::error_name;

// PoCL specializes a work-group function for grids narrower than this in every dimension
// (USHRT_MAX, its grid_width_specialization_limit on CPU devices); the launch that compiles ahead
// must fall on the same side of it as the real launch to compile the function the real one uses.
constexpr std::size_t kPoclSmallGridLimit = 65535;

// Launches whose events are waited for and read at once in run(): bounds the events alive.
constexpr std::size_t kLaunchesPerWait = 256;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Why a configuration cannot be built or run: the status it gets and the reason.
struct Rejection {
  Status status;
  std::string message;
};

struct Geometry {
  cl_uint dims = 1;
  std::array<std::size_t, 3> global{1, 1, 1};
  std::array<std::size_t, 3> local{1, 1, 1};
  bool has_local = false;

  std::size_t local_items() const {
    std::size_t n = 1;
    for (cl_uint d = 0; d < dims; ++d) n *= local[d];
    return n;
  }
  const std::size_t* local_or_null() const { return has_local ? local.data() : nullptr; }
};

std::string join_sizes(const std::array<std::size_t, 3>& sizes, cl_uint dims) {
  std::string out;
  for (cl_uint d = 0; d < dims; ++d) {
    if (d > 0) out += 'x';
    out += std::to_string(sizes[d]);
  }
  return out;
}

// "file:line: key `k`: ", the prefix of a spec error; `key` stands in when the spec was built in
// C++ and says nothing of where its values came from.
std::string located(SpecLocation where, const char* key) {
  if (where.key.empty()) where.key = key;
  return where.describe() + ": ";
}

std::string read_text(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::NotFound, "cannot read the " + what + " " + path.string() +
                                         ": check the path (relative paths in a spec file resolve "
                                         "against the spec's directory)");
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr const char* kBuilderName = "attune-opencl-builder";

// A fresh directory under the system's temporary directory, removed with everything in it when
// this object goes: with the backend, or when the backend's constructor throws after making it.
class ScratchDirectory {
 public:
  ScratchDirectory() = default;
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory() {
    if (path_.empty()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  void create(const std::string& prefix) {
    std::error_code ignored;
    std::string pattern =
        (std::filesystem::temp_directory_path(ignored) / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error(ErrorCode::Io,
                  "cannot create a temporary directory " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// PoCL reads POCL_KERNEL_CACHE once: 0 turns its kernel cache off (it is on by default).
bool pocl_kernel_cache_on() {
  const char* cache = std::getenv("POCL_KERNEL_CACHE");
  return cache == nullptr || std::string(cache) != "0";
}

// The builder for OpenClOptions::build_place, or an empty path to build in process.
std::filesystem::path choose_builder(const OpenClOptions& options,
                                     const detail::SelectedDevice& device) {
  if (options.build_place == BuildPlace::InProcess) return {};
  attune::detail::CompanionProgram builder;
  builder.name = kBuilderName;
  builder.given = options.builder;
  builder.given_by = "OpenClOptions::builder";
  builder.variable = "ATTUNE_OPENCL_BUILDER";
#ifdef ATTUNE_OPENCL_BUILDER_BUILD_PATH
  builder.places.emplace_back(ATTUNE_OPENCL_BUILDER_BUILD_PATH);
#endif
#ifdef ATTUNE_OPENCL_BUILDER_INSTALL_PATH
  builder.places.emplace_back(ATTUNE_OPENCL_BUILDER_INSTALL_PATH);
#endif
  if (options.build_place == BuildPlace::Automatic) {
    if (!device.compiles_at_first_launch || !pocl_kernel_cache_on()) return {};
    return attune::detail::find_companion(builder);
  }
  if (device.compiles_at_first_launch && !pocl_kernel_cache_on()) {
    throw Error(ErrorCode::InvalidArgument,
                "building in attune-opencl-builder needs PoCL's kernel cache, and "
                "POCL_KERNEL_CACHE=0 turns it off: unset it, or build in process");
  }
  std::string looked;
  std::filesystem::path found = attune::detail::find_companion(builder, &looked);
  if (found.empty()) {
    throw Error(ErrorCode::NotFound, std::string(kBuilderName) + " not found (looked in " + looked +
                                         "); build it with attune, set "
                                         "ATTUNE_OPENCL_BUILDER, or build in process");
  }
  return found;
}

void write_file(int fd, const std::byte* data, std::size_t size, const std::string& what) {
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      throw Error(ErrorCode::Io, "cannot write " + what + " to a temporary file: " +
                                     std::strerror(errno) + " (is the temporary directory full?)");
    }
    done += static_cast<std::size_t>(n);
  }
}

// The grid of the launch that compiles the work-group function ahead: one work-group, but as wide
// as the real grid in its widest dimension when that is at or over PoCL's small-grid limit.
Geometry first_launch_geometry(const Geometry& g) {
  Geometry first = g;
  if (!g.has_local) return first;
  std::size_t widest = 0;
  for (cl_uint d = 0; d < g.dims; ++d) widest = std::max(widest, g.global[d]);
  for (cl_uint d = 0; d < g.dims; ++d) {
    const bool keep = widest >= kPoclSmallGridLimit && g.global[d] == widest;
    first.global[d] = keep ? g.global[d] : g.local[d];
  }
  return first;
}

std::string comma_sizes(const std::array<std::size_t, 3>& sizes) {
  return std::to_string(sizes[0]) + "," + std::to_string(sizes[1]) + "," + std::to_string(sizes[2]);
}

// A configuration's arguments without their contents: what decides whether two configurations
// can share buffers, and what the device limits are checked against before anything is built.
struct ArgumentPlan {
  std::string key;  // global buffer sizes, scalar values; equal keys share an ArgumentSet
  std::vector<std::uint64_t> bytes;  // per argument: buffer bytes (local: per work-group)
  std::uint64_t local_bytes = 0;
  std::uint64_t global_bytes = 0;
};

// One distinct set of argument values with its device buffers. Created once (prepare, any
// thread); used for launches from the measuring thread.
struct ArgumentSet {
  std::once_flag created;
  std::vector<HostArgument> host;                // initial contents
  std::vector<detail::Memory> buffers;           // per argument; empty for scalars and local
  std::vector<std::vector<std::byte>> poisoned;  // per argument; outputs only
  // Per argument; buffers only: a file with the initial contents, for the builder's first
  // launch. Written once, when the first configuration with this set goes to the builder.
  std::once_flag files_written;
  std::vector<std::string> files;
  std::mutex reference_mutex;
  // Per argument; outputs only. Set by the first verification (first valid, reference kernel)
  // or at creation (stored answers).
  std::optional<std::vector<std::vector<std::byte>>> reference;
};

class OpenClKernel;

class OpenClBackend final : public Backend {
 public:
  OpenClBackend(const KernelSpec& spec, const OpenClOptions& options);
  ~OpenClBackend() override;
  OpenClBackend(const OpenClBackend&) = delete;
  OpenClBackend& operator=(const OpenClBackend&) = delete;

  const DeviceInfo& device() const override { return device_.info; }
  std::string kernel_id() const override { return spec_.kernel_id(); }
  Prepared prepare(const Config& config) override;
  bool concurrent_prepare() const override { return true; }

  // For the prepared kernels, on the measuring thread.
  void write_arguments(const ArgumentSet& set);
  void launch_once(cl_kernel kernel, const Geometry& geometry, const std::string& what);
  std::vector<std::vector<std::byte>> read_outputs(const ArgumentSet& set);
  VerifyResult check_outputs(ArgumentSet& set, const std::vector<std::vector<std::byte>>& got);
  cl_command_queue queue() const { return queue_.get(); }

 private:
  std::optional<Rejection> evaluate_geometry(const Config& config, const LaunchSpec& launch,
                                             Geometry& out) const;
  std::optional<Rejection> check_geometry(const Geometry& g) const;
  std::optional<Rejection> plan_arguments(const Config& config, ArgumentPlan& plan) const;
  std::shared_ptr<ArgumentSet> argument_set(const ArgumentPlan& plan, const Config& config);
  void create_argument_set(ArgumentSet& set, const Config& config);
  std::string build_options(const Config& config) const;
  std::optional<Rejection> build(const std::string& options, detail::Program& program) const;
  std::optional<Rejection> build_in_builder(const std::string& options, const Geometry& g,
                                            const ArgumentPlan& plan, ArgumentSet& set,
                                            std::optional<Rejection>& launch_failed);
  void write_argument_files(ArgumentSet& set);
  std::optional<Rejection> bind_arguments(cl_kernel kernel, const ArgumentSet& set,
                                          const std::vector<cl_mem>& buffers,
                                          const std::vector<std::uint64_t>& local_bytes) const;
  std::optional<Rejection> check_built_kernel(cl_kernel kernel, const Geometry& g) const;
  std::optional<Rejection> compile_work_group_function(cl_kernel kernel, const Geometry& g,
                                                       const ArgumentSet& set,
                                                       const ArgumentPlan& plan) const;
  void build_reference();
  std::vector<std::vector<std::byte>> run_reference(const ArgumentSet& set);

  KernelSpec spec_;
  OpenClOptions options_;
  SearchSpace space_;
  std::string source_;
  // BuildPlace::Builder: the program, the source in an anonymous file it reads, a directory for
  // the argument files (removed with the backend), and the builders between builds.
  std::filesystem::path builder_;
  attune::detail::UniqueFd source_file_;
  ScratchDirectory scratch_dir_;
  std::string device_place_;
  std::mutex builders_mutex_;
  std::vector<std::unique_ptr<detail::BuilderProcess>> idle_builders_;
  std::atomic<std::size_t> next_file_{0};
  detail::SelectedDevice device_;
  detail::Context context_;
  detail::Queue queue_;  // measuring thread only

  std::mutex sets_mutex_;
  std::map<std::string, std::shared_ptr<ArgumentSet>> sets_;

  // VerifySpec::Reference: built once, run once per argument set with the default
  // configuration's geometry and local sizes.
  std::optional<Config> default_config_;
  detail::Program reference_program_;
  detail::Kernel reference_kernel_;
  Geometry reference_geometry_;
  std::vector<std::uint64_t> reference_local_bytes_;

  // VerifySpec::Answer: the spec with each output initialized from its answer file.
  std::optional<KernelSpec> answer_spec_;
};

class OpenClKernel final : public PreparedKernel {
 public:
  OpenClKernel(OpenClBackend& backend, std::shared_ptr<ArgumentSet> set, detail::Program program,
               detail::Kernel kernel, Geometry geometry)
      : backend_(backend),
        set_(std::move(set)),
        program_(std::move(program)),
        kernel_(std::move(kernel)),
        geometry_(geometry) {}

  VerifyResult verify() override {
    backend_.write_arguments(*set_);
    backend_.launch_once(kernel_.get(), geometry_, "the kernel");
    return backend_.check_outputs(*set_, backend_.read_outputs(*set_));
  }

  // Time is the sum over launches of END - START of each launch's profiling event: the device
  // time of the kernels alone. END of the last minus START of the first would add the gaps
  // between launches, which on a CPU device are the host scheduling the next launch and vary with
  // the load of a shared machine more than with the configuration.
  RunOutcome run(std::size_t calls) override {
    RunOutcome out;
    const cl_command_queue queue = backend_.queue();
    std::vector<detail::Event> events;
    events.reserve(std::min(calls, kLaunchesPerWait));
    std::size_t done = 0;
    while (done < calls) {
      const std::size_t batch = std::min(kLaunchesPerWait, calls - done);
      events.clear();
      for (std::size_t i = 0; i < batch; ++i) {
        cl_event event = nullptr;
        const cl_int rc = clEnqueueNDRangeKernel(queue, kernel_.get(), geometry_.dims, nullptr,
                                                 geometry_.global.data(), geometry_.local_or_null(),
                                                 0, nullptr, &event);
        if (rc != CL_SUCCESS) {
          clFinish(queue);
          return failed("clEnqueueNDRangeKernel failed with " + error_name(rc));
        }
        events.emplace_back(event);
      }
      std::vector<cl_event> raw;
      for (const auto& e : events) raw.push_back(e.get());
      const cl_int waited = clWaitForEvents(static_cast<cl_uint>(raw.size()), raw.data());
      for (const auto& e : events) {
        cl_int status = CL_COMPLETE;
        clGetEventInfo(e.get(), CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
        if (status < 0) return failed("the kernel failed with " + error_name(status));
        cl_ulong start = 0, end = 0;
        const cl_int a = clGetEventProfilingInfo(e.get(), CL_PROFILING_COMMAND_START, sizeof start,
                                                 &start, nullptr);
        const cl_int b =
            clGetEventProfilingInfo(e.get(), CL_PROFILING_COMMAND_END, sizeof end, &end, nullptr);
        if (a != CL_SUCCESS || b != CL_SUCCESS) {
          return failed("reading the launch's profiling event failed with " +
                        error_name(a != CL_SUCCESS ? a : b));
        }
        out.seconds += static_cast<double>(end - std::min(start, end)) * 1e-9;
      }
      if (waited != CL_SUCCESS)
        return failed("waiting for the kernel failed with " + error_name(waited));
      done += batch;
    }
    return out;
  }

 private:
  static RunOutcome failed(std::string message) {
    RunOutcome out;
    out.status = Status::RuntimeFailed;
    out.message = std::move(message);
    return out;
  }

  OpenClBackend& backend_;
  std::shared_ptr<ArgumentSet> set_;
  detail::Program program_;
  detail::Kernel kernel_;
  Geometry geometry_;
};

OpenClBackend::OpenClBackend(const KernelSpec& spec, const OpenClOptions& options)
    : spec_(spec),
      options_(options),
      space_(spec.space()),
      device_(detail::select_device(options)) {
  if (!spec_.backend.empty() && spec_.backend != "opencl") {
    throw Error(ErrorCode::InvalidArgument, "the spec " + spec_.path.string() + " is for the `" +
                                                spec_.backend +
                                                "` backend; the OpenCL backend runs specs with "
                                                "backend = \"opencl\"");
  }
  if (spec_.entry.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "the spec names no entry point: set `entry` to the __kernel function's name");
  }
  const LaunchSpec& launch = spec_.launch;
  if (launch.global.empty() || launch.global.size() > device_.limits.max_dimensions ||
      launch.global.size() > 3) {
    throw Error(ErrorCode::InvalidArgument,
                located(launch.where, "launch") + "an OpenCL launch has 1 to " +
                    std::to_string(std::min<std::size_t>(3, device_.limits.max_dimensions)) +
                    " global sizes on this device, the spec gives " +
                    std::to_string(launch.global.size()));
  }
  if (!launch.local.empty() && launch.local.size() != launch.global.size()) {
    throw Error(ErrorCode::InvalidArgument,
                located(launch.where, "launch") + "`local` has " +
                    std::to_string(launch.local.size()) + " sizes and `global` " +
                    std::to_string(launch.global.size()) +
                    "; give one local size per global size, or none to let the runtime choose");
  }
  source_ = read_text(spec_.source, "kernel source");
  builder_ = choose_builder(options, device_);
  if (!builder_.empty()) {
    source_file_ = attune::detail::anonymous_file();
    write_file(source_file_.get(), reinterpret_cast<const std::byte*>(source_.data()),
               source_.size(), "the kernel source");
    scratch_dir_.create("attune-opencl");
    device_place_ = detail::device_place(device_);
    // Started here, once, so that a builder that cannot run is an error now, not a failed
    // configuration later.
    idle_builders_.push_back(
        std::make_unique<detail::BuilderProcess>(builder_, device_place_, source_file_.get()));
  }

  cl_int rc = CL_SUCCESS;
  const cl_device_id device = device_.device;
  context_ = detail::Context(clCreateContext(nullptr, 1, &device, nullptr, nullptr, &rc));
  check(rc, "clCreateContext");
  if (!(detail::device_value<cl_command_queue_properties>(device, CL_DEVICE_QUEUE_PROPERTIES) &
        CL_QUEUE_PROFILING_ENABLE)) {
    throw Error(ErrorCode::Unsupported, "the OpenCL device " + device_.info.name +
                                            " cannot time kernels with profiling events; choose "
                                            "another with $ATTUNE_OPENCL_DEVICE");
  }
  queue_ =
      detail::Queue(clCreateCommandQueue(context_.get(), device, CL_QUEUE_PROFILING_ENABLE, &rc));
  check(rc, "clCreateCommandQueue");

  if (space_.size() > 0) {
    default_config_.emplace(space_.at(0));
  } else {
    default_config_.emplace(&space_, std::vector<std::uint32_t>(space_.params().size(), 0));
  }

  const VerifySpec& verify = spec_.verify;
  if (verify.kind == VerifySpec::Kind::Reference) build_reference();
  if (verify.kind == VerifySpec::Kind::Answer) {
    answer_spec_.emplace(spec_);
    for (ArgumentSpec& arg : answer_spec_->arguments) {
      if (!arg.output) continue;
      const auto answer = std::find_if(verify.answers.begin(), verify.answers.end(),
                                       [&](const auto& named) { return named.first == arg.name; });
      if (answer == verify.answers.end()) {
        throw Error(ErrorCode::InvalidArgument, located(verify.where, "verify") +
                                                    "no answer file for the output `" + arg.name +
                                                    "`; give one file per output argument");
      }
      arg.init = Initializer{};
      arg.init.kind = Initializer::Kind::File;
      arg.init.path = answer->second;
    }
    for (const auto& [name, path] : verify.answers) {
      const bool known =
          std::any_of(spec_.arguments.begin(), spec_.arguments.end(),
                      [&](const ArgumentSpec& a) { return a.name == name && a.output; });
      if (!known) {
        throw Error(ErrorCode::InvalidArgument,
                    located(verify.where, "verify") + "`" + name +
                        "` has an answer file but is not an output argument of the kernel");
      }
    }
  }
}

std::optional<Rejection> OpenClBackend::evaluate_geometry(const Config& config,
                                                          const LaunchSpec& launch,
                                                          Geometry& out) const {
  out.dims = static_cast<cl_uint>(launch.global.size());
  out.has_local = !launch.local.empty();
  const auto evaluate = [&](const std::string& expression, const char* which, std::size_t d,
                            std::size_t& size) -> std::optional<Rejection> {
    SpecLocation where = launch.where;
    if (where.key.empty()) where.key = std::string("launch.") + which;
    Value v;
    try {
      v = evaluate_spec_expression(spec_, expression, config, where);
    } catch (const Error& e) {
      return Rejection{Status::Invalid, e.what()};
    }
    if (!v.is_int() || v.as_int() < 1) {
      return Rejection{Status::Invalid, where.describe() + ": " + which + " size " +
                                            std::to_string(d) + " `" + expression + "` is " +
                                            v.to_string() +
                                            "; a launch size must be a whole number >= 1 (use "
                                            "// for integer division)"};
    }
    size = static_cast<std::size_t>(v.as_int());
    return std::nullopt;
  };
  for (std::size_t d = 0; d < launch.global.size(); ++d) {
    if (auto r = evaluate(launch.global[d], "global", d, out.global[d])) return r;
    if (out.has_local) {
      if (auto r = evaluate(launch.local[d], "local", d, out.local[d])) return r;
    }
  }
  return std::nullopt;
}

std::optional<Rejection> OpenClBackend::check_geometry(const Geometry& g) const {
  const detail::DeviceLimits& limits = device_.limits;
  if (!g.has_local) return std::nullopt;
  for (cl_uint d = 0; d < g.dims; ++d) {
    if (g.local[d] > limits.max_work_item_sizes[d]) {
      return Rejection{Status::OverLimits,
                       "local size " + join_sizes(g.local, g.dims) + ": dimension " +
                           std::to_string(d) + " is " + std::to_string(g.local[d]) +
                           ", over the device's maximum of " +
                           std::to_string(limits.max_work_item_sizes[d]) + " (not built)"};
    }
  }
  if (g.local_items() > limits.max_work_group_size) {
    return Rejection{Status::OverLimits, "local size " + join_sizes(g.local, g.dims) + " is " +
                                             std::to_string(g.local_items()) +
                                             " work-items, over the device's maximum work-group "
                                             "size of " +
                                             std::to_string(limits.max_work_group_size) +
                                             " (not built)"};
  }
  // OpenCL 1.2 launches whole work-groups only; a runtime that accepts a ragged last group
  // (OpenCL 2.0 non-uniform work-groups) would run a kernel here that fails elsewhere.
  for (cl_uint d = 0; d < g.dims; ++d) {
    if (g.global[d] % g.local[d] != 0) {
      return Rejection{Status::Invalid, "global size " + join_sizes(g.global, g.dims) +
                                            " is not a multiple of the local size " +
                                            join_sizes(g.local, g.dims) + " in dimension " +
                                            std::to_string(d) + " (not built)"};
    }
  }
  return std::nullopt;
}

std::optional<Rejection> OpenClBackend::plan_arguments(const Config& config,
                                                       ArgumentPlan& plan) const {
  plan.bytes.assign(spec_.arguments.size(), 0);
  for (std::size_t i = 0; i < spec_.arguments.size(); ++i) {
    const ArgumentSpec& arg = spec_.arguments[i];
    const bool scalar = arg.kind == ArgumentSpec::Kind::Scalar;
    SpecLocation where = arg.where;
    if (where.key.empty()) where.key = "arguments." + arg.name + (scalar ? ".value" : ".size");
    Value v;
    try {
      v = evaluate_spec_expression(spec_, scalar ? arg.value : arg.size, config, where);
    } catch (const Error& e) {
      return Rejection{Status::Invalid, e.what()};
    }
    if (scalar) {
      plan.key.append("s").append(v.to_string()).append(";");
      continue;
    }
    if (!v.is_int() || v.as_int() < 0) {
      return Rejection{Status::Invalid, where.describe() + ": the size `" + arg.size + "` of `" +
                                            arg.name + "` is " + v.to_string() +
                                            "; a size must be a whole number >= 0"};
    }
    const auto count = static_cast<std::uint64_t>(v.as_int());
    plan.bytes[i] = count * size_of(arg.type);
    if (arg.local) {
      // __local sizes are the kernel's business, not the data's: configurations that differ
      // only in them share buffers and a reference.
      plan.local_bytes += plan.bytes[i];
      continue;
    }
    plan.key.append("b").append(std::to_string(count)).append(";");
    plan.global_bytes += plan.bytes[i];
    if (plan.bytes[i] > device_.limits.max_alloc_bytes) {
      return Rejection{Status::OverLimits,
                       "buffer `" + arg.name + "` needs " + std::to_string(plan.bytes[i]) +
                           " bytes, over the device's largest allocation of " +
                           std::to_string(device_.limits.max_alloc_bytes) + " (not built)"};
    }
  }
  if (plan.local_bytes > device_.limits.local_mem_bytes) {
    return Rejection{Status::OverLimits,
                     "the __local arguments need " + std::to_string(plan.local_bytes) +
                         " bytes per work-group, over the device's " +
                         std::to_string(device_.limits.local_mem_bytes) + " (not built)"};
  }
  if (plan.global_bytes > device_.limits.global_mem_bytes) {
    return Rejection{Status::OverLimits,
                     "the buffers need " + std::to_string(plan.global_bytes) +
                         " bytes together, over the device's global memory of " +
                         std::to_string(device_.limits.global_mem_bytes) + " (not built)"};
  }
  return std::nullopt;
}

std::shared_ptr<ArgumentSet> OpenClBackend::argument_set(const ArgumentPlan& plan,
                                                         const Config& config) {
  std::shared_ptr<ArgumentSet> set;
  {
    std::lock_guard lock(sets_mutex_);
    auto& slot = sets_[plan.key];
    if (!slot) slot = std::make_shared<ArgumentSet>();
    set = slot;
  }
  // Outside the map's lock: another configuration with other sizes need not wait for this one's
  // inputs. call_once makes a second configuration with the same sizes wait for the first, and
  // lets the next one try again if creating it threw.
  std::call_once(set->created, [&] { create_argument_set(*set, config); });
  return set;
}

void OpenClBackend::create_argument_set(ArgumentSet& set, const Config& config) {
  std::vector<HostArgument> host = materialize_arguments(spec_, config);
  std::vector<detail::Memory> buffers(host.size());
  std::vector<std::vector<std::byte>> poisoned(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) {
    const ArgumentSpec& arg = *host[i].spec;
    if (arg.kind == ArgumentSpec::Kind::Scalar || arg.local) continue;
    const std::size_t bytes = host[i].bytes.size();
    cl_int rc = CL_SUCCESS;
    // A zero-sized buffer is an error in OpenCL; one byte stands for an empty argument.
    buffers[i] = detail::Memory(clCreateBuffer(context_.get(), CL_MEM_READ_WRITE,
                                               std::max<std::size_t>(bytes, 1), nullptr, &rc));
    if (rc != CL_SUCCESS) {
      throw Error(ErrorCode::Unsupported, "allocating " + std::to_string(bytes) + " bytes for `" +
                                              arg.name + "` failed with " + error_name(rc));
    }
    if (arg.output) {
      poisoned[i] = host[i].bytes;
      poison_output(arg.type, poisoned[i]);
    }
  }
  std::optional<std::vector<std::vector<std::byte>>> reference;
  if (answer_spec_) {
    std::vector<HostArgument> answers = materialize_arguments(*answer_spec_, config);
    reference.emplace(host.size());
    for (std::size_t i = 0; i < host.size(); ++i) {
      if (host[i].spec->output) (*reference)[i] = std::move(answers[i].bytes);
    }
  }
  set.host = std::move(host);
  set.buffers = std::move(buffers);
  set.poisoned = std::move(poisoned);
  set.reference = std::move(reference);
}

std::string OpenClBackend::build_options(const Config& config) const {
  std::string options;
  for (const std::string& flag : spec_.flags) options += flag + " ";
  for (const std::string& define : spec_.defines(config)) options += define + " ";
  if (!options.empty()) options.pop_back();
  return options;
}

std::optional<Rejection> OpenClBackend::build(const std::string& options,
                                              detail::Program& program) const {
  const char* text = source_.c_str();
  const std::size_t length = source_.size();
  cl_int rc = CL_SUCCESS;
  program = detail::Program(clCreateProgramWithSource(context_.get(), 1, &text, &length, &rc));
  if (rc != CL_SUCCESS) {
    return Rejection{Status::CompileFailed,
                     "clCreateProgramWithSource failed with " + error_name(rc)};
  }
  const cl_device_id device = device_.device;
  rc = clBuildProgram(program.get(), 1, &device, options.c_str(), nullptr, nullptr);
  if (rc == CL_SUCCESS) return std::nullopt;
  const std::string log = detail::first_error_lines(detail::build_log(program.get(), device));
  return Rejection{Status::CompileFailed, "building with \"" + options + "\" failed (" +
                                              error_name(rc) + ")" +
                                              (log.empty() ? "" : ":\n" + log)};
}

OpenClBackend::~OpenClBackend() {
  // The builders end before their directory goes (members are destroyed in reverse order).
  idle_builders_.clear();
}

void OpenClBackend::write_argument_files(ArgumentSet& set) {
  std::vector<std::string> files(set.host.size());
  const std::size_t id = next_file_++;
  for (std::size_t i = 0; i < set.host.size(); ++i) {
    if (!set.buffers[i]) continue;
    files[i] =
        (scratch_dir_.path() / ("set" + std::to_string(id) + "-" + std::to_string(i))).string();
    attune::detail::UniqueFd fd(
        ::open(files[i].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) {
      throw Error(ErrorCode::Io, "cannot create " + files[i] + ": " + std::strerror(errno));
    }
    const std::vector<std::byte>& bytes = set.host[i].bytes;
    write_file(fd.get(), bytes.data(), bytes.size(),
               "the contents of `" + set.host[i].spec->name + "`");
  }
  set.files = std::move(files);
}

// The builder's reply says what became of the configuration; only a builder that cannot do its
// job at all (one from another build, a device it cannot find) is an error of the environment.
//
// A first launch that failed cleanly (an OpenCL error, no crash) goes to `launch_failed`, not to
// the result: the checks after the build here usually say more precisely why (a missing argument,
// a required work-group size), and prepare() reports it only when they find nothing.
std::optional<Rejection> OpenClBackend::build_in_builder(const std::string& options,
                                                         const Geometry& g,
                                                         const ArgumentPlan& plan, ArgumentSet& set,
                                                         std::optional<Rejection>& launch_failed) {
  std::vector<std::string> request{"--options", options, "--entry", spec_.entry};
  if (device_.compiles_at_first_launch) {
    std::call_once(set.files_written, [&] { write_argument_files(set); });
    const Geometry first = first_launch_geometry(g);
    request.push_back("--launch");
    request.push_back(std::to_string(first.dims) + ":" + comma_sizes(first.global) +
                      (first.has_local ? ":" + comma_sizes(first.local) : std::string()));
    for (std::size_t i = 0; i < set.host.size(); ++i) {
      const HostArgument& host = set.host[i];
      request.push_back("--argument");
      if (host.spec->kind == ArgumentSpec::Kind::Scalar) {
        request.push_back(builder::scalar_argument(host.bytes.data(), host.bytes.size()));
      } else if (host.spec->local) {
        request.push_back(builder::local_argument(std::max<std::uint64_t>(plan.bytes[i], 1)));
      } else {
        request.push_back(builder::buffer_argument(host.bytes.size(), set.files[i]));
      }
    }
  }

  std::unique_ptr<detail::BuilderProcess> process;
  {
    std::lock_guard lock(builders_mutex_);
    if (!idle_builders_.empty()) {
      process = std::move(idle_builders_.back());
      idle_builders_.pop_back();
    }
  }
  if (!process) {
    process = std::make_unique<detail::BuilderProcess>(builder_, device_place_, source_file_.get());
  }
  const double limit = options_.build_timeout_s;
  const detail::BuilderProcess::Reply reply = process->build(request, limit);
  if (!process->dead()) {
    std::lock_guard lock(builders_mutex_);
    idle_builders_.push_back(std::move(process));
  }

  std::string text = reply.text;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  switch (reply.status) {
    case 0: return std::nullopt;
    case -1:
      if (reply.timed_out) {
        return Rejection{Status::Timeout,
                         "building and launching once took over " + std::to_string(limit) +
                             " s (OpenClOptions::build_timeout_s); the builder was killed"};
      }
      return Rejection{Status::RuntimeFailed,
                       "the builder ended while building or launching the kernel once (one "
                       "work-group): " +
                           text};
    case builder::kBuildFailed: {
      const std::size_t line = text.find('\n');
      const std::string code = text.substr(0, line);
      const std::string log = line == std::string::npos
                                  ? std::string()
                                  : detail::first_error_lines(text.substr(line + 1));
      return Rejection{Status::CompileFailed, "building with \"" + options + "\" failed (" + code +
                                                  ")" + (log.empty() ? "" : ":\n" + log)};
    }
    case builder::kNoKernel:
      return Rejection{Status::CompileFailed,
                       "the program has no kernel `" + spec_.entry + "` (" + text + ")"};
    case builder::kLaunchFailed:
      launch_failed = Rejection{Status::RuntimeFailed, text};
      return std::nullopt;
    default:
      throw Error(ErrorCode::Unsupported,
                  std::string(kBuilderName) + " " + builder_.string() +
                      " could not build: " + text +
                      "; rebuild attune, or build in process (BuildPlace::InProcess, or "
                      "POCL_KERNEL_CACHE=0 on the command line)");
  }
}

std::optional<Rejection> OpenClBackend::bind_arguments(
    cl_kernel kernel, const ArgumentSet& set, const std::vector<cl_mem>& buffers,
    const std::vector<std::uint64_t>& local_bytes) const {
  for (std::size_t i = 0; i < set.host.size(); ++i) {
    const HostArgument& host = set.host[i];
    const ArgumentSpec& arg = *host.spec;
    const auto index = static_cast<cl_uint>(i);
    cl_int rc = CL_SUCCESS;
    if (arg.kind == ArgumentSpec::Kind::Scalar) {
      rc = clSetKernelArg(kernel, index, host.bytes.size(), host.bytes.data());
    } else if (arg.local) {
      rc = clSetKernelArg(kernel, index, std::max<std::size_t>(local_bytes[i], 1), nullptr);
    } else {
      rc = clSetKernelArg(kernel, index, sizeof(cl_mem), &buffers[i]);
    }
    if (rc != CL_SUCCESS) {
      const std::string what = arg.kind == ArgumentSpec::Kind::Scalar
                                   ? std::string(to_string(arg.type)) + " scalar"
                               : arg.local ? "__local buffer"
                                           : "__global buffer";
      return Rejection{Status::Invalid, "argument " + std::to_string(i) + " `" + arg.name + "` (" +
                                            what + ") does not fit the kernel's parameter " +
                                            std::to_string(i) + ": clSetKernelArg failed with " +
                                            error_name(rc)};
    }
  }
  return std::nullopt;
}

std::optional<Rejection> OpenClBackend::check_built_kernel(cl_kernel kernel,
                                                           const Geometry& g) const {
  const cl_device_id device = device_.device;
  std::size_t kernel_max = 0;
  if (g.has_local &&
      clGetKernelWorkGroupInfo(kernel, device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kernel_max,
                               &kernel_max, nullptr) == CL_SUCCESS &&
      g.local_items() > kernel_max) {
    return Rejection{Status::OverLimits,
                     "local size " + join_sizes(g.local, g.dims) + " is " +
                         std::to_string(g.local_items()) +
                         " work-items, over this kernel's maximum work-group size of " +
                         std::to_string(kernel_max) +
                         " on the device (the registers or local "
                         "memory it uses limit it)"};
  }
  std::array<std::size_t, 3> required{0, 0, 0};
  if (g.has_local &&
      clGetKernelWorkGroupInfo(kernel, device, CL_KERNEL_COMPILE_WORK_GROUP_SIZE, sizeof required,
                               required.data(), nullptr) == CL_SUCCESS &&
      required[0] != 0) {
    for (cl_uint d = 0; d < g.dims; ++d) {
      if (required[d] != g.local[d]) {
        return Rejection{Status::Invalid, "the kernel requires the work-group size " +
                                              join_sizes(required, g.dims) +
                                              " (reqd_work_group_size), the launch asks for " +
                                              join_sizes(g.local, g.dims)};
      }
    }
  }
  // Queried after the __local arguments are set, so it counts them with the kernel's own
  // __local variables.
  cl_ulong local_used = 0;
  if (clGetKernelWorkGroupInfo(kernel, device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local_used,
                               &local_used, nullptr) == CL_SUCCESS &&
      local_used > device_.limits.local_mem_bytes) {
    return Rejection{Status::OverLimits,
                     "the kernel uses " + std::to_string(local_used) +
                         " bytes of local memory per work-group, over the device's " +
                         std::to_string(device_.limits.local_mem_bytes)};
  }
  return std::nullopt;
}

// PoCL builds a program to LLVM IR in clBuildProgram and compiles each kernel's work-group
// function only at the first launch with a new local size (then keeps it in memory and in
// ~/.cache/pocl/kcache). Measured on a 2-core EPYC with POCL_KERNEL_CACHE=0, for a tiled 512^3
// SGEMM: clBuildProgram 0.56 - 0.84 s, the first launch 0.23 - 0.38 s more than later ones; the
// first launch is a third of the compile. Left to the first launch, it would run in verify() on the
// measuring thread and leave the device idle; so prepare() launches the kernel once, on a grid of
// one work-group (wide enough in a dimension to match PoCL's small-grid specialization of the
// real grid), on private copies of the inputs, on a queue of its own: the compile then overlaps
// with the measurement of other configurations and the real launch finds it done. clCompileProgram
// and clLinkProgram do not help: the work-group function depends on the local size, which only a
// launch gives. Without a local size the runtime chooses one from the global size, so the
// launch that compiles ahead uses the real grid.
std::optional<Rejection> OpenClBackend::compile_work_group_function(
    cl_kernel kernel, const Geometry& g, const ArgumentSet& set, const ArgumentPlan& plan) const {
  std::vector<detail::Memory> scratch(set.host.size());
  std::vector<cl_mem> raw(set.host.size(), nullptr);
  for (std::size_t i = 0; i < set.host.size(); ++i) {
    if (!set.buffers[i]) continue;
    const std::vector<std::byte>& bytes = set.host[i].bytes;
    cl_int rc = CL_SUCCESS;
    scratch[i] = detail::Memory(clCreateBuffer(
        context_.get(), CL_MEM_READ_WRITE | (bytes.empty() ? 0 : CL_MEM_COPY_HOST_PTR),
        std::max<std::size_t>(bytes.size(), 1),
        bytes.empty() ? nullptr : const_cast<std::byte*>(bytes.data()), &rc));
    // Short of memory for the copies: the compile happens at the first real launch instead.
    if (rc != CL_SUCCESS) return std::nullopt;
    raw[i] = scratch[i].get();
  }
  const Geometry warm = first_launch_geometry(g);
  if (auto r = bind_arguments(kernel, set, raw, plan.bytes)) return r;
  cl_int rc = CL_SUCCESS;
  detail::Queue queue(clCreateCommandQueue(context_.get(), device_.device, 0, &rc));
  if (rc != CL_SUCCESS) return std::nullopt;
  cl_event event = nullptr;
  rc = clEnqueueNDRangeKernel(queue.get(), kernel, warm.dims, nullptr, warm.global.data(),
                              warm.local_or_null(), 0, nullptr, &event);
  detail::Event owned(event);
  if (rc == CL_SUCCESS) rc = clFinish(queue.get());
  cl_int status = CL_COMPLETE;
  if (rc == CL_SUCCESS && event != nullptr) {
    clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
  }
  if (rc != CL_SUCCESS || status < 0) {
    return Rejection{Status::RuntimeFailed,
                     "the first launch (one work-group, to compile it) failed with " +
                         error_name(rc != CL_SUCCESS ? rc : status)};
  }
  return std::nullopt;
}

Prepared OpenClBackend::prepare(const Config& config) {
  const auto start = std::chrono::steady_clock::now();
  Prepared out;
  bool built = false;
  const auto reject = [&](Rejection r) {
    Prepared rejected;
    rejected.status = r.status;
    rejected.message = std::move(r.message);
    if (built) rejected.compile_s = seconds_since(start);
    return rejected;
  };

  Geometry geometry;
  if (auto r = evaluate_geometry(config, spec_.launch, geometry)) return reject(std::move(*r));
  if (auto r = check_geometry(geometry)) return reject(std::move(*r));
  ArgumentPlan plan;
  if (auto r = plan_arguments(config, plan)) return reject(std::move(*r));

  std::shared_ptr<ArgumentSet> set;
  try {
    set = argument_set(plan, config);
  } catch (const Error& e) {
    return reject(
        {e.code() == ErrorCode::Unsupported ? Status::OverLimits : Status::Invalid, e.what()});
  }

  const std::string options = build_options(config);
  built = true;
  std::optional<Rejection> launch_failed;
  if (!builder_.empty()) {
    if (auto r = build_in_builder(options, geometry, plan, *set, launch_failed)) {
      return reject(*r);
    }
  }
  detail::Program program;
  if (auto r = build(options, program)) return reject(*r);
  cl_int rc = CL_SUCCESS;
  detail::Kernel kernel(clCreateKernel(program.get(), spec_.entry.c_str(), &rc));
  if (rc != CL_SUCCESS) {
    return reject({Status::CompileFailed, "the program has no kernel `" + spec_.entry +
                                              "` (clCreateKernel failed with " + error_name(rc) +
                                              ")"});
  }
  cl_uint parameters = 0;
  clGetKernelInfo(kernel.get(), CL_KERNEL_NUM_ARGS, sizeof parameters, &parameters, nullptr);
  if (parameters != spec_.arguments.size()) {
    return reject({Status::CompileFailed,
                   "the kernel `" + spec_.entry + "` takes " + std::to_string(parameters) +
                       " arguments, the spec lists " + std::to_string(spec_.arguments.size())});
  }

  std::vector<cl_mem> buffers(set->buffers.size(), nullptr);
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i] = set->buffers[i].get();
  if (auto r = bind_arguments(kernel.get(), *set, buffers, plan.bytes)) return reject(*r);
  if (auto r = check_built_kernel(kernel.get(), geometry)) return reject(*r);
  if (launch_failed) return reject(*launch_failed);
  if (device_.compiles_at_first_launch && builder_.empty()) {
    if (auto r = compile_work_group_function(kernel.get(), geometry, *set, plan)) {
      return reject(*r);
    }
    if (auto r = bind_arguments(kernel.get(), *set, buffers, plan.bytes)) return reject(*r);
  }
  out.kernel = std::make_unique<OpenClKernel>(*this, std::move(set), std::move(program),
                                              std::move(kernel), geometry);
  out.compile_s = seconds_since(start);
  return out;
}

void OpenClBackend::write_arguments(const ArgumentSet& set) {
  for (std::size_t i = 0; i < set.host.size(); ++i) {
    if (!set.buffers[i]) continue;
    const std::vector<std::byte>& bytes =
        set.host[i].spec->output ? set.poisoned[i] : set.host[i].bytes;
    if (bytes.empty()) continue;
    check(clEnqueueWriteBuffer(queue_.get(), set.buffers[i].get(), CL_FALSE, 0, bytes.size(),
                               bytes.data(), 0, nullptr, nullptr),
          "clEnqueueWriteBuffer");
  }
  check(clFinish(queue_.get()), "clFinish");
}

void OpenClBackend::launch_once(cl_kernel kernel, const Geometry& geometry,
                                const std::string& what) {
  cl_event event = nullptr;
  cl_int rc =
      clEnqueueNDRangeKernel(queue_.get(), kernel, geometry.dims, nullptr, geometry.global.data(),
                             geometry.local_or_null(), 0, nullptr, &event);
  detail::Event owned(event);
  if (rc == CL_SUCCESS) rc = clFinish(queue_.get());
  cl_int status = CL_COMPLETE;
  if (rc == CL_SUCCESS) {
    clGetEventInfo(event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
  }
  if (rc != CL_SUCCESS || status < 0) {
    // verify() has no status of its own: the evaluator records an exception from it as
    // runtime_failed with this message.
    throw Error(ErrorCode::Unsupported,
                "launching " + what + " (global " + join_sizes(geometry.global, geometry.dims) +
                    (geometry.has_local ? ", local " + join_sizes(geometry.local, geometry.dims)
                                        : std::string()) +
                    ") failed with " + error_name(rc != CL_SUCCESS ? rc : status));
  }
}

std::vector<std::vector<std::byte>> OpenClBackend::read_outputs(const ArgumentSet& set) {
  std::vector<std::vector<std::byte>> out(set.host.size());
  for (std::size_t i = 0; i < set.host.size(); ++i) {
    if (!set.buffers[i] || !set.host[i].spec->output) continue;
    out[i].resize(set.host[i].bytes.size());
    if (out[i].empty()) continue;
    check(clEnqueueReadBuffer(queue_.get(), set.buffers[i].get(), CL_TRUE, 0, out[i].size(),
                              out[i].data(), 0, nullptr, nullptr),
          "clEnqueueReadBuffer");
  }
  return out;
}

VerifyResult OpenClBackend::check_outputs(ArgumentSet& set,
                                          const std::vector<std::vector<std::byte>>& got) {
  const VerifySpec& verify = spec_.verify;
  const Tolerance tolerance = verify.tolerance;
  const auto compare_all =
      [&](const std::vector<std::vector<std::byte>>& expected) -> VerifyResult {
    std::vector<OutputComparison> outputs;
    for (std::size_t i = 0; i < set.host.size(); ++i) {
      const ArgumentSpec& arg = *set.host[i].spec;
      if (!arg.output || arg.local || arg.kind == ArgumentSpec::Kind::Scalar) continue;
      outputs.push_back({&arg, got[i], expected[i]});
    }
    return compare_outputs(outputs, tolerance);
  };

  if (verify.kind == VerifySpec::Kind::None) {
    VerifyResult unchecked;
    unchecked.ok = true;
    return unchecked;
  }
  std::lock_guard lock(set.reference_mutex);
  if (!set.reference) {
    if (verify.kind == VerifySpec::Kind::FirstValid) {
      // The first configuration that runs becomes the reference, unless it left poisoned (NaN)
      // elements: then it fails, and the next configuration is asked.
      VerifyResult self = compare_all(got);
      if (!self.ok) return self;
      set.reference = got;
      return self;
    }
    set.reference = run_reference(set);
  }
  return compare_all(*set.reference);
}

void OpenClBackend::build_reference() {
  const VerifySpec& verify = spec_.verify;
  if (verify.reference_entry.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                located(verify.where, "verify") +
                    "a reference kernel needs an entry point (the reference's __kernel name)");
  }
  const std::string source = verify.reference_source.empty()
                                 ? source_
                                 : read_text(verify.reference_source, "reference kernel source");
  const Config& config = *default_config_;
  const LaunchSpec& launch =
      verify.reference_launch.global.empty() ? spec_.launch : verify.reference_launch;
  if (auto r = evaluate_geometry(config, launch, reference_geometry_)) {
    throw Error(ErrorCode::InvalidArgument,
                "the reference kernel's launch at the default configuration (" + config.describe() +
                    "): " + r->message);
  }
  reference_local_bytes_.assign(spec_.arguments.size(), 0);
  for (std::size_t i = 0; i < spec_.arguments.size(); ++i) {
    const ArgumentSpec& arg = spec_.arguments[i];
    if (arg.kind != ArgumentSpec::Kind::Buffer || !arg.local) continue;
    const Value v = evaluate_spec_expression(spec_, arg.size, config, arg.where);
    reference_local_bytes_[i] = static_cast<std::uint64_t>(v.as_int()) * size_of(arg.type);
  }
  const char* text = source.c_str();
  const std::size_t length = source.size();
  cl_int rc = CL_SUCCESS;
  reference_program_ =
      detail::Program(clCreateProgramWithSource(context_.get(), 1, &text, &length, &rc));
  check(rc, "clCreateProgramWithSource");
  const std::string options = build_options(config);
  const cl_device_id device = device_.device;
  rc = clBuildProgram(reference_program_.get(), 1, &device, options.c_str(), nullptr, nullptr);
  if (rc != CL_SUCCESS) {
    throw Error(ErrorCode::InvalidArgument,
                located(verify.where, "verify") + "the reference kernel does not build with \"" +
                    options + "\" (" + error_name(rc) + "):\n" +
                    detail::first_error_lines(detail::build_log(reference_program_.get(), device)));
  }
  reference_kernel_ =
      detail::Kernel(clCreateKernel(reference_program_.get(), verify.reference_entry.c_str(), &rc));
  if (rc != CL_SUCCESS) {
    throw Error(ErrorCode::InvalidArgument,
                located(verify.where, "verify") + "the reference source has no kernel `" +
                    verify.reference_entry + "` (" + error_name(rc) + ")");
  }
}

std::vector<std::vector<std::byte>> OpenClBackend::run_reference(const ArgumentSet& set) {
  std::vector<cl_mem> buffers(set.buffers.size(), nullptr);
  for (std::size_t i = 0; i < buffers.size(); ++i) buffers[i] = set.buffers[i].get();
  if (auto r = bind_arguments(reference_kernel_.get(), set, buffers, reference_local_bytes_)) {
    throw Error(ErrorCode::InvalidArgument,
                "the reference kernel `" + spec_.verify.reference_entry + "`: " + r->message);
  }
  write_arguments(set);
  launch_once(reference_kernel_.get(), reference_geometry_,
              "the reference kernel `" + spec_.verify.reference_entry + "`");
  return read_outputs(set);
}

}  // namespace

std::unique_ptr<Backend> make_opencl_backend(const KernelSpec& spec, OpenClOptions options) {
  return std::make_unique<OpenClBackend>(spec, options);
}

}  // namespace attune::opencl
