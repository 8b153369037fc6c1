// AVX-512 SGEMM micro-kernels. Each tile keeps an MR x (NR/16) block of C in zmm accumulators;
// per k-iteration it loads NR/16 vectors of a B row and broadcasts MR elements of an A column,
// so one tile issues MR*NR/16 independent FMAs per iteration, enough to cover the FMA latency.
// A tile at the right edge of C computes only the vectors it has columns in, the last of them
// 256 bits wide when it holds 8 columns or fewer.
// A call that carries a share of packing the next B panel spreads its copies evenly over the k
// loop, where they use load and store slots the FMAs leave free. This is the only file compiled
// with -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma, and its kernels are reached only through
// the table after a CPUID check.

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/cpu/gemm_micro_kernel.hpp"

namespace attune::kernels::detail {
namespace {

constexpr int kLanes = 16;
constexpr int kCLead = 32;

__mmask16 lanes_below(int count) {
  return count >= kLanes ? __mmask16(0xFFFF)
                         : (count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1u));
}

// Walks the units of a PanelCopy (see gemm_micro_kernel.hpp) one at a time, so that the k loop
// can place one unit between any two of its iterations.
template <int kNv>
class PanelCopier {
 public:
  explicit PanelCopier(const PanelCopy& copy)
      : panels_(copy.panels),
        q_(copy.first % copy.panels),
        panel_step_(std::ptrdiff_t{copy.kc} * kNv * kLanes),
        ld_(copy.ld),
        prefetch_(copy.prefetch) {
    const int p = copy.first / copy.panels;
    row_ = copy.src + p * copy.ld;
    to_row_ = copy.dst + std::ptrdiff_t{p} * kNv * kLanes;
    from_ = row_ + std::ptrdiff_t{q_} * kNv * kLanes;
    to_ = to_row_ + q_ * panel_step_;
#pragma GCC unroll 8
    for (int v = 0; v < kNv; ++v) last_mask_[v] = lanes_below(copy.last_cols - v * kLanes);
  }

  [[gnu::always_inline]] void copy_one() {
    if (prefetch_ > 0) {
#pragma GCC unroll 8
      for (int v = 0; v < kNv; ++v) {
        _mm_prefetch(reinterpret_cast<const char*>(from_ + prefetch_ + v * kLanes), _MM_HINT_T0);
      }
    }
    if (q_ + 1 < panels_) {
#pragma GCC unroll 8
      for (int v = 0; v < kNv; ++v) {
        _mm512_store_ps(to_ + v * kLanes, _mm512_loadu_ps(from_ + v * kLanes));
      }
      ++q_;
      from_ += kNv * kLanes;
      to_ += panel_step_;
    } else {
      // The last micro-panel of the row may be narrower than NR: masked loads read only its
      // columns and the full stores write the zero padding.
#pragma GCC unroll 8
      for (int v = 0; v < kNv; ++v) {
        _mm512_store_ps(to_ + v * kLanes, _mm512_maskz_loadu_ps(last_mask_[v], from_ + v * kLanes));
      }
      q_ = 0;
      row_ += ld_;
      to_row_ += kNv * kLanes;
      from_ = row_;
      to_ = to_row_;
    }
  }

