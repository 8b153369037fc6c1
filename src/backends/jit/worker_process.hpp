#pragma once
// The parent's side of one attune-jit-worker process: starting it, sending it commands with a
// deadline each, and turning whatever ends a command (an answer, a crash, silence past the
// deadline) into a RunOutcome. A process that failed once is dead for good: it was killed and
// reaped, and the backend starts a fresh one for the next configuration.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "attune/harness.hpp"
#include "core/subprocess.hpp"

namespace attune::jit::detail {

using attune::detail::UniqueFd;

/// One argument as the worker receives it.
struct WorkerArgument {
  bool is_buffer = false;
  bool is_output = false;
  std::span<const std::byte> initial;
  /// Outputs: the contents for the verification run (poisoned); same size as `initial`.
  std::span<const std::byte> check;
};

class WorkerProcess {
 public:
  /// Starts `program` with the address-space limit `memory_limit` (0: none) and waits for it to
  /// announce itself. Throws Error(NotFound) when it cannot be run and Error(Unsupported) when it
  /// does not start or speaks another protocol version (a worker from another build).
  WorkerProcess(const std::filesystem::path& program, std::uint64_t memory_limit);
  /// Closes the socket (the worker exits on its own), then kills it if it lingers, and reaps it.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  /// Replaces the worker's arguments.
  RunOutcome setup(std::span<const WorkerArgument> arguments);
  /// Makes `library`'s `symbol` the kernel that check() and run() call.
  RunOutcome load(const std::filesystem::path& library, const std::string& symbol,
                  double deadline_s);
  /// One call on the check contents; fills `outputs` (one per output argument, in order).
  /// `what` names the run in messages ("the verification run"); `limit` says in a timeout's
  /// message where the deadline comes from.
  RunOutcome check(double deadline_s, const std::string& what, const std::string& limit,
                   std::vector<std::vector<std::byte>>& outputs);
  /// `calls` calls back to back; seconds is the worker's own measurement of the batch.
  RunOutcome run(std::size_t calls, double deadline_s, const std::string& what,
                 const std::string& limit);

  /// True once a command failed: the process is gone.
  bool dead() const noexcept { return pid_ <= 0; }
  pid_t pid() const noexcept { return pid_; }

 private:
  struct Answer {
    std::uint32_t type = 0;
    std::vector<std::byte> body;
  };
  /// Starts a command that must be answered within `deadline_s` (explained by `limit`).
  void begin(double deadline_s, std::string limit = {});
  bool send(std::uint32_t type, std::span<const std::byte> body);
  // Moves n bytes over the channel before the deadline (out: to the worker, else from it).
  bool transfer(char* data, std::size_t n, bool out);
  bool transfer_out(const void* data, std::size_t n);
  bool transfer_in(void* data, std::size_t n);
  /// Reads the next answer. On a crash, silence past the deadline or a Failed answer, returns
  /// false with `failure` describing it, and the process is gone.
  bool receive(const std::string& what, Answer& answer, RunOutcome& failure);
  /// The process died or stopped answering: kills and reaps it, and says why.
  RunOutcome lost(const std::string& what);
  std::string output_tail() const;

  pid_t pid_ = -1;
  UniqueFd channel_;
  UniqueFd output_;  ///< the worker's stdout and stderr, for the message of a crash
  std::uint64_t memory_limit_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  double deadline_s_ = 0.0;
  std::string limit_;
  bool timed_out_ = false;
  std::size_t output_mark_ = 0;  ///< output_'s size when the current command began
};

}  // namespace attune::jit::detail
