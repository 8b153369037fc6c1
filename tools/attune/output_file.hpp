#pragma once
// Report files the commands write at the end of a run. They are opened before the run starts, so
// a bad path fails at once and not after minutes of measuring.

#include <fstream>
#include <string>
#include <string_view>

namespace attune::cli {

/// Opens `path` for writing; throws Error(InvalidArgument) naming `what` (e.g. "JSON report") and
/// the path when it cannot be created.
std::ofstream open_output_file(const std::string& path, std::string_view what);

}  // namespace attune::cli