 private:
  int panels_;
  int q_;
  std::ptrdiff_t panel_step_;
  std::ptrdiff_t ld_;
  int prefetch_;
  const float* row_;
  float* to_row_;
  const float* from_;
  float* to_;
  __mmask16 last_mask_[kNv];
};

// Runs `iteration` k times and, when `copy` is not null, its units evenly in between: one unit
// every k / count iterations (or several per iteration when there are more units than
// iterations), so the copy's loads and stores fill issue slots the FMAs leave free instead of
// waiting for memory in a block of their own.
template <int kNv, class Iteration>
[[gnu::always_inline]] inline void k_loop(int k, const PanelCopy* copy, Iteration&& iteration) {
  int rest = k;
  if (copy != nullptr && copy->count > 0) {
    PanelCopier<kNv> copier(*copy);
    const int units = copy->count;
    if (k == 0) {
      for (int u = 0; u < units; ++u) copier.copy_one();
    } else if (units <= k) {
      const int every = k / units;
      for (int u = 0; u < units; ++u) {
        copier.copy_one();
#pragma GCC unroll 4
        for (int s = 0; s < every; ++s) iteration();
      }
      rest = k - units * every;
    } else {
      const int per = units / k;
      int extra = units - per * k;
      for (int p = 0; p < k; ++p) {
        for (int u = 0; u < per; ++u) copier.copy_one();
        if (extra > 0) {
          copier.copy_one();
          --extra;
        }
        iteration();
      }
      rest = 0;
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < rest; ++p) iteration();
}

// What a tile on a packed A panel prefetches `prefetch` k-iterations ahead.
enum class Ahead {
  Nothing,
  A,      // the A panel only: B is a packed micro-panel
  AAndB,  // both: B is read in place
};

// How a tile of width W (its kNv vectors, 16 columns each) reads and writes its n columns of B
// and C.
enum class Cols {
  Full,      // n == W: plain loads and stores
  Masked,    // n < W: each vector masked to the columns it has
  HalfTail,  // W - 16 < n <= W - 8: the vectors before the last are full, and the last is a
             // masked 256-bit one. Where a 512-bit FMA issues as two 256-bit halves (Zen 4), the
             // 256-bit FMA takes half the issue slots, so a tail of 1 to 8 columns costs half a
             // vector instead of a whole one.
};

// The column handling for n columns of a tile of kNv vectors, as a compile-time value for body.
template <int kNv, class Body>
[[gnu::always_inline]] inline void with_cols(int n, Body&& body) {
  constexpr int kBefore = (kNv - 1) * kLanes;
  if (n == kNv * kLanes) {
    body(std::integral_constant<Cols, Cols::Full>{});
  } else if (n > kBefore && n <= kBefore + kLanes / 2) {
    body(std::integral_constant<Cols, Cols::HalfTail>{});
  } else {
    body(std::integral_constant<Cols, Cols::Masked>{});
  }
}

// C[0:m, 0:n] = alpha * acc + beta * C, or acc + beta * C without kScale (alpha == 1). Under
// Cols::HalfTail the last vector's accumulators are `tail`, not acc[i][kNv - 1].
template <int kMr, int kNv, Cols kCols, bool kScale>
[[gnu::always_inline]] inline void store_tile(const __m512 (&acc)[kMr][kNv],
                                              const __m256 (&tail)[kMr],
                                              const __mmask16 (&mask)[kNv], __mmask8 tail_mask,
                                              float alpha, float beta, float* c, std::ptrdiff_t ldc,
                                              int m) {
  constexpr bool kHalf = kCols == Cols::HalfTail;
  constexpr int kWide = kHalf ? kNv - 1 : kNv;
  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  const __m256 va_half = _mm256_set1_ps(alpha);
  const __m256 vb_half = _mm256_set1_ps(beta);
  const bool read_c = beta != 0.0f;
#pragma GCC unroll 32
  for (int i = 0; i < kMr; ++i) {
    if (i >= m) break;
    float* cr = c + i * ldc;
#pragma GCC unroll 8
    for (int v = 0; v < kWide; ++v) {
      __m512 r = acc[i][v];
      if constexpr (kScale) r = _mm512_mul_ps(r, va);
      if constexpr (kCols != Cols::Masked) {
        if (read_c) r = _mm512_fmadd_ps(vb, _mm512_loadu_ps(cr + v * kLanes), r);
        _mm512_storeu_ps(cr + v * kLanes, r);
      } else if (mask[v] != 0) {
        if (read_c) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask[v], cr + v * kLanes), r);
        _mm512_mask_storeu_ps(cr + v * kLanes, mask[v], r);
      }
    }
    if constexpr (kHalf) {
      float* ct = cr + kWide * kLanes;
      __m256 r = tail[i];
      if constexpr (kScale) r = _mm256_mul_ps(r, va_half);
      if (read_c) r = _mm256_fmadd_ps(vb_half, _mm256_maskz_loadu_ps(tail_mask, ct), r);
      _mm256_mask_storeu_ps(ct, tail_mask, r);
    }
  }
}

