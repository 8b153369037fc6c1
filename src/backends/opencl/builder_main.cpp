// attune-opencl-builder: builds configurations of an OpenCL kernel in a process of its own, so
// that the tuner's process does not compile while it measures. PoCL serializes its compiler and
// kernel launches on one process-wide lock: a build on one of the tuner's threads stalls the
// measurement of an already built kernel on another for as long as the build takes (a 13 ms
// launch waited 0.5-1.3 s). Built here, with PoCL's kernel cache on, the program and the
// work-group function for the launch's local size land in the cache, and the backend's own
// clBuildProgram and first launch of the same source and options find them there (about 30 ms
// instead of 1.2 s on a 512^3 SGEMM). PoCL compiles the work-group function at the first launch,
// so the builder launches the kernel once, on one work-group of the real inputs.
//
// The process serves one build after another (a fresh process would load PoCL's kernel library
// and set up LLVM again each time, which costs as much as the build): started by the backend
// (opencl_backend.cpp) as
//
//   attune-opencl-builder --protocol 2 --device P:D:NAME
//
// with the channel and the kernel source at the descriptors builder_protocol.hpp names. It
// answers "ready" once the device is open, then one reply per request until the channel closes.
// A kernel whose first launch crashes or hangs ends this process, not the tuner: the backend
// records what happened and starts another.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "builder_protocol.hpp"
#include "cl_api.hpp"
#include "device.hpp"

