#pragma once
// The wire format between the JIT backend and its worker process (attune-jit-worker): framed
// binary messages over one Unix stream socket, both ends on the same machine and built from the
// same sources, so values travel in native byte order. Shared by both sides and free of attune's
// library so the worker stays a small program that links nothing but libc and libdl.
//
// Every message is a Frame followed by `size` bytes of body. Buffer contents travel after the body
// as raw bytes, so neither side copies a large buffer into a message first:
//
//   parent -> worker                      worker -> parent
//   Setup   body: arguments, then bytes   Ok      body: nothing
//   Load    body: .so path, symbol        Ok      body: nothing
//   Check   body: watchdog seconds        Outputs body: output count, sizes; then their bytes
//   Run     body: calls, watchdog s       Timed   body: elapsed seconds of the whole batch
//                                         Failed  body: FailureKind, message (any command)
//   (on start)                            Ready   body: protocol version, pid

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/socket_io.hpp"

namespace attune::jit::protocol {

/// Bumped whenever a message changes, so a worker from another build is refused at start.
inline constexpr std::uint32_t kVersion = 1;
/// The worker finds its end of the socket at this descriptor.
inline constexpr int kChannelFd = 3;
/// Bodies are small (buffer contents travel outside them); a larger size is a corrupt stream.
inline constexpr std::uint64_t kMaxBodyBytes = 1u << 20;

enum class Command : std::uint32_t { Setup = 1, Load = 2, Check = 3, Run = 4 };
enum class Reply : std::uint32_t {
  Ready = 100,
  Ok = 101,
  Outputs = 102,
  Timed = 103,
  Failed = 104
};

/// Why the worker could not do what it was asked; it stays alive and answers the next command,
/// though the parent replaces it because a failing kernel may have left it in any state.
enum class FailureKind : std::uint32_t {
  OutOfMemory = 1,  ///< std::bad_alloc from the kernel or from allocating the arguments
  Exception = 2,    ///< the kernel threw another exception
  Load = 3,         ///< dlopen or dlsym failed
  BadRequest = 4,   ///< a malformed message or a command out of order
};

struct Frame {
  std::uint32_t type = 0;
  std::uint32_t reserved = 0;
  std::uint64_t size = 0;
};

/// Per argument in a Setup body. Scalars carry their bytes in the stream like buffers do.
struct ArgumentHeader {
  std::uint8_t is_buffer = 0;
  std::uint8_t is_output = 0;  ///< then the check contents (poisoned) follow the initial ones
  std::uint8_t reserved[6] = {};
  std::uint64_t bytes = 0;  ///< of the initial contents (and of the check contents)
};

/// Builds a message body from trivially copyable values and strings.
class BodyWriter {
 public:
  template <typename T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_string(std::string_view text) {
    put<std::uint64_t>(text.size());
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    bytes_.insert(bytes_.end(), p, p + text.size());
  }
  const std::vector<std::byte>& bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

/// Reads a body written by BodyWriter; throws std::runtime_error when it runs short.
class BodyReader {
 public:
  explicit BodyReader(const std::vector<std::byte>& bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_string() {
    const auto n = get<std::uint64_t>();
    const std::byte* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }

 private:
  const std::byte* take(std::uint64_t n) {
    if (n > bytes_.size() - offset_) throw std::runtime_error("message body too short");
    const std::byte* p = bytes_.data() + offset_;
    offset_ += n;
    return p;
  }
  const std::vector<std::byte>& bytes_;
  std::size_t offset_ = 0;
};

using attune::detail::receive_all;
using attune::detail::send_all;

}  // namespace attune::jit::protocol
