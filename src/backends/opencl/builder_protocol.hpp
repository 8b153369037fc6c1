#pragma once
// What the OpenCL backend and attune-opencl-builder agree on (see builder_main.cpp): the protocol
// version, the exit statuses of a build, how arguments are written in a request, and the framing
// of requests and replies. Both ends are built from the same sources and run on the same machine,
// so lengths travel in native byte order.
//
// A request is a list of strings, the options of one build:
//   --options TEXT --entry NAME [--launch DIMS:G0,G1,G2[:L0,L1,L2]]
//   [--argument scalar:HEX | buffer:BYTES:PATH | local:BYTES]...
// A reply is two strings: the status (0 or one below, in decimal) and what the builder has to say.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/socket_io.hpp"

namespace attune::opencl::builder {

/// Bumped whenever a request or a reply changes: a builder refuses to start with another.
inline constexpr std::uint32_t kProtocolVersion = 2;
/// The builder's end of the channel.
inline constexpr int kChannelFd = 3;
/// The kernel source, readable from the start.
inline constexpr int kSourceFd = 4;
/// Longer strings mean a corrupt stream (a request holds options and paths, a reply a build log).
inline constexpr std::uint32_t kMaxStringBytes = 16u << 20;
inline constexpr std::uint32_t kMaxStrings = 4096;

/// Build statuses besides 0 (built, and launched once when asked).
inline constexpr int kBuildFailed = 10;   ///< the error code, a line break, the build log
inline constexpr int kNoKernel = 11;      ///< why clCreateKernel failed
inline constexpr int kLaunchFailed = 12;  ///< why the first launch failed
inline constexpr int kBadRequest = 13;    ///< what was wrong with the request

enum class ArgumentKind { Scalar, Buffer, Local };

/// "scalar:0a000000": a scalar's bytes in hex.
inline std::string scalar_argument(const std::byte* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "scalar:";
  for (std::size_t i = 0; i < size; ++i) {
    const auto v = static_cast<unsigned>(data[i]);
    out += kDigits[v >> 4];
    out += kDigits[v & 15];
  }
  return out;
}

/// "buffer:BYTES:PATH": initial contents in the file PATH.
inline std::string buffer_argument(std::uint64_t bytes, const std::string& path) {
  return "buffer:" + std::to_string(bytes) + ":" + path;
}

/// "local:BYTES": a __local argument's size per work-group.
inline std::string local_argument(std::uint64_t bytes) { return "local:" + std::to_string(bytes); }

using attune::detail::send_all;

/// Sends a count, then each string as a length and its bytes.
inline bool send_strings(int fd, const std::vector<std::string>& strings) {
  const auto count = static_cast<std::uint32_t>(strings.size());
  if (!send_all(fd, &count, sizeof count)) return false;
  for (const std::string& s : strings) {
    const auto size = static_cast<std::uint32_t>(s.size());
    if (!send_all(fd, &size, sizeof size) || !send_all(fd, s.data(), s.size())) return false;
  }
  return true;
}

/// Reads what send_strings() sent with `read_exactly(void*, size_t) -> bool` (blocking, or with
/// the caller's deadline); false at the end of the stream or on a corrupt one.
template <typename ReadExactly>
bool receive_strings(ReadExactly&& read_exactly, std::vector<std::string>& strings) {
  std::uint32_t count = 0;
  if (!read_exactly(&count, sizeof count) || count > kMaxStrings) return false;
  strings.assign(count, std::string());
  for (std::string& s : strings) {
    std::uint32_t size = 0;
    if (!read_exactly(&size, sizeof size) || size > kMaxStringBytes) return false;
    s.resize(size);
    if (size > 0 && !read_exactly(s.data(), size)) return false;
  }
  return true;
}

}  // namespace attune::opencl::builder