namespace {

using namespace attune::opencl;
using attune::opencl::detail::error_name;

// Ends one build with a status and a reason; the process goes on to the next request.
struct Failure : std::runtime_error {
  Failure(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

[[noreturn]] void bad_request(const std::string& why) { throw Failure(builder::kBadRequest, why); }

struct Argument {
  builder::ArgumentKind kind = builder::ArgumentKind::Scalar;
  std::vector<unsigned char> scalar;
  std::uint64_t bytes = 0;
  std::string path;
};

struct Request {
  std::string options;
  std::string entry;
  bool launch = false;
  cl_uint dims = 1;
  std::array<std::size_t, 3> global{1, 1, 1};
  std::array<std::size_t, 3> local{1, 1, 1};
  bool has_local = false;
  std::vector<Argument> arguments;
};

std::uint64_t parse_number(const std::string& text, const char* what) {
  try {
    std::size_t used = 0;
    const unsigned long long v = std::stoull(text, &used, 10);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  bad_request(std::string("bad ") + what + " `" + text + "`");
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

std::array<std::size_t, 3> parse_sizes(const std::string& text) {
  const std::vector<std::string> parts = split(text, ',');
  if (parts.size() != 3) bad_request("sizes `" + text + "` are not three numbers");
  std::array<std::size_t, 3> out{};
  for (std::size_t d = 0; d < 3; ++d) out[d] = parse_number(parts[d], "size");
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

Argument parse_argument(const std::string& text) {
  Argument a;
  const std::size_t colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  const std::string rest = colon == std::string::npos ? std::string() : text.substr(colon + 1);
  if (kind == "scalar" && rest.size() % 2 == 0) {
    for (std::size_t i = 0; i < rest.size(); i += 2) {
      const int high = hex_digit(rest[i]);
      const int low = hex_digit(rest[i + 1]);
      if (high < 0 || low < 0) bad_request("bad scalar `" + rest + "`");
      a.scalar.push_back(static_cast<unsigned char>(high * 16 + low));
    }
    return a;
  }
  if (kind == "buffer") {
    const std::size_t second = rest.find(':');
    if (second == std::string::npos) bad_request("bad buffer argument `" + text + "`");
    a.kind = builder::ArgumentKind::Buffer;
    a.bytes = parse_number(rest.substr(0, second), "buffer size");
    a.path = rest.substr(second + 1);
    return a;
  }
  if (kind == "local") {
    a.kind = builder::ArgumentKind::Local;
    a.bytes = parse_number(rest, "local size");
    return a;
  }
  bad_request("bad argument `" + text + "`");
}

Request parse_request(const std::vector<std::string>& words) {
  Request r;
  for (std::size_t i = 0; i < words.size(); i += 2) {
    const std::string& flag = words[i];
    if (i + 1 >= words.size()) bad_request(flag + " needs a value");
    const std::string& value = words[i + 1];
    if (flag == "--options") {
      r.options = value;
    } else if (flag == "--entry") {
      r.entry = value;
    } else if (flag == "--launch") {
      const std::vector<std::string> parts = split(value, ':');
      if (parts.size() != 2 && parts.size() != 3) bad_request("bad --launch `" + value + "`");
      r.launch = true;
      r.dims = static_cast<cl_uint>(parse_number(parts[0], "dimensions"));
      if (r.dims < 1 || r.dims > 3) bad_request("bad --launch dimensions");
      r.global = parse_sizes(parts[1]);
      r.has_local = parts.size() == 3;
      if (r.has_local) r.local = parse_sizes(parts[2]);
    } else if (flag == "--argument") {
      r.arguments.push_back(parse_argument(value));
    } else {
      bad_request("unknown request option " + flag);
    }
  }
  if (r.entry.empty()) bad_request("the request names no --entry");
  return r;
}

std::string read_source() {
  std::string text;
  char chunk[65536];
  for (off_t offset = 0;;) {
    const ssize_t n = ::pread(builder::kSourceFd, chunk, sizeof chunk, offset);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      throw std::runtime_error("cannot read the source: " + std::string(std::strerror(errno)));
    if (n == 0) return text;
    text.append(chunk, static_cast<std::size_t>(n));
    offset += n;
  }
}

// A file's contents mapped copy-on-write: the kernel reads what it will read when measured, and
// its writes stay in this process.
class MappedFile {
 public:
  MappedFile(const std::string& path, std::uint64_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) bad_request("cannot open " + path + ": " + std::strerror(errno));
    data_ = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      bad_request("cannot map " + path + ": " + std::strerror(errno));
    }
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, bytes_);
  }
  void* data() const { return data_; }

 private:
  void* data_ = nullptr;
  std::uint64_t bytes_ = 0;
};

// The first launch, on one work-group's worth of the grid: PoCL compiles the work-group function
// for the local size here.
void launch_once(const Request& r, cl_context context, cl_device_id device, cl_kernel kernel) {
  std::vector<std::unique_ptr<MappedFile>> files;
  std::vector<detail::Memory> buffers;  // released before the files are unmapped
  for (std::size_t i = 0; i < r.arguments.size(); ++i) {
    const Argument& a = r.arguments[i];
    const auto index = static_cast<cl_uint>(i);
    cl_int rc = CL_SUCCESS;
    if (a.kind == builder::ArgumentKind::Scalar) {
      rc = clSetKernelArg(kernel, index, a.scalar.size(), a.scalar.data());
    } else if (a.kind == builder::ArgumentKind::Local) {
      rc = clSetKernelArg(kernel, index, a.bytes, nullptr);
    } else {
      files.push_back(std::make_unique<MappedFile>(a.path, a.bytes));
      void* host = files.back()->data();
      buffers.emplace_back(clCreateBuffer(context,
                                          CL_MEM_READ_WRITE | (host ? CL_MEM_USE_HOST_PTR : 0),
                                          a.bytes > 0 ? a.bytes : 1, host, &rc));
      if (rc == CL_SUCCESS) {
        const cl_mem memory = buffers.back().get();
        rc = clSetKernelArg(kernel, index, sizeof memory, &memory);
      }
    }
    if (rc != CL_SUCCESS) {
      throw Failure(builder::kLaunchFailed,
                    "setting argument " + std::to_string(i) + " failed with " + error_name(rc));
    }
  }
  cl_int rc = CL_SUCCESS;
  detail::Queue queue(clCreateCommandQueue(context, device, 0, &rc));
  if (rc != CL_SUCCESS) bad_request("clCreateCommandQueue failed with " + error_name(rc));
  cl_event raw = nullptr;
  rc = clEnqueueNDRangeKernel(queue.get(), kernel, r.dims, nullptr, r.global.data(),
                              r.has_local ? r.local.data() : nullptr, 0, nullptr, &raw);
  detail::Event event(raw);
  if (rc == CL_SUCCESS) rc = clFinish(queue.get());
  cl_int status = CL_COMPLETE;
  if (rc == CL_SUCCESS && raw != nullptr) {
    clGetEventInfo(raw, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, nullptr);
  }
  if (rc != CL_SUCCESS || status < 0) {
    throw Failure(builder::kLaunchFailed,
                  "the first launch (one work-group, to compile it) failed with " +
                      error_name(rc != CL_SUCCESS ? rc : status));
  }
}

void build(const Request& r, const std::string& source, cl_context context, cl_device_id device) {
  const char* text = source.c_str();
  const std::size_t length = source.size();
  cl_int rc = CL_SUCCESS;
  detail::Program program(clCreateProgramWithSource(context, 1, &text, &length, &rc));
  if (rc != CL_SUCCESS) {
    throw Failure(builder::kBuildFailed, "clCreateProgramWithSource failed with " + error_name(rc));
  }
  rc = clBuildProgram(program.get(), 1, &device, r.options.c_str(), nullptr, nullptr);
  if (rc != CL_SUCCESS) {
    throw Failure(builder::kBuildFailed,
                  error_name(rc) + "\n" + detail::build_log(program.get(), device));
  }
  if (!r.launch) return;
  detail::Kernel kernel(clCreateKernel(program.get(), r.entry.c_str(), &rc));
  if (rc != CL_SUCCESS) {
    throw Failure(builder::kNoKernel, "clCreateKernel failed with " + error_name(rc));
  }
  launch_once(r, context, device, kernel.get());
}

bool read_exactly(void* data, std::size_t n) {
  return attune::detail::receive_all(builder::kChannelFd, data, n);
}

bool reply(int status, const std::string& text) {
  return builder::send_strings(builder::kChannelFd, {std::to_string(status), text});
}

}  // namespace

int main(int argc, char** argv) {
  std::string device_place;
  std::string protocol;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--protocol") protocol = argv[i + 1];
    if (flag == "--device") device_place = argv[i + 1];
  }
  // Set up once: the device, a context, the source.
  cl_device_id device = nullptr;
  detail::Context context;
  std::string source;
  try {
    if (protocol != std::to_string(builder::kProtocolVersion)) {
      throw std::runtime_error("this builder speaks protocol " +
                               std::to_string(builder::kProtocolVersion) + ", not `" + protocol +
                               "` (a builder from another build of attune)");
    }
    device = detail::select_device_at(device_place).device;
    cl_int rc = CL_SUCCESS;
    context = detail::Context(clCreateContext(nullptr, 1, &device, nullptr, nullptr, &rc));
    if (rc != CL_SUCCESS) throw std::runtime_error("clCreateContext failed with " + error_name(rc));
    source = read_source();
  } catch (const std::exception& e) {
    reply(builder::kBadRequest, e.what());
    return 1;
  }
  if (!builder::send_strings(builder::kChannelFd,
                             {"ready", std::to_string(builder::kProtocolVersion)})) {
    return 1;
  }
  for (;;) {
    std::vector<std::string> words;
    if (!builder::receive_strings(read_exactly, words)) return 0;  // the backend is done
    int status = 0;
    std::string text;
    try {
      build(parse_request(words), source, context.get(), device);
    } catch (const Failure& failure) {
      status = failure.status;
      text = failure.what();
    } catch (const std::exception& e) {
      status = builder::kBadRequest;
      text = e.what();
    }
    if (!reply(status, text)) return 0;
  }
}
