#pragma once
// `attune tune FILE.toml`: tunes a user's kernel as its spec file describes it.

#include "attune/kernel_spec.hpp"
#include "tune_job.hpp"

namespace attune::cli {

/// Tunes `spec` with `flags` (already holding the spec's [tuning] settings where the command line
/// gave none). Returns the process exit code, as run_tune_job does.
int run_tune_spec(const KernelSpec& spec, const TuneFlags& flags);

}  // namespace attune::cli
