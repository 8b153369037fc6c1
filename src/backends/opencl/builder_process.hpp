#pragma once
// The backend's side of one attune-opencl-builder process (builder_main.cpp): starting it on the
// backend's device and source, sending it builds with a deadline each, and telling a reply from a
// crash or silence past the deadline. A process that crashed or timed out is gone for good (killed
// and reaped); the backend starts another for the next build.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "core/subprocess.hpp"

namespace attune::opencl::detail {

class BuilderProcess {
 public:
  /// Starts `program` on the device at `device_place` ("P:D:NAME") with the source readable from
  /// `source_fd`, and waits for it to say it is ready. Throws Error(Unsupported) when it does not
  /// start, cannot open the device, or speaks another protocol version.
  BuilderProcess(const std::filesystem::path& program, const std::string& device_place,
                 int source_fd);
  /// Closes the channel (the builder exits on its own), then kills it if it lingers.
  ~BuilderProcess();
  BuilderProcess(const BuilderProcess&) = delete;
  BuilderProcess& operator=(const BuilderProcess&) = delete;

  struct Reply {
    int status = 0;    ///< 0 or a builder::k* status; -1 when the process is gone
    std::string text;  ///< the builder's reason, or how the process ended and its last output
    bool timed_out = false;
  };
  /// One build (a request as builder_protocol.hpp describes it), answered within `deadline_s`.
  Reply build(const std::vector<std::string>& request, double deadline_s);

  bool dead() const noexcept { return pid_ <= 0; }

 private:
  /// Reaps the process (killing it first when it `timed_out`) and describes how it ended.
  std::string lost(bool timed_out);
  std::string output_tail() const;

  std::filesystem::path program_;
  pid_t pid_ = -1;
  attune::detail::UniqueFd channel_;
  attune::detail::UniqueFd output_;  ///< its stdout and stderr
};

}  // namespace attune::opencl::detail
