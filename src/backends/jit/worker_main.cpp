// attune-jit-worker: the process in which the C++ JIT backend runs user kernels, so that a kernel
// that crashes, hangs or exhausts memory takes down this process and not the tuner. It holds the
// kernel's arguments, loads compiled configurations with dlopen and runs them on command (see
// protocol.hpp). It knows nothing of specs or verification: it runs what it is told and reports
// what happened; the parent decides what that means.
//
// Usage: attune-jit-worker [--memory-limit BYTES], with the parent's socket at descriptor 3.

#include <cxxabi.h>
#include <dlfcn.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

#include "protocol.hpp"

namespace attune::jit {
namespace {

namespace wire = protocol;

using Entry = void (*)(void* const*);

struct AlignedFree {
  void operator()(std::byte* p) const noexcept { std::free(p); }
};
using AlignedBytes = std::unique_ptr<std::byte[], AlignedFree>;

// 64-byte alignment, as a kernel author vectorizing over the buffer would expect from a
// malloc-ed array on this machine (and at least 16, which malloc gives).
AlignedBytes allocate(std::size_t bytes) {
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + 63) / 64 * 64;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, rounded));
  if (!p) throw std::bad_alloc();
  return AlignedBytes(p);
}

// One argument: `working` is what the kernel sees; `initial` restores it for the timing runs and
// `check` (outputs only: poisoned contents) for the verification run.
struct Argument {
  bool is_buffer = false;
  bool is_output = false;
  std::size_t bytes = 0;
  AlignedBytes initial, working, check;
};

class Worker {
 public:
  explicit Worker(std::uint64_t memory_limit) : memory_limit_(memory_limit) {}

  // Serves commands until the parent closes the socket. Returns the exit status.
  int serve() {
    wire::BodyWriter ready;
    ready.put<std::uint32_t>(wire::kVersion);
    ready.put<std::int64_t>(::getpid());
    if (!reply(wire::Reply::Ready, ready)) return 1;
    for (;;) {
      wire::Frame frame;
      if (!wire::receive_all(fd_, &frame, sizeof frame)) return 0;  // the parent is done
      if (frame.size > wire::kMaxBodyBytes) return 2;
      std::vector<std::byte> body(frame.size);
      if (!wire::receive_all(fd_, body.data(), body.size())) return 0;
      if (!dispatch(static_cast<wire::Command>(frame.type), body)) return 3;
    }
  }

 private:
  // False when the stream can no longer be trusted (or the parent is gone).
  bool dispatch(wire::Command command, const std::vector<std::byte>& body) {
    try {
      wire::BodyReader in(body);
      switch (command) {
        case wire::Command::Setup: return setup(in);
        case wire::Command::Load: return load(in);
        case wire::Command::Check: return check(in);
        case wire::Command::Run: return run(in);
      }
      return fail(wire::FailureKind::BadRequest, "unknown command");
    } catch (const std::bad_alloc&) {
      return fail(wire::FailureKind::OutOfMemory, "out of memory in the worker");
    } catch (const std::exception& e) {
      return fail(wire::FailureKind::BadRequest, e.what());
    }
  }

  bool setup(wire::BodyReader& in) {
    arguments_.clear();
    pointers_.clear();
    const auto count = in.get<std::uint64_t>();
    std::vector<wire::ArgumentHeader> headers;
    for (std::uint64_t i = 0; i < count; ++i) headers.push_back(in.get<wire::ArgumentHeader>());
    // The contents follow the body; they must be read whatever happens, or the stream is lost.
    bool out_of_memory = false;
    std::size_t total = 0;
    for (const wire::ArgumentHeader& h : headers) {
      Argument a;
      a.is_buffer = h.is_buffer != 0;
      a.is_output = h.is_output != 0;
      a.bytes = h.bytes;
      total += a.bytes * (a.is_output ? 3 : 2);
      try {
        if (!out_of_memory) {
          a.initial = allocate(a.bytes);
          a.working = allocate(a.bytes);
          if (a.is_output) a.check = allocate(a.bytes);
        }
      } catch (const std::bad_alloc&) {
        out_of_memory = true;
        arguments_.clear();
      }
      if (out_of_memory) {
        if (!discard(a.bytes * (a.is_output ? 2 : 1))) return false;
        continue;
      }
      if (!wire::receive_all(fd_, a.initial.get(), a.bytes)) return false;
      if (a.is_output && !wire::receive_all(fd_, a.check.get(), a.bytes)) return false;
      std::memcpy(a.working.get(), a.initial.get(), a.bytes);
      arguments_.push_back(std::move(a));
    }
    if (out_of_memory) {
      return fail(wire::FailureKind::OutOfMemory,
                  "the kernel's arguments (" + std::to_string(total) +
                      " bytes with their copies) do not fit in the worker's memory");
    }
    for (Argument& a : arguments_) pointers_.push_back(a.working.get());
    return reply(wire::Reply::Ok, {});
  }

