// AVX2 + FMA SGEMM micro-kernels, the same design as the AVX-512 ones with 8-lane ymm vectors
// and 16 registers: an MR x (NR/8) block of C in accumulators, NR/8 B vectors loaded and MR A
// elements broadcast per k-iteration. Edge tiles use maskload/maskstore. This is the only file
// compiled with -mavx2 -mfma, and its kernels are reached only through the table after a CPUID
// check.

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/gemm_micro_kernel.hpp"

namespace attune::kernels::detail {
namespace {

constexpr int kLanes = 8;

// kPackedA: A is a packed MR-row panel read at compile-time offsets; otherwise rows are read in
// place through strides (clamped to row m-1 so that edge tiles never touch memory past A).
// kFullN: n == NR, so B and C are read with plain loads; edge tiles use lane masks instead.
template <int kMr, int kNv, bool kPackedA, bool kFullN, bool kPrefetch>
[[gnu::always_inline]] inline void tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                                        std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b,
                                        float beta, float* c, std::ptrdiff_t ldc, int m, int n,
                                        int prefetch) {
  __m256 acc[kMr][kNv];
#pragma GCC unroll 16
  for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) acc[i][v] = _mm256_setzero_ps();
  }

  // Lane l of vector v is live when v * 8 + l < n.
  __m256i mask[kNv];
  int live[kNv];
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 4
  for (int v = 0; v < kNv; ++v) {
    live[v] = n - v * kLanes;
    mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(live[v]), lane);
  }

  if constexpr (kPrefetch) {
    // The C tile is needed only after the k loop, so a prefetch now has the whole loop to land.
#pragma GCC unroll 16
    for (int i = 0; i < kMr; ++i) {
      if (i < m) {
#pragma GCC unroll 4
        for (int v = 0; v < kNv; v += 2) {
          _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + v * kLanes), _MM_HINT_T0);
        }
      }
    }
  }

  if constexpr (kPackedA) {
    const std::ptrdiff_t b_ahead = std::ptrdiff_t{prefetch} * rs_b;
    const std::ptrdiff_t a_ahead = std::ptrdiff_t{prefetch} * kMr;
#pragma GCC unroll 4
    for (int p = 0; p < k; ++p) {
      __m256 bv[kNv];
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) {
        bv[v] =
            kFullN ? _mm256_loadu_ps(b + v * kLanes) : _mm256_maskload_ps(b + v * kLanes, mask[v]);
      }
      if constexpr (kPrefetch) {
#pragma GCC unroll 4
        for (int v = 0; v < kNv; v += 2) {
          _mm_prefetch(reinterpret_cast<const char*>(b + b_ahead + v * kLanes), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int off = 0; off < kMr; off += 16) {
          _mm_prefetch(reinterpret_cast<const char*>(a + a_ahead + off), _MM_HINT_T0);
        }
      }
#pragma GCC unroll 16
      for (int i = 0; i < kMr; ++i) {
        const __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
        for (int v = 0; v < kNv; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
      }
      a += kMr;
      b += rs_b;
    }
  } else {
    const float* rows[kMr];
#pragma GCC unroll 16
    for (int i = 0; i < kMr; ++i) rows[i] = a + std::min(i, m - 1) * rs_a;
    std::ptrdiff_t off = 0;
#pragma GCC unroll 2
    for (int p = 0; p < k; ++p) {
      __m256 bv[kNv];
#pragma GCC unroll 4
      for (int v = 0; v < kNv; ++v) {
        bv[v] =
            kFullN ? _mm256_loadu_ps(b + v * kLanes) : _mm256_maskload_ps(b + v * kLanes, mask[v]);
      }
#pragma GCC unroll 16
      for (int i = 0; i < kMr; ++i) {
        const __m256 ai = _mm256_broadcast_ss(rows[i] + off);
#pragma GCC unroll 4
        for (int v = 0; v < kNv; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
      }
      off += cs_a;
      b += rs_b;
    }
  }

  const __m256 va = _mm256_set1_ps(alpha);
  const __m256 vb = _mm256_set1_ps(beta);
  const bool read_c = beta != 0.0f;
#pragma GCC unroll 16
  for (int i = 0; i < kMr; ++i) {
    if (i >= m) break;
    float* cr = c + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < kNv; ++v) {
      __m256 r = _mm256_mul_ps(acc[i][v], va);
      if constexpr (kFullN) {
        if (read_c) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + v * kLanes), r);
        _mm256_storeu_ps(cr + v * kLanes, r);
      } else if (live[v] > 0) {
        if (read_c) r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(cr + v * kLanes, mask[v]), r);
        _mm256_maskstore_ps(cr + v * kLanes, mask[v], r);
      }
    }
  }
}

// The tile for the kNv vectors of columns of a micro-kernel, n <= kNv * 8 columns. The last tile
// of an N that is no multiple of NR spends FMAs only on the vectors it has columns in.
template <int kMr, int kNv>
void columns_tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                  const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc,
                  int m, int n, int prefetch) {
  if constexpr (kNv > 1) {
    if (n <= (kNv - 1) * kLanes) {
      columns_tile<kMr, kNv - 1>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, prefetch);
      return;
    }
  }
  const bool full_n = n == kNv * kLanes;
  if (rs_a == 1 && cs_a == kMr) {
    if (prefetch > 0) {
      if (full_n) {
        tile<kMr, kNv, true, true, true>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n,
                                         prefetch);
      } else {
        tile<kMr, kNv, true, false, true>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n,
                                          prefetch);
      }
    } else if (full_n) {
      tile<kMr, kNv, true, true, false>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, 0);
    } else {
      tile<kMr, kNv, true, false, false>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, 0);
    }
  } else if (full_n) {
    tile<kMr, kNv, false, true, false>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, 0);
  } else {
    tile<kMr, kNv, false, false, false>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, 0);
  }
}

template <int kMr, int kNr>
void micro_kernel(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                  const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc,
                  int m, int n, int prefetch, const PanelCopy* copy) {
  static_assert(kNr % kLanes == 0);
  // With 16 registers there is none to spare for the copy inside the k loop, so it runs first;
  // the tile then reads its own operands, which the copy does not touch.
  if (copy != nullptr) copy_panel(*copy, kNr);
  columns_tile<kMr, kNr / kLanes>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, prefetch);
}

// 16 ymm registers: MR*NR/8 accumulators + NR/8 B vectors + one broadcast must fit, with at least
// 8 independent FMAs per k-iteration (two FMA pipes of latency 4).
constexpr MicroKernelEntry kTiles[] = {
    {6, 16, &micro_kernel<6, 16>},
    {4, 24, &micro_kernel<4, 24>},
    {12, 8, &micro_kernel<12, 8>},
    {8, 8, &micro_kernel<8, 8>},
};

}  // namespace

std::span<const MicroKernelEntry> avx2_micro_kernels() noexcept { return kTiles; }

}  // namespace attune::kernels::detail
