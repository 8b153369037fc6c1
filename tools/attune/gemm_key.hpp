#pragma once
// The tuning database's key for the built-in SGEMM, shared by `tune gemm` (its seeds from fewer
// threads), `bench gemm` (stored decisions) and `db best` (lookups by shape), so that all three
// find what the others stored.

#include "attune/backends/cpu_gemm.hpp"
#include "attune/tuning_database.hpp"

namespace attune::cli {

/// The key of the SGEMM of `problem` on `device` (this host's CPU: GemmBackend::device() or
/// DeviceInfo::host_cpu()) with `isa`, over `space` (the space for a thread count:
/// cpu::gemm_search_space). Matches GemmBackend's kernel_id.
inline TuningKey gemm_tuning_key(const DeviceInfo& device, kernels::Isa isa,
                                 const SearchSpace& space, const cpu::GemmProblem& problem) {
  return TuningKey{
      device, {cpu::gemm_kernel_id(isa), "", ""}, SpaceIdentity::of(space), problem.key()};
}

}  // namespace attune::cli
