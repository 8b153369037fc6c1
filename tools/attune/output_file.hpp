#pragma once
// Report files the commands write at the end of a run. They are opened before the run starts, so
// a bad path fails at once and not after minutes of measuring.

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace attune::cli {

/// Opens `path` for writing; throws Error(InvalidArgument) naming `what` (e.g. "JSON report") and
/// the path when it cannot be created.
std::ofstream open_output_file(const std::string& path, std::string_view what);

/// Writes `document` as indented JSON to `out`, opened by open_output_file for `path`; throws
/// Error(Io) naming `what` and the path when the write fails (a full disk, a removed file).
void write_json(std::ofstream& out, const nlohmann::json& document, const std::string& path,
                std::string_view what);

}  // namespace attune::cli