// kPackedA: A is a packed MR-row panel read at compile-time offsets; otherwise rows are read in
// place through strides (clamped to row m-1 so that edge tiles never touch memory past A).
// kCols: how B and C columns are read (see Cols).
template <int kMr, int kNv, bool kPackedA, Cols kCols, Ahead kAhead = Ahead::Nothing>
[[gnu::always_inline]] inline void tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                                        std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b,
                                        float beta, float* c, std::ptrdiff_t ldc, int m, int n,
                                        int prefetch, const PanelCopy* copy) {
  constexpr bool kHalf = kCols == Cols::HalfTail;
  constexpr int kWide = kHalf ? kNv - 1 : kNv;  // 512-bit vectors per row
  __m512 acc[kMr][kNv];
  __m256 acc_tail[kMr];
#pragma GCC unroll 32
  for (int i = 0; i < kMr; ++i) {
#pragma GCC unroll 8
    for (int v = 0; v < kWide; ++v) acc[i][v] = _mm512_setzero_ps();
    if constexpr (kHalf) acc_tail[i] = _mm256_setzero_ps();
  }

  __mmask16 mask[kNv];
#pragma GCC unroll 8
  for (int v = 0; v < kNv; ++v) mask[v] = lanes_below(n - v * kLanes);
  const auto tail_mask = static_cast<__mmask8>(mask[kNv - 1]);

  // One k-iteration: row p of B times column p of A (a_at(i) = A(i, p)) into the accumulators.
  const auto multiply = [&](const float* b_row, const auto& a_at) __attribute__((always_inline)) {
    __m512 bv[kNv];
#pragma GCC unroll 8
    for (int v = 0; v < kWide; ++v) {
      bv[v] = kCols == Cols::Masked ? _mm512_maskz_loadu_ps(mask[v], b_row + v * kLanes)
                                    : _mm512_loadu_ps(b_row + v * kLanes);
    }
    __m256 b_tail = _mm256_setzero_ps();
    if constexpr (kHalf) b_tail = _mm256_maskz_loadu_ps(tail_mask, b_row + kWide * kLanes);
#pragma GCC unroll 32
    for (int i = 0; i < kMr; ++i) {
      if constexpr (kWide > 0) {
        const __m512 ai = _mm512_set1_ps(a_at(i));
#pragma GCC unroll 8
        for (int v = 0; v < kWide; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        if constexpr (kHalf) {
          // The low half of the broadcast, in the same register (_mm512_castps512_ps256 does
          // the same, but GCC 12 warns of an uninitialized value inside it).
          const __m256 ai_low = __builtin_shufflevector(ai, ai, 0, 1, 2, 3, 4, 5, 6, 7);
          acc_tail[i] = _mm256_fmadd_ps(ai_low, b_tail, acc_tail[i]);
        }
      } else {
        acc_tail[i] = _mm256_fmadd_ps(_mm256_set1_ps(a_at(i)), b_tail, acc_tail[i]);
      }
    }
  };

  if constexpr (kPackedA) {
    const std::ptrdiff_t b_ahead = std::ptrdiff_t{prefetch} * rs_b;
    const std::ptrdiff_t a_ahead = std::ptrdiff_t{prefetch} * kMr;
    const auto packed_a_at = [&](int i) __attribute__((always_inline)) { return a[i]; };
    const auto iteration = [&]() __attribute__((always_inline)) {
      if constexpr (kAhead == Ahead::AAndB) {
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) {
          _mm_prefetch(reinterpret_cast<const char*>(b + b_ahead + v * kLanes), _MM_HINT_T0);
        }
      }
      if constexpr (kAhead != Ahead::Nothing) {
#pragma GCC unroll 4
        for (int off = 0; off < kMr; off += kLanes) {
          _mm_prefetch(reinterpret_cast<const char*>(a + a_ahead + off), _MM_HINT_T0);
        }
      }
      multiply(b, packed_a_at);
      a += kMr;
      b += rs_b;
    };
    // The C tile is needed only after the k loop. Prefetched at its start, it would have to
    // survive the whole loop in L1 while the B micro-panel streams through; prefetched this many
    // iterations before the end, it lands just in time, from wherever it is. This one is not
    // tied to `prefetch`: the tile's MR rows are ldc apart, a pattern the hardware prefetchers
    // do not follow, and fetching them early measured 0.5-1.5% faster on one thread at every
    // square and transformer shape tried, never slower. The copy's units are shared between
    // the two parts of the loop in proportion to their iterations, so they stay spread out.
    const int c_lead = std::min(k, kCLead);
    PanelCopy head{};
    PanelCopy tail{};
    if (copy != nullptr) {
      head = *copy;
      head.count = k > 0 ? static_cast<int>(std::int64_t{copy->count} * (k - c_lead) / k) : 0;
      tail = *copy;
      tail.first = copy->first + head.count;
      tail.count = copy->count - head.count;
    }
    k_loop<kNv>(k - c_lead, copy != nullptr ? &head : nullptr, iteration);
#pragma GCC unroll 32
    for (int i = 0; i < kMr; ++i) {
      if (i < m) {
#pragma GCC unroll 8
        for (int v = 0; v < kNv; ++v) {
          _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + v * kLanes), _MM_HINT_T0);
        }
      }
    }
    k_loop<kNv>(c_lead, copy != nullptr ? &tail : nullptr, iteration);
  } else {
    const float* rows[kMr];
#pragma GCC unroll 32
    for (int i = 0; i < kMr; ++i) rows[i] = a + std::min(i, m - 1) * rs_a;
    std::ptrdiff_t off = 0;
    const auto in_place_a_at = [&](int i) __attribute__((always_inline)) { return rows[i][off]; };
    const auto iteration = [&]() __attribute__((always_inline)) {
      multiply(b, in_place_a_at);
      off += cs_a;
      b += rs_b;
    };
    k_loop<kNv>(k, copy, iteration);
  }

  // alpha == 1, the usual case, needs no scaling: MR * NR / 16 multiplies fewer per tile (24
  // beside the 1536 FMAs of a 64-deep 6 x 64 tile; 64^3 on one thread measured 0.8% faster).
  if (alpha == 1.0f) {
    store_tile<kMr, kNv, kCols, false>(acc, acc_tail, mask, tail_mask, alpha, beta, c, ldc, m);
  } else {
    store_tile<kMr, kNv, kCols, true>(acc, acc_tail, mask, tail_mask, alpha, beta, c, ldc, m);
  }
}

