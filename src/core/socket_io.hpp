#pragma once
// Whole-message reads and writes on a stream socket, for the channels between a backend and its
// helper process (attune-jit-worker, attune-opencl-builder). Header-only and free of attune's
// library, so a helper that links nothing else can use it.

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
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

/// The moment `seconds` from now (capped at about 30 years, so that "no limit" stays finite).
inline std::chrono::steady_clock::time_point deadline_after(double seconds) {
  using Clock = std::chrono::steady_clock;
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            std::chrono::duration<double>(std::min(seconds, 1e9)));
}

/// Writes (`out`) or reads exactly `n` bytes before `deadline`: for the parent's side of a
/// channel, where the helper may hang or die. Waits in poll() and then calls send/recv without
/// blocking, so a peer that stops reading or writing cannot hold the caller past the deadline.
/// False at the end of the stream, on an error, or at the deadline (then `timed_out` is set).
inline bool transfer_before(int fd, void* data, std::size_t n, bool out,
                            std::chrono::steady_clock::time_point deadline, bool& timed_out) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      return false;
    }
    pollfd ready{fd, static_cast<short>(out ? POLLOUT : POLLIN), 0};
    const int r = ::poll(&ready, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    const ssize_t k =
        out ? ::send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) : ::recv(fd, p, n, MSG_DONTWAIT);
    if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

}  // namespace attune::detail
