#pragma once
/// \file
/// attune's built-in tunable SGEMM for the CPU: C = alpha * A * B + beta * C on row-major float
/// matrices. The structure follows BLIS: a small register-blocked micro-kernel per instruction set
/// (chosen at run time from CPUID) and portable blocking, packing and threading code around it.
/// Every choice the speed depends on is a field of GemmParams, so the tuner can search over it;
/// check() says whether a GemmParams can run before anything is run.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attune::kernels {

/// The instruction sets a micro-kernel is compiled for. Scalar is portable C++ (whatever the
/// compiler's baseline vectorizer makes of it) and runs on every x86-64, so a build always has a
/// working SGEMM even where neither AVX path is supported.
enum class Isa {
  Avx512,  ///< AVX-512 F/VL/BW/DQ with FMA: 16 fp32 lanes, 32 zmm registers
  Avx2,    ///< AVX2 with FMA: 8 fp32 lanes, 16 ymm registers
  Scalar,  ///< portable C++, no ISA extension required
};

/// "avx512", "avx2", "scalar".
std::string_view to_string(Isa isa) noexcept;
/// The inverse of to_string; nullopt for an unknown name.
std::optional<Isa> isa_from_string(std::string_view name) noexcept;
/// Whether this CPU (and OS) can run the micro-kernels compiled for `isa` (runtime CPUID).
bool isa_supported(Isa isa) noexcept;
/// The fastest instruction set this CPU supports: Avx512, else Avx2, else Scalar.
Isa best_isa() noexcept;

/// Which loop of the five blocking loops the threads split.
enum class GemmLoop {
  Jc,  ///< the N dimension: each thread owns a column range with its own packed B
  Ic,  ///< the M dimension: threads share each packed B panel and pack their own A blocks;
       ///< they claim the panel's rows as they go (an MC block at a time, smaller near the end),
       ///< so a thread whose core is slowed by other work leaves more rows to the others
  Jr,  ///< the micro-panels of B inside each block: threads share the packed B panel, each
       ///< packs its own copy of the A block (no barrier per A block)
  Kc,  ///< the K dimension: each thread computes a partial product, then the partials are summed;
       ///< for skinny shapes (small M and N, large K) where the other loops have too little work
};

/// "jc", "ic", "jr", "kc".
std::string_view to_string(GemmLoop loop) noexcept;
/// The inverse of to_string; nullopt for an unknown name.
std::optional<GemmLoop> gemm_loop_from_string(std::string_view name) noexcept;

/// Everything the speed of sgemm() depends on. A value is runnable when check() returns empty.
struct GemmParams {
  int mr = 0;       ///< micro-tile rows (register blocking); (mr, nr) must be in micro_tiles(isa)
  int nr = 0;       ///< micro-tile columns
  int mc = 0;       ///< rows of the A block packed per ic step (L2-resident); a multiple of mr
  int kc = 0;       ///< depth of the A block and B panel per pc step (>= 1)
  int nc = 0;       ///< columns of the B panel packed per jc step (L3-resident); a multiple of nr
  int threads = 1;  ///< OpenMP threads (>= 1); the team may be smaller if OpenMP grants fewer
  GemmLoop loop = GemmLoop::Ic;  ///< the loop the threads split (ignored when threads == 1)
  bool pack_a = true;  ///< copy A blocks into contiguous micro-panels; false reads A in place
  bool pack_b = true;  ///< copy B panels into contiguous micro-panels; false reads B in place
  /// Software prefetch distance in k-iterations of the micro-kernel for the A and B micro-panels
  /// (and the next in-place ones); 0 turns it off. The AVX-512 micro-kernels on a packed A panel
  /// leave a packed B micro-panel, one contiguous stream, to the hardware prefetchers. The C
  /// tile: the AVX2 micro-kernels prefetch it before the k loop when prefetch > 0; the
  /// full-height AVX-512 ones on packed A always prefetch it 32 iterations before the end of the
  /// loop.
  int prefetch = 0;
  /// Order of the two loops around the micro-kernel. true (jr outside ir): each B micro-panel
  /// (kc x nr) is reused by every A micro-panel of the block, from L1 when kc * nr * 4 bytes fit
  /// there, else from L2 (the AVX-512 default: 1024 x 64, 256 KiB), while the A block streams
  /// from L2. false (ir outside jr): each A micro-panel (mr x kc) stays in L1 while the packed B
  /// panel (kc x nc) streams from L2; suits a B panel that fits L2 and a large A block.
  bool jr_outer = true;
  /// With pack_b, when each KC x NC panel of B is packed. false: in a pass of its own just before
  /// the loops that use it. true: while the previous panel is in use, each micro-kernel call
  /// copying an equal share of it between its FMAs, so that reading B from memory overlaps with
  /// arithmetic (the first panel of a call still packs in a pass of its own). Costs a second
  /// panel buffer. Under ic, where every thread reads the whole shared panel, each copies a share
  /// of the next panel's rows and the threads meet once per panel instead of twice; under jr each
  /// thread copies the micro-panels it will read itself, and the threads meet only where the
  /// panels change shape (the last K or N block). Ignored without pack_b.
  bool pack_b_ahead = false;
  /// Under pack_b_ahead, how far ahead of each copied B row segment to prefetch, in floats along
  /// the row; 0 leaves it to the hardware prefetchers.
  int pack_b_prefetch = 0;

