#pragma once
/// \file
/// The replay backend: simulation mode. It answers from a recorded space (a Kernel Tuner cache or
/// a T4 file) instead of measuring, so strategies can be studied and tested offline on real
/// exhaustively measured spaces, in milliseconds instead of hours. Nothing here runs a kernel;
/// every number it reports was measured on the device the file names.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attune/backend.hpp"
#include "attune/recorded_space.hpp"
#include "attune/search_space.hpp"
#include "attune/strategy.hpp"
#include "attune/tuner.hpp"

namespace attune::replay {

/// A recorded space made searchable: the configurations it holds become a SearchSpace (in Kernel
/// Tuner's order), each with the answer the file recorded.
class ReplaySpace {
 public:
  /// What the file recorded for one configuration.
  struct Answer {
    Status status = Status::Ok;
    double seconds = 0.0;  ///< the recorded time; meaningful when ok
    std::string error;     ///< Kernel Tuner's error string when not ok
  };

  /// The space holds the entries whose time is a number, which is what Kernel Tuner's own
  /// simulation mode searches; with `include_failed` the entries with an error string are in it
  /// too, and replaying one returns its failure status. Where a file lists a configuration twice
  /// the first entry counts. Throws Error(InvalidArgument) when no entry qualifies.
  ReplaySpace(RecordedSpace recorded, bool include_failed = false);
  /// read_recorded_space(file), then as above; errors name the file.
  static ReplaySpace load(const std::filesystem::path& file, bool include_failed = false);

  /// Stable for the ReplaySpace's lifetime, also across moves.
  const SearchSpace& space() const { return *space_; }
  const RecordedSpace& recorded() const { return recorded_; }
  const Answer& answer(std::size_t index) const { return answers_.at(index); }
  /// The fastest recorded time in the space, in seconds.
  double optimum_s() const { return optimum_s_; }
  /// Configurations in the space whose answer is a failure (0 without include_failed).
  std::size_t failed_count() const { return failed_; }

 private:
  RecordedSpace recorded_;
  std::unique_ptr<SearchSpace> space_;
  std::vector<Answer> answers_;
  double optimum_s_ = 0.0;
  std::size_t failed_ = 0;
};

/// A Backend over a ReplaySpace: prepare() fails with the recorded status for a recorded failure,
/// verification always passes, and each run reports the recorded time per call. The harness
/// therefore measures exactly the recorded time. `space` must outlive the backend, and the
/// configurations given to prepare must belong to space.space().
class ReplayBackend final : public Backend {
 public:
  explicit ReplayBackend(const ReplaySpace& space);
  const DeviceInfo& device() const override { return device_; }
  /// "replay:<kernel name>".
  std::string kernel_id() const override;
  Prepared prepare(const Config& config) override;

 private:
  const ReplaySpace& space_;
  DeviceInfo device_;
};

/// Harness settings that take a replayed time at face value: no warm-up, one sample.
HarnessOptions replay_harness_options();

/// The outcome of replaying one strategy.
struct ReplayRun {
  TuneResult result;
  /// Best-so-far recorded time in seconds after each evaluation (infinity until one is ok).
  std::vector<double> trajectory_s;
  /// The strategy's own time per proposal, seconds, one per evaluation it chose.
  std::vector<double> strategy_s;
};

/// Runs `strategy` on the replay with the Tuner for at most `budget` distinct evaluations (fewer
/// when the space is smaller or the strategy runs dry). `initial` configurations are evaluated
/// first, as TuneOptions::initial. `observer`, when given, sees every evaluation.
ReplayRun run_replay(const ReplaySpace& space, Strategy& strategy, std::size_t budget,
                     std::uint64_t seed, std::vector<std::size_t> initial = {},
                     TuneObserver* observer = nullptr);

}  // namespace attune::replay
