#pragma once
/// \file
/// The tuning database: every measurement attune makes, kept in one SQLite file, keyed by what the
/// result is valid for (device, kernel, search space, problem), with the best configuration per
/// key, the state of every tuning run so an interrupted run resumes exactly, Kernel Tuner / T4
/// import and export, and merging of databases from many machines.
///
/// One file, WAL journal, one transaction per committed evaluation: many processes may read and
/// write the same file at once, and a reader never sees half of a record. A process killed at any
/// point (kill -9, power loss) loses at most the evaluation it had not committed yet.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "attune/device_info.hpp"
#include "attune/measurement.hpp"
#include "attune/problem.hpp"
#include "attune/recorded_space.hpp"
#include "attune/search_space.hpp"
#include "attune/tuner.hpp"

namespace attune {

/// Version of attune's kernel ABI (how a configuration becomes kernel parameters). It is part of
/// every kernel fingerprint, so results from an incompatible attune are never reused.
inline constexpr int kKernelAbiVersion = 1;

/// What a kernel is, for the purpose of reusing its results.
struct KernelIdentity {
  /// A built-in kernel's id and version ("attune.cpu.sgemm/1/avx512"), or the name of an
  /// imported one ("kernel_tuner:convolution_kernel").
  std::string id;
  std::string source;           ///< the kernel's source text; empty for a built-in kernel
  std::string compile_options;  ///< flags the source is compiled with
  /// 32 hex digits: XXH3-128 of a domain tag, kKernelAbiVersion and the three fields.
  std::string fingerprint() const;
};

/// The parameters (names and value lists) and constraints of a search space, with its signature.
struct SpaceIdentity {
  std::uint64_t signature = 0;
  /// {"params": [{"name": ..., "values": [...]}, ...], "constraints": [...]}: enough to turn a
  /// stored configuration back into values and to export a Kernel Tuner file.
  nlohmann::json definition;

  static SpaceIdentity of(const SearchSpace& space);
  /// A space known only from a recorded file (no constraints); its signature uses its own
  /// domain tag, so it never equals the signature of a SearchSpace.
  static SpaceIdentity of_recorded(const std::vector<Param>& params);
};

/// What a stored result is valid for. Two keys are equal only when every part is.
struct TuningKey {
  DeviceInfo device;
  KernelIdentity kernel;
  SpaceIdentity space;
  Problem problem;

  /// "v1:" followed by 32 hex digits: XXH3-128 over a versioned domain tag and the device
  /// fingerprint, kernel fingerprint, space signature and problem key. The "v1" is the key
  /// layout's version: a new layout gets new keys, never a silent collision with old ones.
  std::string hash() const;
};

/// One stored measurement of one configuration.
struct StoredMeasurement {
  std::int64_t id = 0;
  std::string key_hash;
  std::string config_key;  ///< Kernel Tuner form, "v1,v2,..."
  nlohmann::json config;   ///< {name: value, ...}
  Measurement measurement;
  std::string measured_at;  ///< ISO 8601 UTC
  std::string host;
  std::string user;
  std::string source;  ///< "tune", "import FILE", ...
  /// Fields a recorded file kept that attune has no column for (GFLOP/s, framework_time, ...),
  /// exported again unchanged.
  nlohmann::json extra;
};

/// The best configuration known for a key.
struct Decision {
  std::string key_hash;
  std::string config_key;
  nlohmann::json config;
  double objective_s = 0.0;  ///< median seconds per call of the measurement it rests on
  std::int64_t measurement_id = 0;
};

/// Where a lookup's answer came from, best first.
enum class LookupRung {
  Exact,             ///< this device, kernel, space and problem
  NearestProblem,    ///< this device, kernel and space; the nearest tuned problem
  SameArchitecture,  ///< another device of the same kind and architecture
  Default,           ///< nothing stored applies: use the kernel's default
};
std::string_view to_string(LookupRung rung) noexcept;

struct LookupResult {
  LookupRung rung = LookupRung::Default;
  std::optional<Decision> decision;  ///< empty for LookupRung::Default
  std::string problem_key;           ///< the problem the decision was tuned for
  std::string device_name;           ///< the device it was tuned on
  double distance = 0.0;             ///< problem_distance to the problem asked about
};

/// The documented distance between two problems' shapes: the sum over dimensions of
/// |log2(a) - log2(b)| (so 512 vs 1024 is as far as 1024 vs 2048). Problems with different
/// dimension names, element types or flags are not comparable: nullopt. Sizes below 1 count as 1.
std::optional<double> problem_distance(const Problem& a, const Problem& b);

/// One tuning run: the evaluations it committed, in order, and the strategy's state after the
/// last, so that Tuner can continue it (TuneOptions::resume).
struct StoredRun {
  std::int64_t id = 0;
  std::string strategy;
  std::uint64_t seed = 0;
  TuneCheckpoint checkpoint;
  std::string stop_reason;  ///< empty while the run has not finished (or was killed)
};

/// A key and what is stored for it, as `attune db list` shows it.
struct KeySummary {
  std::string key_hash;
  std::string device_name;
  std::string device_fingerprint;
  std::string kernel_id;
  std::string problem_key;
  std::uint64_t space_signature = 0;
  std::size_t measurements = 0;
  std::size_t ok = 0;
  std::optional<Decision> decision;
};

struct ImportReport {
  std::string key_hash;
  std::size_t imported = 0;  ///< measurements added
  std::size_t failed = 0;    ///< of which with a failure status
  bool truncated = false;    ///< the file was cut off mid-write; the complete entries were kept
};

struct MergeReport {
  std::size_t inputs = 0;
  std::size_t measurements_read = 0;
  std::size_t measurements_added = 0;  ///< the rest were duplicates, collapsed
  std::size_t keys = 0;
};

class TuningDatabase {
 public:
  /// The schema this build writes. An older file is migrated on open; a newer one is refused.
  static constexpr int kSchemaVersion = 1;

