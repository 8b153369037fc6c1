#pragma once
/// \file
/// vyre's natural-gradient launch policy, reproduced bit for bit so that decisions made by vyre's
/// driver and by attune from the same measurements agree. Latencies become softmax weights over
/// -(t - t_best) / T in Q16.16 fixed point (the last weight takes the remainder, so they sum to
/// exactly 65536), the weights are multiplied by an inverse-Fisher square-root matrix in Q16.16
/// with saturating 64-bit accumulation, and the largest entry wins (the last one on ties).
///
/// The `natural_gradient` search strategy is a different thing: a real natural-gradient search
/// over a whole space (see src/strategies/natural_gradient.cpp); this is the one-step policy.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace attune {

/// 1.0 in Q16.16.
inline constexpr std::uint32_t kQ16One = 1u << 16;

struct NaturalGradientStep {
  std::size_t selected = 0;       ///< the candidate chosen after preconditioning
  std::size_t best_measured = 0;  ///< the fastest measurement (the first one on ties)
  std::uint64_t best_elapsed_ns = 0;
  std::vector<std::uint32_t> policy_weights_q16;    ///< softmax weights, summing to 65536
  std::vector<std::uint32_t> natural_gradient_q16;  ///< matrix x weights, saturated to u32
};

struct NaturalGradientPolicy {
  /// Softmax temperature in nanoseconds; larger explores more.
  std::uint64_t temperature_ns = 10'000;

  /// The next candidate from one latency per candidate (nanoseconds) and a row-major n x n Q16.16
  /// inverse-Fisher square-root matrix (the identity gives the plain softmax choice). Throws
  /// Error(InvalidArgument) for no measurements, a zero temperature, or a matrix that is not
  /// n x n.
  NaturalGradientStep suggest(std::span<const std::uint64_t> elapsed_ns,
                              std::span<const std::uint32_t> fisher_inv_sqrt_q16) const;
};

/// The n x n identity in Q16.16, row-major.
std::vector<std::uint32_t> identity_fisher_q16(std::size_t n);

}  // namespace attune
