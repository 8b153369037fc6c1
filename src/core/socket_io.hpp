#pragma once
// Whole-message reads and writes on a stream socket, for the channels between a backend and its
// helper process (attune-jit-worker, attune-opencl-builder). Header-only and free of attune's
// library, so a helper that links nothing else can use it.

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>

namespace attune::detail {

/// Blocking write of all `n` bytes; false when the peer is gone. MSG_NOSIGNAL: a dead peer must
/// not raise SIGPIPE in the writer.
inline bool send_all(int fd, const void* data, std::size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

/// Blocking read of exactly `n` bytes; false at end of stream or on error.
inline bool receive_all(int fd, void* data, std::size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t k = ::recv(fd, p, n, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

}  // namespace attune::detail
