#pragma once
/// \file
/// The one micro-kernel signature every SGEMM micro-kernel implements, and the per-ISA tables of
/// compiled tiles. Generic code includes only this header; the intrinsics stay in the
/// gemm_<isa>.cpp files that are compiled with that ISA's flags.

#include <cstddef>
#include <span>

namespace attune::kernels::detail {

/// A share of the packing of one B panel that a micro-kernel call performs besides its own tile.
/// The panel is kc rows of B at src (row stride ld), packed as `panels` micro-panels of kc rows x
/// NR columns at dst (micro-panel q at dst + q * kc * NR, row p of it at + p * NR); the last
/// micro-panel holds last_cols <= NR columns of B and zeros after them. The panel's units, in
/// row-major order, are unit u = row u / panels of micro-panel u % panels (NR floats, contiguous
/// in B), and the call copies units [first, first + count). Row-major order makes consecutive
/// units consecutive in memory, which the hardware prefetchers stream. `prefetch` > 0 also
/// prefetches B that many floats past each unit copied.
struct PanelCopy {
  const float* src;
  std::ptrdiff_t ld;
  float* dst;
  int kc;
  int panels;
  int last_cols;
  int first;
  int count;
  int prefetch;
};

/// Copies the units of `copy` for micro-panels `nr` wide, all at once: for micro-kernels that do
/// not spread the copy over their k loop, and for units that no micro-kernel call carries.
/// Defined in gemm.cpp, compiled for the baseline ISA, so it runs on any x86-64.
void copy_panel(const PanelCopy& copy, int nr) noexcept;

/// C[0:m, 0:n] = alpha * A * B + beta * C for one MR x NR tile with depth k >= 1, where
///   A(i, p) = a[i * rs_a + p * cs_a]  for i < m,
///   B(p, j) = b[p * rs_b + j]         for j < n  (B rows are always contiguous),
///   C(i, j) = c[i * ldc + j].
/// 1 <= m <= MR and 1 <= n <= NR. rs_a == 1 && cs_a == MR marks a packed A micro-panel: then all
/// MR rows are readable (rows >= m are zero padding) and the kernel reads it at fixed offsets.
/// Otherwise only rows < m of A are read. Columns >= n of B and C are never read or written.
/// beta == 0 writes C without reading it. `prefetch` > 0 prefetches the A and B micro-panels that
/// many k-iterations ahead (running off the end of a packed A panel into the next one, which is
/// where packing puts it); the AVX-512 tiles on a packed A panel skip B when it is a packed
/// micro-panel (rs_b == NR), a contiguous stream the hardware prefetchers follow. The C tile is
/// prefetched as GemmParams::prefetch describes: by the AVX2 tiles before the k loop when
/// `prefetch` > 0, by the full-height AVX-512 tiles on a packed A panel near the end of the k loop
/// always. `copy`, when not null, is packing work for a panel other than the one the tile reads
/// (its destination never overlaps a, b or c): the call performs it, interleaved with its FMAs or
/// not.
using MicroKernel = void (*)(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                             std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float beta,
                             float* c, std::ptrdiff_t ldc, int m, int n, int prefetch,
                             const PanelCopy* copy);

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
