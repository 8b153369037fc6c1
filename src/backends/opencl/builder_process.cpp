// Runs attune-opencl-builder for the OpenCL backend: one long-lived process per build thread, a
// deadline on every reply, and a clear account of a process that crashed or hung.

#include "builder_process.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "attune/error.hpp"
#include "builder_protocol.hpp"

namespace attune::opencl::detail {
namespace {

constexpr double kStartDeadlineS = 30.0;
constexpr double kDyingGraceS = 5.0;
constexpr std::size_t kTailBytes = 2048;

}  // namespace

BuilderProcess::BuilderProcess(const std::filesystem::path& program,
                               const std::string& device_place, int source_fd)
    : program_(program) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw Error(ErrorCode::Io, std::string("cannot create a socket pair for the OpenCL builder: ") +
                                   std::strerror(errno));
  }
  channel_ = attune::detail::UniqueFd(ends[0]);
  attune::detail::UniqueFd child_end(ends[1]);
  output_ = attune::detail::anonymous_file();
  attune::detail::SpawnRequest request;
  request.argv = {program.string(), "--protocol", std::to_string(builder::kProtocolVersion),
                  "--device", device_place};
  request.descriptors = {{child_end.get(), builder::kChannelFd},
                         {source_fd, builder::kSourceFd},
                         {output_.get(), 1},
                         {output_.get(), 2}};
  pid_ = attune::detail::spawn(request);
  child_end.reset();

  std::vector<std::string> hello;
  bool timed_out = false;
  const auto deadline = attune::detail::deadline_after(kStartDeadlineS);
  const bool answered = builder::receive_strings(
      [&](void* data, std::size_t n) {
        return attune::detail::transfer_before(channel_.get(), data, n, false, deadline, timed_out);
      },
      hello);
  if (!answered || hello.size() != 2 || hello[0] != "ready" ||
      hello[1] != std::to_string(builder::kProtocolVersion)) {
    const std::string said = answered && hello.size() == 2 ? hello[1] : std::string();
    const std::string ended = lost(timed_out);
    throw Error(ErrorCode::Unsupported,
                "the OpenCL builder " + program.string() + " did not start" +
                    (said.empty() ? "" : ": " + said) + (ended.empty() ? "" : " (" + ended + ")") +
                    "; use the attune-opencl-builder built with this attune, or build in "
                    "process (BuildPlace::InProcess, or POCL_KERNEL_CACHE=0 on the command line)");
  }
}

BuilderProcess::~BuilderProcess() {
  if (pid_ <= 0) return;
  channel_.reset();
  attune::detail::reap(pid_, 2.0, true);
}

BuilderProcess::Reply BuilderProcess::build(const std::vector<std::string>& request,
                                            double deadline_s) {
  Reply reply;
  if (dead()) {
    reply.status = -1;
    reply.text = "the builder is gone";
    return reply;
  }
  const auto deadline = attune::detail::deadline_after(deadline_s);
  std::vector<std::string> answer;
  bool timed_out = false;
  const bool answered = builder::send_strings(channel_.get(), request) &&
                        builder::receive_strings(
                            [&](void* data, std::size_t n) {
                              return attune::detail::transfer_before(channel_.get(), data, n, false,
                                                                     deadline, timed_out);
                            },
                            answer) &&
                        answer.size() == 2;
  if (answered) {
    try {
      reply.status = std::stoi(answer[0]);
      reply.text = answer[1];
      return reply;
    } catch (const std::exception&) {
    }
  }
  reply.status = -1;
  reply.timed_out = timed_out;
  reply.text = lost(timed_out);
  return reply;
}

std::string BuilderProcess::lost(bool timed_out) {
  if (pid_ <= 0) return {};
  // A process that stopped answering is killed. One whose channel closed is dying: its socket
  // closes before it can be reaped, so it gets a moment to end before it is waited for.
  std::string how = "killed";
  if (timed_out) {
    attune::detail::kill_and_reap(pid_, true);
  } else {
    how = attune::detail::describe_wait_status(attune::detail::reap(pid_, kDyingGraceS, true));
  }
  pid_ = -1;
  channel_.reset();
  const std::string tail = output_tail();
  return how + (tail.empty() ? "" : "; its last output:\n" + tail);
}

std::string BuilderProcess::output_tail() const {
  struct stat info {};
  if (!output_ || ::fstat(output_.get(), &info) != 0 || info.st_size <= 0) return {};
  const auto size = static_cast<std::size_t>(info.st_size);
  const std::size_t start = size > kTailBytes ? size - kTailBytes : 0;
  std::string text(size - start, '\0');
  const ssize_t n = ::pread(output_.get(), text.data(), text.size(), static_cast<off_t>(start));
  text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace attune::opencl::detail