  /// $ATTUNE_DB when set, else $XDG_CACHE_HOME/attune/tuning.db, else ~/.cache/attune/tuning.db.
  static std::filesystem::path default_path();

  /// Opens `file`, creating it (and its directory) unless `read_only`. Throws Error naming the
  /// file and what to do when it is not a database, is corrupt, is not an attune database, has a
  /// newer schema, or cannot be created or written.
  explicit TuningDatabase(const std::filesystem::path& file, bool read_only = false);
  ~TuningDatabase();
  TuningDatabase(TuningDatabase&&) noexcept;
  TuningDatabase& operator=(TuningDatabase&&) noexcept;

  const std::filesystem::path& path() const noexcept;

  /// The run identified by (key, strategy, seed): what it committed so far (nothing for a new
  /// run). Creates the run's record. `space` must be the space the key's signature names.
  StoredRun open_run(const TuningKey& key, const std::string& strategy, std::uint64_t seed,
                     const SearchSpace& space);
  /// Stores one evaluation of run `run_id`, the strategy's state after it and, when it improves
  /// on it, the key's decision, in one transaction. A recalled evaluation is recorded in the
  /// run's sequence without a new measurement. Throws Error when another process has committed
  /// to the same run meanwhile (two processes must not run the same run at once).
  void commit_evaluation(std::int64_t run_id, const Evaluation& evaluation, const Config& config,
                         const nlohmann::json& strategy_state);
  /// Records why the run stopped (not called when it is killed).
  void finish_run(std::int64_t run_id, StopReason reason, double elapsed_s);

  /// Adds measurements for `key` in one transaction (all or none), updating its decision.
  /// `source` says where they came from. Used by imports, tests and benchmarks.
  void add_measurements(const TuningKey& key, const std::vector<StoredMeasurement>& records);

  /// Every measurement stored for the key, oldest first.
  std::vector<StoredMeasurement> measurements(const std::string& key_hash) const;
  /// The latest measurement per configuration of the key (any run, import or machine), by
  /// Kernel Tuner key: what a new run recalls instead of measuring again.
  std::vector<StoredMeasurement> latest_measurements(const TuningKey& key) const;

  /// The decision stored for exactly this key.
  std::optional<Decision> decision(const TuningKey& key) const;
  /// The decision with fallback: exact -> nearest problem on this device -> same architecture
  /// (exact problem, else nearest) -> default. Each step considers only the same kernel
  /// fingerprint and space signature.
  LookupResult lookup(const TuningKey& key) const;

  std::vector<KeySummary> list() const;
  /// The summary of the key whose hash starts with `prefix` (at least 4 characters). Throws
  /// Error(NotFound) when none does, Error(InvalidArgument) when several do.
  KeySummary find_key(const std::string& prefix) const;
  /// The key's device, kernel, space and problem as stored.
  nlohmann::json key_details(const std::string& key_hash) const;

  /// Imports a Kernel Tuner cache or T4 file as one key, all or nothing. The kernel is the
  /// file's kernel name unless `kernel` is given. Throws Error for a file that does not read
  /// (see read_recorded_space), names no kernel, or names an attune kernel this build lacks.
  ImportReport import_recorded(const RecordedSpace& space, const std::string& source,
                               const std::optional<std::string>& kernel = std::nullopt);
  /// The key's measurements as a recorded space (the latest per configuration), ready for
  /// write_kernel_tuner / write_t4.
  RecordedSpace export_recorded(const std::string& key_hash) const;

  /// Deletes measurements of keys not touched since `older_than_days`, failed measurements too
  /// when `failures` is true (so they are measured again), and runs that no longer have any
  /// measurement. Returns the measurements deleted. Decisions are recomputed.
  std::size_t prune(std::optional<double> older_than_days, bool failures);
  /// Rebuilds the file to reclaim space (SQLite VACUUM) after a checkpoint of the WAL.
  void vacuum();

  /// Combines `inputs` into `output` (created or extended): identities and measurements;
  /// duplicates (the same measurement reached through several files) collapse; different
  /// measurements of one configuration are all kept; decisions are recomputed. With `anonymize`,
  /// host and user names become salted SHA-256 hashes (the salt is random per merge unless given).
  static MergeReport merge(const std::vector<std::filesystem::path>& inputs,
                           const std::filesystem::path& output, bool anonymize,
                           const std::string& salt = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Kernel Tuner cache JSON for a recorded space (the inverse of read_recorded_space).
nlohmann::ordered_json to_kernel_tuner_json(const RecordedSpace& space);
/// T4 results JSON for a recorded space.
nlohmann::ordered_json to_t4_json(const RecordedSpace& space);

}  // namespace attune
