// AVX-512 SGEMM micro-kernels. Each tile keeps an MR x (NR/16) block of C in zmm accumulators;
// per k-iteration it loads NR/16 vectors of a B row and broadcasts MR elements of an A column,
// so one tile issues MR*NR/16 independent FMAs per iteration, enough to cover the FMA latency.
// This is the only file compiled with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma, and its
// kernels are reached only through the table after a CPUID check.

#include <immintrin.h>

#include <algorithm>
#include <cstddef>

#include "kernels/cpu/gemm_micro_kernel.hpp"

namespace attune::kernels::detail {
namespace {

constexpr int kLanes = 16;

// kPackedA: A is a packed MR-row panel read at compile-time offsets; otherwise rows are read in
// place through strides (clamped to row m-1 so that edge tiles never touch memory past A).
// kFullN: n == NR, so B and C are read with plain loads; edge tiles use k-masks instead.
template <int kMr, int kNv, bool kPackedA, bool kFullN, bool kPrefetch>
[[gnu::always_inline]] inline void tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                                        std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b,
                                        float beta, float* c, std::ptrdiff_t ldc, int m, int n,
                                        int prefetch) {
  __m512 acc[kMr][kNv];
#pragma GCC unroll 32
  for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < kNv; ++v) acc[i][v] = _mm512_setzero_ps();
  }

  __mmask16 mask[kNv];
#pragma GCC unroll 8
  for (int v = 0; v < kNv; ++v) {
    const int rem = n - v * kLanes;
    mask[v] =
        rem >= kLanes ? __mmask16(0xFFFF) : (rem <= 0 ? __mmask16(0) : __mmask16((1u << rem) - 1u));
  }

  if constexpr (kPrefetch) {
    // The C tile is needed only after the k loop, so a prefetch now has the whole loop to land.
#pragma GCC unroll 32
    for (int i = 0; i < kMr; ++i) {
      if (i < m) {
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) {
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
      __m512 bv[kNv];
#pragma GCC unroll 8
      for (int v = 0; v < kNv; ++v) {
        bv[v] = kFullN ? _mm512_loadu_ps(b + v * kLanes)
                       : _mm512_maskz_loadu_ps(mask[v], b + v * kLanes);
      }
      if constexpr (kPrefetch) {
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) {
          _mm_prefetch(reinterpret_cast<const char*>(b + b_ahead + v * kLanes), _MM_HINT_T0);
        }
#pragma GCC unroll 4
        for (int off = 0; off < kMr; off += kLanes) {
          _mm_prefetch(reinterpret_cast<const char*>(a + a_ahead + off), _MM_HINT_T0);
        }
      }
#pragma GCC unroll 32
      for (int i = 0; i < kMr; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
      a += kMr;
      b += rs_b;
    }
  } else {
    const float* rows[kMr];
#pragma GCC unroll 32
    for (int i = 0; i < kMr; ++i) rows[i] = a + std::min(i, m - 1) * rs_a;
    std::ptrdiff_t off = 0;
#pragma GCC unroll 2
    for (int p = 0; p < k; ++p) {
      __m512 bv[kNv];
#pragma GCC unroll 8
      for (int v = 0; v < kNv; ++v) {
        bv[v] = kFullN ? _mm512_loadu_ps(b + v * kLanes)
                       : _mm512_maskz_loadu_ps(mask[v], b + v * kLanes);
      }
#pragma GCC unroll 32
      for (int i = 0; i < kMr; ++i) {
        const __m512 ai = _mm512_set1_ps(rows[i][off]);
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
      off += cs_a;
      b += rs_b;
    }
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  const bool read_c = beta != 0.0f;
#pragma GCC unroll 32
  for (int i = 0; i < kMr; ++i) {
    if (i >= m) break;
    float* cr = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < kNv; ++v) {
      __m512 r = _mm512_mul_ps(acc[i][v], va);
      if constexpr (kFullN) {
        if (read_c) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + v * kLanes), r);
        _mm512_storeu_ps(cr + v * kLanes, r);
      } else if (mask[v] != 0) {
        if (read_c) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], cr + v * kLanes), r);
        _mm512_mask_storeu_ps(cr + v * kLanes, mask[v], r);
      }
    }
  }
}

template <int kMr, int kNr>
void micro_kernel(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                  const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc,
                  int m, int n, int prefetch) {
  static_assert(kNr % kLanes == 0);
  constexpr int kNv = kNr / kLanes;
  const bool full_n = n == kNr;
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

// Each shape fills most of the 32 zmm registers: MR*NR/16 accumulators + NR/16 B vectors + one
// broadcast, with at least 24 independent FMAs per k-iteration.
constexpr MicroKernelEntry kTiles[] = {
    {6, 64, &micro_kernel<6, 64>},   {8, 48, &micro_kernel<8, 48>},
    {12, 32, &micro_kernel<12, 32>}, {14, 32, &micro_kernel<14, 32>},
    {24, 16, &micro_kernel<24, 16>}, {28, 16, &micro_kernel<28, 16>},
};

}  // namespace

std::span<const MicroKernelEntry> avx512_micro_kernels() noexcept { return kTiles; }

}  // namespace attune::kernels::detail
