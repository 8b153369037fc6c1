#pragma once
/// \file
/// The built-in SGEMM as a tunable kernel: its search space on this CPU, the mapping from a
/// configuration to kernel parameters, and a backend that runs and verifies it on one problem.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
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
  /// The rate one call lasting `seconds` achieves; 0 for a non-positive time.
  double gflops(double seconds) const { return seconds > 0 ? flops() / seconds * 1e-9 : 0.0; }
};

/// The SGEMM search space for `isa` with up to `max_threads` threads: micro-tile MR x NR (the
/// shapes compiled for the ISA), MC, KC, NC, threads, the parallel loop, packing of A and B, the
/// prefetch distance, the order of the two loops around the micro-kernel (jr_outer), and whether
/// B panels are packed ahead of use inside the micro-kernel calls (pack_b_ahead) with which
/// source prefetch distance (pack_b_prefetch); constraints keep MC a multiple of MR and NC a
/// multiple of NR, and hold the parameters a configuration ignores at one value. The space
/// does not depend on the problem, so results for different shapes share one signature.
SearchSpace gemm_search_space(kernels::Isa isa, int max_threads);

/// The kernel parameters a configuration of gemm_search_space stands for.
kernels::GemmParams gemm_params(const Config& config);

/// The index in `space` (a gemm_search_space) of the configuration that stands for `params`, or
/// nullopt when the space does not hold it (a value outside a parameter's list, more threads than
/// the space allows). With one thread the parallel loop is ignored, as the space does.
std::optional<std::size_t> gemm_index(const SearchSpace& space, const kernels::GemmParams& params);

/// A handful of configurations likely to be good for `problem` on `isa` with up to `max_threads`
/// threads, from the shape alone: packing-free single-thread tiles for small products, a split of
/// K when the output is too small to share, tiles whose rows or columns divide a skinny side, B
/// packed ahead in panels as wide as N for a skinny M, blocks that keep the B panel in L2 for
/// large squares. Meant as the first configurations a
/// tuning run measures (TuneOptions::initial), never as a decision by themselves; each passes
/// kernels::check but need not be in a given space (see gemm_index).
std::vector<kernels::GemmParams> gemm_candidates(const GemmProblem& problem, kernels::Isa isa,
                                                 int max_threads);

/// `params`, a blocking decided for fewer threads, on `threads` threads: once split over N and
/// once over M. A blocking that won on one thread often wins on more with the threads splitting
/// N or M (2048^3 on two threads: 222 GFLOP/s with the one-thread choice split over N, 212 with
/// what 24 evaluations on two threads found without it). Meant as starting points of a tuning
/// run, like gemm_candidates.
std::vector<kernels::GemmParams> gemm_spread(const kernels::GemmParams& params, int threads);

/// The kernel identity GemmBackend reports for `isa` (Backend::kernel_id): the tuning database
/// files the SGEMM's runs and decisions under it.
std::string gemm_kernel_id(kernels::Isa isa);

/// The index in `space` of the untuned default (kernels::default_params), which every tuning run
/// measures for comparison.
std::size_t default_gemm_index(const SearchSpace& space, kernels::Isa isa, int threads);

/// An SGEMM other than attune's (a peer library in a benchmark): computes
/// C = problem.alpha * A * B + problem.beta * C on dense row-major operands (lda = k, ldb = n,
/// ldc = n). Must not throw for a wrong result; the verification catches that.
using ExternalGemm =
    std::function<void(const GemmProblem& problem, const float* a, const float* b, float* c)>;

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
  /// Prepares `call` exactly as prepare() prepares a configuration: same inputs, verification
  /// against the same reference rows with the same tolerance, same timing, so a peer library is
  /// measured on equal terms. `call` is copied; whatever it refers to must outlive the result.
  std::unique_ptr<PreparedKernel> prepare_external(ExternalGemm call);

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
