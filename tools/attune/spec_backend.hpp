#pragma once
// The backend a spec file names, made by the backend library that runs it: `cpp` by the C++ JIT,
// `opencl` by the OpenCL backend (when this build has it).

#include <memory>

#include "attune/backend.hpp"
#include "attune/kernel_spec.hpp"

namespace attune::cli {

/// Throws Error(Unsupported) for a backend this build or machine cannot run, saying what to
/// install, and Error(InvalidArgument) for a backend name no library knows.
std::unique_ptr<Backend> make_spec_backend(const KernelSpec& spec);

}  // namespace attune::cli
