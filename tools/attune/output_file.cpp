// Opening the commands' report files, with one error message for all of them.

#include "output_file.hpp"

#include "attune/error.hpp"

namespace attune::cli {

std::ofstream open_output_file(const std::string& path, std::string_view what) {
  std::ofstream out(path);
  if (!out) {
    throw Error(ErrorCode::InvalidArgument,
                "cannot write the " + std::string(what) + " to '" + path +
                    "': check that the directory exists and is writable");
  }
  return out;
}

void write_json(std::ofstream& out, const nlohmann::json& document, const std::string& path,
                std::string_view what) {
  out << document.dump(2) << '\n';
  out.flush();
  if (!out) {
    throw Error(ErrorCode::Io, "cannot write the " + std::string(what) + " to '" + path + "'");
  }
}

}  // namespace attune::cli