// An edge tile of m < kMr rows in the smallest of kRows... that holds them (and is smaller than
// kMr), read through strides (a packed panel is a strided read too: rs_a = 1, cs_a = its MR);
// false when none is smaller than kMr and holds them.
template <int kMr, int kNv, int kRows, int... kLarger>
bool edge_tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
               const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc, int m,
               int n, const PanelCopy* copy) {
  if constexpr (kRows < kMr) {
    if (m <= kRows) {
      with_cols<kNv>(n, [&](auto cols) {
        tile<kRows, kNv, false, decltype(cols)::value>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c,
                                                       ldc, m, n, 0, copy);
      });
      return true;
    }
    if constexpr (sizeof...(kLarger) > 0) {
      return edge_tile<kMr, kNv, kLarger...>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n,
                                             copy);
    }
  }
  return false;
}

// The tile for the kNv vectors of columns of a kMr x kNr micro-kernel, n <= kNv * 16 columns.
// packed_b: B is a packed micro-panel (rows kNr apart).
template <int kMr, int kNv>
void columns_tile(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                  const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc,
                  int m, int n, int prefetch, bool packed_b, const PanelCopy* copy) {
  // The last tile of an N that is no multiple of NR spends FMAs only on the vectors it has
  // columns in, and on half of the last when it holds 8 columns or fewer (Cols::HalfTail): 8
  // columns of a 64-wide tile take half a vector instead of four (one thread, 6 x 64 tiles: 8^3
  // at 10.0 GFLOP/s against 7.7, 100^3 at 103.2 against 87.7). Not with a share of packing, whose
  // units are NR wide.
  if constexpr (kNv > 1) {
    if (copy == nullptr && n <= (kNv - 1) * kLanes) {
      columns_tile<kMr, kNv - 1>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, prefetch,
                                 packed_b, nullptr);
      return;
    }
  }
  // The last tile of an M that is no multiple of MR: a tile of all kMr rows would spend its FMAs
  // on rows past m (64 rows in 6-row tiles end with 4; 64 in 28-row tiles with 8), so a smaller
  // one does the rows there are.
  if (m < kMr && edge_tile<kMr, kNv, 2, 4, 8, 16>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m,
                                                  n, copy)) {
    return;
  }
  with_cols<kNv>(n, [&](auto cols) {
    constexpr Cols kCols = decltype(cols)::value;
    if (rs_a != 1 || cs_a != kMr) {
      tile<kMr, kNv, false, kCols>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, 0, copy);
    } else if (prefetch <= 0) {
      tile<kMr, kNv, true, kCols, Ahead::Nothing>(k, alpha, a, 1, kMr, b, rs_b, beta, c, ldc, m, n,
                                                  0, copy);
    } else if (packed_b) {
      // A packed B micro-panel (rows NR apart) is one contiguous stream, which the hardware
      // prefetchers follow: prefetching it as well spent a load slot per cache line for nothing,
      // 3.5% of 2048^3 on one thread (6 x 64 tiles, KC = 1024, the micro-panel streaming from
      // L2). B read in place has its rows ldb apart, which they do not follow.
      tile<kMr, kNv, true, kCols, Ahead::A>(k, alpha, a, 1, kMr, b, rs_b, beta, c, ldc, m, n,
                                            prefetch, copy);
    } else {
      tile<kMr, kNv, true, kCols, Ahead::AAndB>(k, alpha, a, 1, kMr, b, rs_b, beta, c, ldc, m, n,
                                                prefetch, copy);
    }
  });
}

