// Names of error codes as they appear in messages, logs and the CLI's exit reports. Kept in one
// switch so a new ErrorCode that is not named here is a compiler warning, not a silent "unknown".

#include "attune/error.hpp"

namespace attune {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return "invalid_argument";
    case ErrorCode::ParseError: return "parse_error";
    case ErrorCode::UnknownName: return "unknown_name";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::Io: return "io";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::Internal: return "internal";
  }
  return "unknown";
}

}  // namespace attune
