// The parent's side of the worker protocol (protocol.hpp). Every transfer has a deadline: a
// worker that does not answer in time is killed with SIGKILL and reaped; one that dies is reaped
// and its end (signal or exit status, and the last lines it printed) becomes the failure's
// message.

#include "worker_process.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "attune/error.hpp"
#include "protocol.hpp"

namespace attune::jit::detail {

using attune::detail::anonymous_file;
using attune::detail::describe_signal;
using attune::detail::describe_wait_status;
using attune::detail::kill_and_reap;
using attune::detail::reap;
using attune::detail::spawn;
using attune::detail::SpawnRequest;

namespace {

namespace wire = protocol;

constexpr double kStartDeadlineS = 30.0;
// The worker's own watchdog fires this long after the parent's deadline, so the parent, which
// can say what happened, is normally first.
constexpr double kWatchdogExtraS = 5.0;
constexpr std::size_t kTailBytes = 4096;
constexpr std::size_t kTailChars = 600;
constexpr std::size_t kTailLines = 6;

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << seconds;
  return out.str();
}

template <typename T>
std::span<const std::byte> as_bytes_of(const T& value) {
  return {reinterpret_cast<const std::byte*>(&value), sizeof(T)};
}

}  // namespace

WorkerProcess::WorkerProcess(const std::filesystem::path& program, std::uint64_t memory_limit)
    : memory_limit_(memory_limit) {
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw Error(ErrorCode::Io, std::string("cannot create a socket pair for the JIT worker: ") +
                                   std::strerror(errno));
  }
  channel_ = UniqueFd(ends[0]);
  UniqueFd child_end(ends[1]);
  output_ = anonymous_file();

  SpawnRequest request;
  request.argv = {program.string()};
  if (memory_limit > 0) {
    request.argv.emplace_back("--memory-limit");
    request.argv.push_back(std::to_string(memory_limit));
  }
  request.descriptors = {
      {child_end.get(), wire::kChannelFd}, {output_.get(), 1}, {output_.get(), 2}};
  pid_ = spawn(request);
  child_end.reset();

  begin(kStartDeadlineS);
  Answer answer;
  RunOutcome failure;
  if (!receive("its start", answer, failure)) {
    throw Error(ErrorCode::Unsupported,
                "the JIT worker " + program.string() + " did not start: " + failure.message);
  }
  std::uint32_t version = 0;
  if (answer.type == static_cast<std::uint32_t>(wire::Reply::Ready) &&
      answer.body.size() >= sizeof version) {
    std::memcpy(&version, answer.body.data(), sizeof version);
  }
  if (version != wire::kVersion) {
    kill_and_reap(pid_, true);
    pid_ = -1;
    throw Error(ErrorCode::Unsupported, "the JIT worker " + program.string() +
                                            " speaks protocol version " + std::to_string(version) +
                                            ", this attune " + std::to_string(wire::kVersion) +
                                            "; use the attune-jit-worker built with this attune");
  }
}

WorkerProcess::~WorkerProcess() {
  if (pid_ <= 0) return;
  channel_.reset();  // the worker sees the end of its input and exits
  reap(pid_, 1.0, true);
}

void WorkerProcess::begin(double deadline_s, std::string limit) {
  deadline_s_ = deadline_s;
  limit_ = std::move(limit);
  deadline_ = attune::detail::deadline_after(deadline_s);
  timed_out_ = false;
  struct stat info {};
  output_mark_ = ::fstat(output_.get(), &info) == 0 ? static_cast<std::size_t>(info.st_size) : 0;
}

bool WorkerProcess::transfer(char* data, std::size_t n, bool out) {
  return attune::detail::transfer_before(channel_.get(), data, n, out, deadline_, timed_out_);
}

bool WorkerProcess::transfer_out(const void* data, std::size_t n) {
  // send() only reads the bytes; one loop serves both directions.
  return transfer(const_cast<char*>(static_cast<const char*>(data)), n, true);
}

bool WorkerProcess::transfer_in(void* data, std::size_t n) {
  return transfer(static_cast<char*>(data), n, false);
}

bool WorkerProcess::send(std::uint32_t type, std::span<const std::byte> body) {
  wire::Frame frame;
  frame.type = type;
  frame.size = body.size();
  return transfer_out(&frame, sizeof frame) && transfer_out(body.data(), body.size());
}

