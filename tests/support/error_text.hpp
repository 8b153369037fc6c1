#pragma once
// The message of the attune::Error a call throws, for tests that check what an error says.

#include <string>

#include "attune/error.hpp"

namespace attune::test_support {

/// What `f()` throws as attune::Error, or "(no error)" when it returns.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace attune::test_support
