// Reads --start files: known-good configurations (from a colleague, an earlier run, a paper) that
// a tuning or replay run evaluates before its strategy chooses anything.

#include "start_file.hpp"

#include <algorithm>
#include <fstream>

#include "attune/error.hpp"

namespace attune::cli {

std::vector<std::size_t> read_start_file(const std::filesystem::path& file,
                                         const SearchSpace& space) {
  std::ifstream in(file);
  if (!in) {
    throw Error(ErrorCode::NotFound,
                "--start file '" + file.string() + "' cannot be opened; check the path");
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorCode::InvalidArgument,
                "--start file '" + file.string() + "' is not JSON: " + e.what());
  }
  if (doc.is_object()) doc = nlohmann::json::array({doc});
  if (!doc.is_array()) {
    throw Error(ErrorCode::InvalidArgument,
                "--start file '" + file.string() +
                    "' must hold a configuration {name: value, ...} or a list of them");
  }
  std::vector<std::size_t> out;
  for (std::size_t k = 0; k < doc.size(); ++k) {
    const std::string where =
        "--start file '" + file.string() + "', configuration " + std::to_string(k + 1) + ": ";
    std::optional<std::size_t> index;
    try {
      index = space.index_of(space.config_from_json(doc[k]));
    } catch (const Error& e) {
      throw Error(e.code(), where + e.what());
    }
    if (!index) {
      throw Error(ErrorCode::InvalidArgument,
                  where + doc[k].dump() + " is not a valid configuration of this space");
    }
    if (std::find(out.begin(), out.end(), *index) == out.end()) out.push_back(*index);
  }
  return out;
}

}  // namespace attune::cli