  bool discard(std::size_t bytes) {
    char sink[65536];
    while (bytes > 0) {
      const std::size_t n = std::min(bytes, sizeof sink);
      if (!wire::receive_all(fd_, sink, n)) return false;
      bytes -= n;
    }
    return true;
  }

  // Libraries stay loaded for the worker's lifetime: unloading one whose kernel started threads
  // (an OpenMP pool) or registered destructors could crash later, in another configuration's run.
  bool load(wire::BodyReader& in) {
    const std::string path = in.get_string();
    const std::string symbol = in.get_string();
    const std::string key = path + '\n' + symbol;
    if (auto it = entries_.find(key); it != entries_.end()) {
      entry_ = it->second;
      return reply(wire::Reply::Ok, {});
    }
    entry_ = nullptr;
    Watchdog watchdog(in.get<double>());
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) return fail(wire::FailureKind::Load, dl_error("dlopen"));
    ::dlerror();
    void* address = ::dlsym(handle, symbol.c_str());
    if (!address) return fail(wire::FailureKind::Load, dl_error("dlsym " + symbol));
    entry_ = reinterpret_cast<Entry>(address);
    entries_.emplace(key, entry_);
    return reply(wire::Reply::Ok, {});
  }

  static std::string dl_error(const std::string& what) {
    const char* error = ::dlerror();
    return what + ": " + (error ? error : "unknown error");
  }

  bool check(wire::BodyReader& in) {
    if (!ready_to_call()) return fail(wire::FailureKind::BadRequest, "no arguments or kernel");
    for (Argument& a : arguments_) {
      std::memcpy(a.working.get(), a.is_output ? a.check.get() : a.initial.get(), a.bytes);
    }
    if (!call(1, in.get<double>()).has_value()) return true;  // the failure is reported
    std::uint64_t outputs = 0;
    for (const Argument& a : arguments_) outputs += a.is_output ? 1 : 0;
    wire::BodyWriter body;
    body.put<std::uint64_t>(outputs);
    for (const Argument& a : arguments_) {
      if (a.is_output) body.put<std::uint64_t>(a.bytes);
    }
    if (!reply(wire::Reply::Outputs, body)) return false;
    for (const Argument& a : arguments_) {
      if (a.is_output && !wire::send_all(fd_, a.working.get(), a.bytes)) return false;
    }
    // The timing runs start from the same contents whether or not a check ran first.
    for (Argument& a : arguments_) std::memcpy(a.working.get(), a.initial.get(), a.bytes);
    return true;
  }

  bool run(wire::BodyReader& in) {
    if (!ready_to_call()) return fail(wire::FailureKind::BadRequest, "no arguments or kernel");
    const auto calls = in.get<std::uint64_t>();
    const auto seconds = call(calls, in.get<double>());
    if (!seconds) return true;
    wire::BodyWriter body;
    body.put<double>(*seconds);
    return reply(wire::Reply::Timed, body);
  }

  bool ready_to_call() const { return entry_ != nullptr && pointers_.size() == arguments_.size(); }

  // Runs the kernel `calls` times, timed with steady_clock around the whole batch. A failure is
  // reported to the parent here and gives nullopt.
  std::optional<double> call(std::uint64_t calls, double watchdog_s) {
    void* const* args = pointers_.data();
    Watchdog watchdog(watchdog_s);
    try {
      const auto start = std::chrono::steady_clock::now();
      for (std::uint64_t i = 0; i < calls; ++i) entry_(args);
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } catch (const std::bad_alloc&) {
      std::string message = "std::bad_alloc";
      if (memory_limit_ > 0) {
        message += " under the worker's memory limit of " + std::to_string(memory_limit_) +
                   " bytes (" + std::to_string(memory_limit_ >> 20) + " MiB)";
      }
      fail(wire::FailureKind::OutOfMemory, message);
    } catch (const std::exception& e) {
      fail(wire::FailureKind::Exception, current_exception_type() + ": " + e.what());
    } catch (...) {
      fail(wire::FailureKind::Exception, current_exception_type() + " (not a std::exception)");
    }
    return std::nullopt;
  }

  // The demangled type of the exception being handled, e.g. "std::runtime_error".
  static std::string current_exception_type() {
    const std::type_info* type = abi::__cxa_current_exception_type();
    if (!type) return "an exception";
    int status = 0;
    char* name = abi::__cxa_demangle(type->name(), nullptr, nullptr, &status);
    std::string out = status == 0 && name ? name : type->name();
    std::free(name);
    return out;
  }

  bool fail(wire::FailureKind kind, const std::string& message) {
    wire::BodyWriter body;
    body.put<std::uint32_t>(static_cast<std::uint32_t>(kind));
    body.put_string(message);
    return reply(wire::Reply::Failed, body);
  }

  bool reply(wire::Reply type, const wire::BodyWriter& body) {
    wire::Frame frame;
    frame.type = static_cast<std::uint32_t>(type);
    frame.size = body.bytes().size();
    return wire::send_all(fd_, &frame, sizeof frame) &&
           wire::send_all(fd_, body.bytes().data(), body.bytes().size());
  }

  // The parent kills a worker that runs past its deadline; this second line ends a worker whose
  // parent died meanwhile (killed -9 while a kernel hangs), which would otherwise spin forever.
  // SIGALRM's default action terminates the process.
  class Watchdog {
   public:
    explicit Watchdog(double seconds) {
      if (!(seconds > 0)) return;
      itimerval timer{};
      const double capped = std::min(seconds, 1e8);
      timer.it_value.tv_sec = static_cast<time_t>(capped);
      timer.it_value.tv_usec =
          static_cast<suseconds_t>((capped - static_cast<double>(timer.it_value.tv_sec)) * 1e6);
      if (timer.it_value.tv_sec == 0 && timer.it_value.tv_usec == 0) timer.it_value.tv_usec = 1;
      armed_ = ::setitimer(ITIMER_REAL, &timer, nullptr) == 0;
    }
    ~Watchdog() {
      if (!armed_) return;
      itimerval off{};
      ::setitimer(ITIMER_REAL, &off, nullptr);
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

   private:
    bool armed_ = false;
  };

  const int fd_ = wire::kChannelFd;
  std::uint64_t memory_limit_ = 0;
  std::vector<Argument> arguments_;
  std::vector<void*> pointers_;
  std::map<std::string, Entry> entries_;
  Entry entry_ = nullptr;
};

}  // namespace
}  // namespace attune::jit

int main(int argc, char** argv) {
  std::uint64_t memory_limit = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--memory-limit") == 0 && i + 1 < argc) {
      memory_limit = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr,
                   "attune-jit-worker: unknown argument %s\n"
                   "usage: attune-jit-worker [--memory-limit BYTES] (started by attune, with its "
                   "socket at descriptor 3)\n",
                   argv[i]);
      return 2;
    }
  }
  // A crashing kernel is expected here; a core file per crash would only fill the disk.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  if (memory_limit > 0) {
    const rlimit limit{memory_limit, memory_limit};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) {
      std::fprintf(stderr, "attune-jit-worker: cannot set the memory limit: %s\n",
                   std::strerror(errno));
      return 2;
    }
  }
  attune::jit::Worker worker(memory_limit);
  return worker.serve();
}
