#pragma once
/// \file
/// The one micro-kernel signature every SGEMM micro-kernel implements, and the per-ISA tables of
/// compiled tiles. Generic code includes only this header; the intrinsics stay in the
/// gemm_<isa>.cpp files that are compiled with that ISA's flags.

#include <cstddef>
#include <span>

namespace attune::kernels::detail {

/// C[0:m, 0:n] = alpha * A * B + beta * C for one MR x NR tile with depth k >= 1, where
///   A(i, p) = a[i * rs_a + p * cs_a]  for i < m,
///   B(p, j) = b[p * rs_b + j]         for j < n  (B rows are always contiguous),
///   C(i, j) = c[i * ldc + j].
/// 1 <= m <= MR and 1 <= n <= NR. rs_a == 1 && cs_a == MR marks a packed A micro-panel: then all
/// MR rows are readable (rows >= m are zero padding) and the kernel reads it at fixed offsets.
/// Otherwise only rows < m of A are read. Columns >= n of B and C are never read or written.
/// beta == 0 writes C without reading it. `prefetch` > 0 prefetches the A and B micro-panels that
/// many k-iterations ahead (running off the end of a packed A panel into the next one, which is
/// where packing puts it) and the C tile before the k loop; 0 prefetches nothing.
using MicroKernel = void (*)(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                             std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float beta,
                             float* c, std::ptrdiff_t ldc, int m, int n, int prefetch);

struct MicroKernelEntry {
  int mr;
  int nr;
  MicroKernel kernel;
};

/// Tiles compiled in gemm_avx512.cpp; call their kernels only where AVX-512 F/VL/BW/DQ is present.
std::span<const MicroKernelEntry> avx512_micro_kernels() noexcept;
/// Tiles compiled in gemm_avx2.cpp; call their kernels only where AVX2 and FMA are present.
std::span<const MicroKernelEntry> avx2_micro_kernels() noexcept;
/// Portable tiles compiled in gemm.cpp; run anywhere.
std::span<const MicroKernelEntry> scalar_micro_kernels() noexcept;

}  // namespace attune::kernels::detail