template <int kMr, int kNr>
void micro_kernel(int k, float alpha, const float* a, std::ptrdiff_t rs_a, std::ptrdiff_t cs_a,
                  const float* b, std::ptrdiff_t rs_b, float beta, float* c, std::ptrdiff_t ldc,
                  int m, int n, int prefetch, const PanelCopy* copy) {
  static_assert(kNr % kLanes == 0);
  columns_tile<kMr, kNr / kLanes>(k, alpha, a, rs_a, cs_a, b, rs_b, beta, c, ldc, m, n, prefetch,
                                  rs_b == kNr, copy);
}

// Each shape fills most of the 32 zmm registers: MR*NR/16 accumulators + NR/16 B vectors + one
// broadcast, with at least 24 independent FMAs per k-iteration; except 16 x 16, whose 16 still
// cover the FMA latency (4 cycles, one or two 512-bit FMAs per cycle) and whose rows divide the
// 64-row skinny shapes exactly (64 x 4096 x 4096 on two threads, K split: 211 GFLOP/s against
// 201 with 24 x 16 tiles, whose last tile has 16 rows of 24).
constexpr MicroKernelEntry kTiles[] = {
    {6, 64, &micro_kernel<6, 64>},   {8, 48, &micro_kernel<8, 48>},
    {12, 32, &micro_kernel<12, 32>}, {14, 32, &micro_kernel<14, 32>},
    {16, 16, &micro_kernel<16, 16>}, {24, 16, &micro_kernel<24, 16>},
    {28, 16, &micro_kernel<28, 16>},
};

}  // namespace

std::span<const MicroKernelEntry> avx512_micro_kernels() noexcept { return kTiles; }

}  // namespace attune::kernels::detail
