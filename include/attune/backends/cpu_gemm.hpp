#pragma once
/// \file
/// The built-in SGEMM as a tunable kernel: its search space on this CPU, the mapping from a
/// configuration to kernel parameters, and a backend that runs and verifies it on one problem.

#include <cstdint>
#include <memory>
#include <vector>

#include "attune/backend.hpp"
#include "attune/kernels/gemm.hpp"
#include "attune/problem.hpp"
#include "attune/search_space.hpp"

namespace attune::cpu {

/// C = alpha * A * B + beta * C, row-major, densely stored (lda = k, ldb = n, ldc = n).
struct GemmProblem {
  int m = 1024;
  int n = 1024;
  int k = 1024;
  float alpha = 1.0f;
  float beta = 0.0f;

  Problem key() const;
  /// 2 m n k: the floating-point operations of one call.
  double flops() const { return 2.0 * m * n * k; }
};

/// The SGEMM search space for `isa` with up to `max_threads` threads: micro-tile MR x NR (the
/// shapes compiled for the ISA), MC, KC, NC, threads, the parallel loop, packing of A and B, and
/// the prefetch distance; constraints keep MC a multiple of MR and NC a multiple of NR. The space
/// does not depend on the problem, so results for different shapes share one signature.
SearchSpace gemm_search_space(kernels::Isa isa, int max_threads);

/// The kernel parameters a configuration of gemm_search_space stands for.
kernels::GemmParams gemm_params(const Config& config);

/// The index in `space` of the untuned default (kernels::default_params), which every tuning run
/// measures for comparison.
std::size_t default_gemm_index(const SearchSpace& space, kernels::Isa isa, int threads);

/// Runs the SGEMM of one problem. Inputs are random in [-1, 1) from `seed`. Verification compares
/// with a double-precision reference: every row for small problems, a fixed sample of rows
/// (first, last and random) for large ones, plus a check that no output element kept its poison.
class GemmBackend final : public Backend {
 public:
  GemmBackend(GemmProblem problem, kernels::Isa isa, std::uint64_t seed = 42);
  ~GemmBackend() override;

  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override;
  Prepared prepare(const Config& config) override;

  const GemmProblem& problem() const { return problem_; }
  kernels::Isa isa() const { return isa_; }
  /// The rows the verifier compares (all rows when the problem is small).
  const std::vector<int>& checked_rows() const { return rows_; }

 private:
  struct Buffers;
  GemmProblem problem_;
  kernels::Isa isa_;
  DeviceInfo device_;
  std::unique_ptr<Buffers> buffers_;
  std::vector<int> rows_;
};

}  // namespace attune::cpu
