#pragma once
// Starting and ending child processes: the JIT backend's compiler and worker, the OpenCL
// backend's builder. Children are started with posix_spawn, never fork alone, because the tuner
// has other threads (a fork would copy their locks in whatever state they are); every descriptor
// the parent opens is close-on-exec, so a compiler started from one thread never inherits the
// worker's socket from another.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace attune::detail {

struct SpawnRequest {
  /// argv[0] is looked up on PATH when it has no '/'.
  std::vector<std::string> argv;
  /// Descriptors to place in the child: {parent's fd, child's fd}. Others are not inherited.
  std::vector<std::pair<int, int>> descriptors;
  /// Standard input from /dev/null (else inherited).
  bool null_stdin = true;
  /// Its own process group, so the terminal's Ctrl-C reaches the tuner (which finishes the
  /// measurement in flight) and not the child, and so kill_group() ends its children too.
  bool own_process_group = true;
};

/// Starts a child with default signal dispositions and an empty signal mask whatever the
/// caller's. Throws Error(NotFound) when the program cannot be run, Error(Io) for other failures.
pid_t spawn(const SpawnRequest& request);

/// SIGKILL to the child (to its process group when it has one) and waits for it. Safe on a child
/// that already exited but has not been reaped.
void kill_and_reap(pid_t pid, bool process_group);

/// Waits up to `grace_s` for the child to exit on its own, then kills it; returns its wait status.
int reap(pid_t pid, double grace_s, bool process_group);

/// How a child ended, in words: "exited with status 1", "SIGSEGV (segmentation fault)".
std::string describe_wait_status(int status);
/// "SIGSEGV (segmentation fault)" for a signal number.
std::string describe_signal(int signal);

/// A program run to completion with its standard output and error captured together.
struct CapturedRun {
  int wait_status = 0;
  bool timed_out = false;
  std::string output;
  double seconds = 0.0;
};

/// Runs `argv` (argv[0] looked up on PATH) in its own process group with stdout and stderr
/// captured; kills the whole group after `timeout_s`. `descriptors` are placed in the child as
/// SpawnRequest::descriptors are (child descriptors 3 and up). Throws Error as spawn() does.
CapturedRun run_captured(const std::vector<std::string>& argv, double timeout_s,
                         const std::vector<std::pair<int, int>>& descriptors = {});

/// Where to look for a program attune starts beside itself (attune-jit-worker,
/// attune-opencl-builder).
struct CompanionProgram {
  std::string name;
  /// Set by the caller's options; `given_by` names that option in messages.
  std::filesystem::path given;
  std::string given_by;
  /// The environment variable that names it.
  std::string variable;
  /// Fixed places after the running executable's directory: the build tree's copy, the installed
  /// one.
  std::vector<std::filesystem::path> places;
};

/// The program: `given` if set, else $variable if set, else the first executable file among the
/// running executable's directory and `places`. Throws Error(NotFound) when `given` or the
/// variable names something that is not an executable file; returns an empty path when none of
/// the places has it, with `looked` (if not null) listing them.
std::filesystem::path find_companion(const CompanionProgram& program,
                                     std::string* looked = nullptr);

/// A descriptor closed on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

/// An anonymous temporary file (already unlinked), close-on-exec, opened for reading and writing.
UniqueFd anonymous_file();

}  // namespace attune::detail
