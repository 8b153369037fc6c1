#pragma once
/// \file
/// The one exception type attune throws for misuse and environment errors (a bad spec, an unknown
/// strategy, a backend that is not built). What a configuration does wrong is never an exception:
/// it is a Measurement status.

#include <stdexcept>
#include <string>
#include <string_view>

namespace attune {

enum class ErrorCode {
  InvalidArgument,  ///< a value the caller passed is out of range or malformed
  ParseError,       ///< a constraint expression or spec file does not parse
  UnknownName,      ///< a parameter, strategy or kernel name that does not exist
  NotFound,         ///< a file or record that should exist does not
  Io,               ///< reading or writing a file failed
  Unsupported,      ///< the request is valid but this build or machine cannot do it
  Internal,         ///< a broken invariant inside attune: a bug to report
};

std::string_view to_string(ErrorCode code) noexcept;

/// Thrown for misuse and environment errors. The message says what to fix; where the error comes
/// from a file or an expression it names the file or expression and the line or column.
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace attune