bool WorkerProcess::receive(const std::string& what, Answer& answer, RunOutcome& failure) {
  wire::Frame frame;
  if (!transfer_in(&frame, sizeof frame) || frame.size > wire::kMaxBodyBytes) {
    failure = lost(what);
    return false;
  }
  answer.type = frame.type;
  answer.body.resize(frame.size);
  if (!transfer_in(answer.body.data(), answer.body.size())) {
    failure = lost(what);
    return false;
  }
  if (frame.type != static_cast<std::uint32_t>(wire::Reply::Failed)) return true;

  // The worker is alive but a failing kernel may have left it in any state (leaked memory, a
  // half-initialized library): it is replaced.
  kill_and_reap(pid_, true);
  pid_ = -1;
  failure = RunOutcome{Status::RuntimeFailed, 0.0, {}};
  std::uint32_t kind = 0;
  std::string message;
  try {
    wire::BodyReader in(answer.body);
    kind = in.get<std::uint32_t>();
    message = in.get_string();
  } catch (const std::exception&) {
    message = "malformed failure report";
  }
  switch (static_cast<wire::FailureKind>(kind)) {
    case wire::FailureKind::OutOfMemory:
      failure.message = "out of memory during " + what + ": " + message;
      break;
    case wire::FailureKind::Exception:
      failure.message = "the kernel threw an exception during " + what + ": " + message;
      break;
    case wire::FailureKind::Load:
      failure.message = "cannot load the compiled kernel: " + message;
      break;
    default: failure.message = "the JIT worker refused a command: " + message; break;
  }
  return false;
}

RunOutcome WorkerProcess::lost(const std::string& what) {
  RunOutcome out;
  out.status = Status::RuntimeFailed;
  if (timed_out_) {
    kill_and_reap(pid_, true);
    pid_ = -1;
    out.status = Status::Timeout;
    out.message = "the kernel did not finish " + what + " within " + seconds_text(deadline_s_) +
                  " s" + (limit_.empty() ? "" : " (" + limit_ + ")") +
                  "; its worker process was killed";
    return out;
  }
  // The socket closed: the worker is dying or dead. Give it a moment to finish, then collect it.
  const int status = reap(pid_, 2.0, true);
  pid_ = -1;
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const std::string tail = output_tail();
    if (signal == SIGALRM) {
      out.status = Status::Timeout;
      out.message = "the kernel did not finish " + what + " within " +
                    seconds_text(deadline_s_ + kWatchdogExtraS) +
                    " s; the worker's watchdog ended it";
    } else if (signal == SIGKILL) {
      out.message = "the kernel's worker process was killed by SIGKILL during " + what +
                    "; the system may have run out of memory (set a memory limit to have such "
                    "a kernel fail alone)";
    } else if (signal == SIGABRT && tail.find("std::bad_alloc") != std::string::npos) {
      out.message = "out of memory during " + what +
                    ": the kernel crashed: " + describe_signal(signal) +
                    " after an uncaught std::bad_alloc";
    } else {
      out.message = "the kernel crashed: " + describe_signal(signal) + " during " + what;
    }
    if (!tail.empty()) out.message += "; its output ended with: " + tail;
    return out;
  }
  out.message =
      "the kernel ended its worker process during " + what + ": " + describe_wait_status(status);
  if (const std::string tail = output_tail(); !tail.empty()) {
    out.message += "; its output ended with: " + tail;
  }
  return out;
}

std::string WorkerProcess::output_tail() const {
  struct stat info {};
  if (::fstat(output_.get(), &info) != 0) return {};
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size <= output_mark_) return {};
  const std::size_t from = std::max(output_mark_, size > kTailBytes ? size - kTailBytes : 0);
  std::string text(size - from, '\0');
  const ssize_t n = ::pread(output_.get(), text.data(), text.size(), static_cast<off_t>(from));
  if (n <= 0) return {};
  text.resize(static_cast<std::size_t>(n));
  for (char& c : text) {
    if (c != '\n' && (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)) c = ' ';
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::size_t start = text.size();
  for (std::size_t lines = 0; start > 0 && lines < kTailLines;) {
    --start;
    if (text[start] == '\n') ++lines;
  }
  if (start > 0 || text[start] == '\n') ++start;
  if (start > text.size()) start = text.size();
  text = text.substr(start);
  if (text.size() > kTailChars) text = "..." + text.substr(text.size() - kTailChars);
  return text;
}

