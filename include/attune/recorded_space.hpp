#pragma once
/// \file
/// Recorded search spaces: Kernel Tuner cache files and T4 results files, read into one neutral
/// form. The replay backend answers from them, strategy tests and benchmarks search them, and the
/// tuning database imports them. Reading never interprets a configuration: every entry is kept as
/// the file recorded it, failures included.

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attune/measurement.hpp"
#include "attune/search_space.hpp"
#include "attune/value.hpp"

namespace attune {

/// One configuration as the file recorded it.
struct RecordedEntry {
  /// Parameter values in the file's parameter order (tune_params_keys).
  std::vector<Value> values;
  /// The objective in milliseconds when the file holds a number.
  std::optional<double> time_ms;
  /// Kernel Tuner's error string ("CompilationFailedConfig", "RuntimeFailedConfig",
  /// "InvalidConfig", ...); empty when time_ms is set.
  std::string error;
  /// Every repetition in milliseconds, when recorded.
  std::vector<double> times_ms;
  /// The entry exactly as in the file (compile_time, benchmark_time, GFLOP/s, ...).
  nlohmann::json raw;
};

struct RecordedSpace {
  std::string format;  ///< "kernel_tuner" or "t4"
  std::string device_name;
  std::string kernel_name;
  nlohmann::json problem_size;
  std::string objective;  ///< "time" unless the file says otherwise
  /// tune_params in tune_params_keys order (values as Value: int, double, bool, string). A T4
  /// file lists no value sets: each parameter's values are those its configurations use,
  /// ascending.
  std::vector<Param> params;
  std::vector<RecordedEntry> entries;  ///< in file order
  /// The file ended mid-write (Kernel Tuner writes its cache incrementally); the entries before
  /// the cut are kept.
  bool truncated = false;
  nlohmann::json metadata;  ///< every other top-level field, for faithful export
};

/// The status a Kernel Tuner error string stands for: CompilationFailedConfig -> CompileFailed,
/// RuntimeFailedConfig -> RuntimeFailed, InvalidConfig -> Invalid, anything else ->
/// RuntimeFailed.
Status status_from_kernel_tuner_error(std::string_view error);

/// Kernel Tuner's error string for a failed status (the inverse, for export): CompileFailed ->
/// CompilationFailedConfig, Invalid and OverLimits -> InvalidConfig, every other failure ->
/// RuntimeFailedConfig. Throws Error(InvalidArgument) for Status::Ok, which is no error.
std::string kernel_tuner_error(Status status);

/// Uncompressed size cap of read_recorded_space.
inline constexpr std::size_t kMaxRecordedSpaceBytes = 512ull << 20;

/// Reads a .json or .json.gz Kernel Tuner cache or T4 results file; gzip and the format are
/// detected from the content, not the name. A Kernel Tuner cache that was cut off mid-write (an
/// interrupted run) keeps every complete entry and sets `truncated`. T4 times are converted to
/// milliseconds from the unit of each measurement. Throws Error naming the file and what is
/// wrong: NotFound when it does not exist, Io when it cannot be read, InvalidArgument when it is
/// not gzip or JSON, is over `max_bytes` uncompressed (the message gives the cap), or lacks a
/// field its format requires.
RecordedSpace read_recorded_space(const std::filesystem::path& file,
                                  std::size_t max_bytes = kMaxRecordedSpaceBytes);

}  // namespace attune