  friend bool operator==(const GemmParams&, const GemmParams&) = default;
};

/// "mr=12 nr=32 mc=... loop=ic pack_a=1 ..." for logs and error messages.
std::string to_string(const GemmParams& params);

/// The (mr, nr) micro-tile shapes compiled for `isa`, whether or not this CPU supports it.
std::vector<std::pair<int, int>> micro_tiles(Isa isa);

/// Empty when `params` can run on `isa` on this CPU; otherwise the first reason it cannot (the
/// tile is not compiled for the ISA, the CPU lacks the ISA, mc is not a multiple of mr, ...).
std::string check(const GemmParams& params, Isa isa);

/// One fixed, shape-independent configuration for `isa` with `threads` threads: the untuned
/// baseline the tuner is compared against. check(default_params(isa, t), isa) is empty for any
/// t >= 1 when isa_supported(isa).
GemmParams default_params(Isa isa, int threads);

/// C = alpha * A * B + beta * C with A m x k (row stride lda >= k), B k x n (ldb >= n) and
/// C m x n (ldc >= n), all row-major. Requires m, n, k >= 1 and non-null pointers; C must not
/// overlap A or B. When beta == 0, C is written without being read (it may hold NaN); when
/// alpha == 0, A and B are not read and C is only scaled by beta.
/// Packing buffers are 64-byte aligned, owned by the calling thread (and by each OpenMP thread)
/// and grow only, so repeated calls of the same size allocate nothing. Safe to call from several
/// threads at once.
/// \throws attune::Error (InvalidArgument) when check(params, isa) fails or a size or leading
/// dimension is out of range; nothing has been written to C then.
void sgemm(const GemmParams& params, Isa isa, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc);

/// The reference for verification: out = alpha * A * B + beta * C_in accumulated in double, with
/// `out` m x n, row stride n. c_in is read only when beta != 0 (it may be null otherwise).
/// Loops in i-k-j order over blocks of rows, so it vectorizes and reads B once per four rows.
/// \throws attune::Error (InvalidArgument) for sizes < 1 or leading dimensions too small.
void reference_gemm(int m, int n, int k, double alpha, const float* a, int lda, const float* b,
                    int ldb, double beta, const float* c_in, int ldc, double* out);

/// reference_gemm for the chosen `rows` of C only (each in [0, m), any order, repeats allowed):
/// row r of `out` (row stride n) is row rows[r] of the full result. Verifying a large product on
/// a sample of rows (first, last, block edges, random) costs rows.size() * n * k operations.
/// \throws attune::Error (InvalidArgument) for a row out of range or a bad size.
void reference_gemm_rows(std::span<const int> rows, int m, int n, int k, double alpha,
                         const float* a, int lda, const float* b, int ldb, double beta,
                         const float* c_in, int ldc, double* out);

}  // namespace attune::kernels