RunOutcome WorkerProcess::setup(std::span<const WorkerArgument> arguments) {
  std::size_t bytes = 0;
  wire::BodyWriter body;
  body.put<std::uint64_t>(arguments.size());
  for (const WorkerArgument& a : arguments) {
    wire::ArgumentHeader header;
    header.is_buffer = a.is_buffer ? 1 : 0;
    header.is_output = a.is_output ? 1 : 0;
    header.bytes = a.initial.size();
    body.put(header);
    bytes += a.initial.size() * (a.is_output ? 2 : 1);
  }
  // Generous: copying even a few GiB through a socket takes seconds, not minutes.
  begin(30.0 + static_cast<double>(bytes) / 50e6);
  const std::string what = "the setup of the kernel's arguments";
  bool sent = send(static_cast<std::uint32_t>(wire::Command::Setup), body.bytes());
  for (std::size_t i = 0; sent && i < arguments.size(); ++i) {
    const WorkerArgument& a = arguments[i];
    sent = transfer_out(a.initial.data(), a.initial.size());
    if (sent && a.is_output) sent = transfer_out(a.check.data(), a.check.size());
  }
  Answer answer;
  RunOutcome failure;
  // A worker that refused the arguments may have answered before reading them all: its answer
  // (or its end) says why the sending stopped.
  if (!sent && timed_out_) return lost(what);
  if (!receive(what, answer, failure)) return failure;
  return {};
}

RunOutcome WorkerProcess::load(const std::filesystem::path& library, const std::string& symbol,
                               double deadline_s) {
  begin(deadline_s);
  wire::BodyWriter body;
  body.put_string(library.string());
  body.put_string(symbol);
  body.put<double>(deadline_s + kWatchdogExtraS);
  const std::string what = "the loading of the compiled kernel (its static initializers)";
  Answer answer;
  RunOutcome failure;
  if (!send(static_cast<std::uint32_t>(wire::Command::Load), body.bytes())) return lost(what);
  if (!receive(what, answer, failure)) return failure;
  return {};
}

RunOutcome WorkerProcess::check(double deadline_s, const std::string& what,
                                const std::string& limit,
                                std::vector<std::vector<std::byte>>& outputs) {
  begin(deadline_s, limit);
  const double watchdog_s = deadline_s + kWatchdogExtraS;
  Answer answer;
  RunOutcome failure;
  if (!send(static_cast<std::uint32_t>(wire::Command::Check), as_bytes_of(watchdog_s))) {
    return lost(what);
  }
  if (!receive(what, answer, failure)) return failure;
  try {
    if (answer.type != static_cast<std::uint32_t>(wire::Reply::Outputs)) {
      throw std::runtime_error("not an Outputs answer");
    }
    wire::BodyReader in(answer.body);
    const auto count = in.get<std::uint64_t>();
    outputs.assign(count, {});
    for (auto& output : outputs) output.resize(in.get<std::uint64_t>());
  } catch (const std::exception&) {
    kill_and_reap(pid_, true);
    pid_ = -1;
    return RunOutcome{Status::RuntimeFailed, 0.0, "the JIT worker sent a malformed answer"};
  }
  for (auto& output : outputs) {
    if (!transfer_in(output.data(), output.size())) return lost(what);
  }
  return {};
}

RunOutcome WorkerProcess::run(std::size_t calls, double deadline_s, const std::string& what,
                              const std::string& limit) {
  begin(deadline_s, limit);
  wire::BodyWriter body;
  body.put<std::uint64_t>(calls);
  body.put<double>(deadline_s + kWatchdogExtraS);
  Answer answer;
  RunOutcome failure;
  if (!send(static_cast<std::uint32_t>(wire::Command::Run), body.bytes())) return lost(what);
  if (!receive(what, answer, failure)) return failure;
  RunOutcome out;
  if (answer.type != static_cast<std::uint32_t>(wire::Reply::Timed) ||
      answer.body.size() != sizeof(double)) {
    kill_and_reap(pid_, true);
    pid_ = -1;
    return RunOutcome{Status::RuntimeFailed, 0.0, "the JIT worker sent a malformed answer"};
  }
  std::memcpy(&out.seconds, answer.body.data(), sizeof(double));
  return out;
}

}  // namespace attune::jit::detail
