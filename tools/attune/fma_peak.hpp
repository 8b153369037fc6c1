#pragma once
// The floating-point peak of this machine as measured, not as specified: what an FMA-throughput
// loop reaches here and now (clock, turbo, a virtual machine's share, other load), so that a
// GEMM's GFLOP/s can be read as a fraction of what the cores can actually do.

#include "attune/kernels/gemm.hpp"

namespace attune::cli {

/// GFLOP/s of fp32 fused multiply-adds at the widest vectors `isa` has (16 lanes for Avx512, 8
/// for Avx2, 4 otherwise via SSE-width multiply and add), on `threads` threads running at once,
/// each with 16 independent accumulator chains (more than latency x issue width on current
/// x86-64 cores, so the loop is bound by FMA throughput alone). Runs `trials` times for about
/// `trial_s` seconds each and returns the best: the peak is the least disturbed trial.
/// Requires isa_supported(isa), threads >= 1, trials >= 1, trial_s > 0.
double measure_fma_peak_gflops(kernels::Isa isa, int threads, int trials = 5, double trial_s = 0.1);

}  // namespace attune::cli
