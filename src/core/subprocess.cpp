// Child processes for the backends: posix_spawn with a clean signal state and only the
// descriptors asked for, reaping with a grace period, and running a program with its output
// captured under a time limit (the JIT's compiler, the OpenCL builder).

#include "core/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "attune/error.hpp"

extern char** environ;

namespace attune::detail {
namespace {

// Source descriptors are first copied here, above any target (0..9), so that placing one child
// descriptor never overwrites the source of another.
constexpr int kFirstStagingFd = 100;
constexpr std::size_t kMaxCapturedBytes = std::size_t{1} << 20;

std::string errno_text(int error) { return std::strerror(error); }

class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() { posix_spawnattr_init(&attributes_); }
  ~SpawnAttributes() { posix_spawnattr_destroy(&attributes_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attributes_; }

 private:
  posix_spawnattr_t attributes_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

pid_t spawn(const SpawnRequest& request) {
  if (request.argv.empty()) throw Error(ErrorCode::Internal, "spawn: empty argument list");
  std::vector<UniqueFd> staged;
  SpawnActions actions;
  int highest_target = 2;
  for (const auto& [from, to] : request.descriptors) {
    const int copy = ::fcntl(from, F_DUPFD_CLOEXEC, kFirstStagingFd);
    if (copy < 0) throw Error(ErrorCode::Io, "cannot duplicate a descriptor: " + errno_text(errno));
    staged.emplace_back(copy);
    posix_spawn_file_actions_adddup2(actions.get(), copy, to);
    highest_target = std::max(highest_target, to);
  }
  if (request.null_stdin) {
    posix_spawn_file_actions_addopen(actions.get(), 0, "/dev/null", O_RDONLY, 0);
  }
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
  // Descriptors other code in the process opened without O_CLOEXEC (a database, a log file)
  // stay out of the child too.
  posix_spawn_file_actions_addclosefrom_np(actions.get(), highest_target + 1);
#endif

  SpawnAttributes attributes;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(attributes.get(), &none);
  posix_spawnattr_setsigdefault(attributes.get(), &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  if (request.own_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(attributes.get(), 0);
  }
  posix_spawnattr_setflags(attributes.get(), flags);

  std::vector<char*> argv;
  for (const std::string& arg : request.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const bool search_path = request.argv[0].find('/') == std::string::npos;
  const int error =
      search_path
          ? ::posix_spawnp(&pid, argv[0], actions.get(), attributes.get(), argv.data(), environ)
          : ::posix_spawn(&pid, argv[0], actions.get(), attributes.get(), argv.data(), environ);
  if (error != 0) {
    const ErrorCode code = error == ENOENT || error == EACCES || error == ENOEXEC
                               ? ErrorCode::NotFound
                               : ErrorCode::Io;
    throw Error(code, "cannot run `" + request.argv[0] + "`: " + errno_text(error) +
                          (search_path ? " (looked up on PATH)" : ""));
  }
  return pid;
}

void kill_and_reap(pid_t pid, bool process_group) {
  if (pid <= 0) return;
  ::kill(process_group ? -pid : pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

int reap(pid_t pid, double grace_s, bool process_group) {
  const auto start = std::chrono::steady_clock::now();
  auto pause = std::chrono::microseconds(200);
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0 && errno != EINTR) return 0;
    if (seconds_since(start) >= grace_s) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  ::kill(process_group ? -pid : pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string describe_signal(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  const char* description = ::sigdescr_np(signal);
  std::string out = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
  if (description) {
    std::string words = description;
    if (!words.empty()) words[0] = static_cast<char>(std::tolower(words[0]));
    out += " (" + words + ")";
  }
  return out;
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) return "killed by " + describe_signal(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended with wait status " + std::to_string(status);
}

CapturedRun run_captured(const std::vector<std::string>& argv, double timeout_s,
                         const std::vector<std::pair<int, int>>& descriptors) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    throw Error(ErrorCode::Io, "cannot create a pipe: " + errno_text(errno));
  }
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  SpawnRequest request;
  request.argv = argv;
  request.descriptors = {{write_end.get(), 1}, {write_end.get(), 2}};
  request.descriptors.insert(request.descriptors.end(), descriptors.begin(), descriptors.end());
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = spawn(request);
  write_end.reset();

  CapturedRun out;
  char chunk[16384];
  for (;;) {
    const double left = timeout_s - seconds_since(start);
    if (left <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min(left * 1000.0, 1e6)) + 1);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    const ssize_t n = ::read(read_end.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.output.size() < kMaxCapturedBytes) {
      out.output.append(chunk, static_cast<std::size_t>(n));
    }
  }
  if (out.timed_out) {
    kill_and_reap(pid, true);
    out.wait_status = 0;
  } else {
    out.wait_status = reap(pid, 10.0, true);
  }
  out.seconds = seconds_since(start);
  return out;
}

namespace {

bool executable(const std::filesystem::path& file) {
  std::error_code error;
  return std::filesystem::is_regular_file(file, error) && ::access(file.c_str(), X_OK) == 0;
}

}  // namespace

std::filesystem::path find_companion(const CompanionProgram& program, std::string* looked) {
  if (!program.given.empty()) {
    if (!executable(program.given)) {
      throw Error(ErrorCode::NotFound, "the " + program.name + " " + program.given.string() + " (" +
                                           program.given_by + ") is not an executable file");
    }
    return program.given;
  }
  if (const char* env = std::getenv(program.variable.c_str()); env && *env) {
    if (!executable(env)) {
      throw Error(ErrorCode::NotFound, "the " + program.name + " " + env + " named by " +
                                           program.variable + " is not an executable file");
    }
    return env;
  }
  std::vector<std::filesystem::path> candidates;
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) candidates.push_back(self.parent_path() / program.name);
  candidates.insert(candidates.end(), program.places.begin(), program.places.end());
  std::string where;
  for (const auto& candidate : candidates) {
    if (executable(candidate)) return candidate;
    where += (where.empty() ? "" : ", ") + candidate.string();
  }
  if (looked != nullptr) *looked = where;
  return {};
}

UniqueFd anonymous_file() {
  std::error_code ignored;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ignored);
  if (dir.empty()) dir = "/tmp";
#ifdef O_TMPFILE
  const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
#endif
  std::string name = (dir / "attune-XXXXXX").string();
  const int named = ::mkostemp(name.data(), O_CLOEXEC);
  if (named < 0) {
    throw Error(ErrorCode::Io,
                "cannot create a temporary file in " + dir.string() + ": " + errno_text(errno));
  }
  ::unlink(name.c_str());
  return UniqueFd(named);
}

}  // namespace attune::detail
