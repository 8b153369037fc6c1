// The portable part of the built-in SGEMM: parameter validation, ISA dispatch, the BLIS-style five
// blocking loops (jc over NC, pc over KC, ic over MC, jr over NR, ir over MR), packing of B panels
// and A blocks into micro-panels (B either in a pass of its own or ahead of use, handed out in
// shares to the micro-kernel calls on the previous panel), OpenMP threading over the loop
// GemmParams::loop names, the portable scalar micro-kernels, and the double-precision reference
// used for verification. No line here names a CPU: the micro-kernel and its tile come from the
// per-ISA tables.

#include "attune/kernels/gemm.hpp"

#include <omp.h>
#include <sys/mman.h>
#include <xmmintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "attune/error.hpp"
#include "kernels/cpu/gemm_micro_kernel.hpp"

namespace attune::kernels {
namespace detail {
namespace {

// Portable tiles: plain C++ the baseline (SSE2) vectorizer handles; slow but correct anywhere.
template <int kMr, int kNr>
void scalar_micro_kernel(int k, float alpha, const float* a, std::ptrdiff_t rs_a,
                         std::ptrdiff_t cs_a, const float* b, std::ptrdiff_t rs_b, float beta,
                         float* c, std::ptrdiff_t ldc, int m, int n, int /*prefetch*/,
                         const PanelCopy* copy) {
  if (copy != nullptr) copy_panel(*copy, kNr);
  float acc[kMr][kNr] = {};
  const float* rows[kMr];
  for (int i = 0; i < kMr; ++i) rows[i] = a + std::min(i, m - 1) * rs_a;
  for (int p = 0; p < k; ++p) {
    const float* bp = b + p * rs_b;
    float bv[kNr];
    for (int j = 0; j < kNr; ++j) bv[j] = j < n ? bp[j] : 0.0f;
    for (int i = 0; i < kMr; ++i) {
      const float ai = rows[i][p * cs_a];
      for (int j = 0; j < kNr; ++j) acc[i][j] += ai * bv[j];
    }
  }
  for (int i = 0; i < m; ++i) {
    float* cr = c + i * ldc;
    for (int j = 0; j < n; ++j) {
      cr[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * cr[j];
    }
  }
}

constexpr MicroKernelEntry kScalarTiles[] = {
    {4, 8, &scalar_micro_kernel<4, 8>},
    {6, 8, &scalar_micro_kernel<6, 8>},
};

}  // namespace

std::span<const MicroKernelEntry> scalar_micro_kernels() noexcept { return kScalarTiles; }

void copy_panel(const PanelCopy& copy, int nr) noexcept {
  if (copy.count <= 0) return;
  int p = copy.first / copy.panels;
  int q = copy.first % copy.panels;
  for (int u = 0; u < copy.count; ++u) {
    const float* from = copy.src + p * copy.ld + std::ptrdiff_t{q} * nr;
    float* to = copy.dst + std::ptrdiff_t{q} * copy.kc * nr + std::ptrdiff_t{p} * nr;
    const int cols = q + 1 < copy.panels ? nr : copy.last_cols;
    for (int j = 0; j < cols; ++j) to[j] = from[j];
    for (int j = cols; j < nr; ++j) to[j] = 0.0f;
    if (++q == copy.panels) {
      q = 0;
      ++p;
    }
  }
}

namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kHugeThreshold = std::size_t{1} << 20;

// Only a hint: where the kernel has no transparent huge pages, memory stays on small pages.
void advise_huge_pages(void* p, std::size_t bytes) noexcept {
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);
#else
  (void)p;
  (void)bytes;
#endif
}

std::span<const MicroKernelEntry> tiles_for(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx512: return avx512_micro_kernels();
    case Isa::Avx2: return avx2_micro_kernels();
    case Isa::Scalar: return scalar_micro_kernels();
  }
  return {};
}

const MicroKernelEntry* find_tile(Isa isa, int mr, int nr) noexcept {
  for (const MicroKernelEntry& entry : tiles_for(isa)) {
    if (entry.mr == mr && entry.nr == nr) return &entry;
  }
  return nullptr;
}

constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }
constexpr int round_up(int a, int b) { return ceil_div(a, b) * b; }

// Contiguous share `id` of `units` split among `parts` as evenly as possible, as [first, last).
std::pair<int, int> share(int units, int parts, int id) {
  const auto first = static_cast<int>(std::int64_t{units} * id / parts);
  const auto last = static_cast<int>(std::int64_t{units} * (id + 1) / parts);
  return {first, last};
}

// A grow-only, 64-byte aligned float buffer. Never shrinking is what makes repeated calls free of
// malloc and page faults; the memory is returned when the owning thread exits.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  float* reserve(std::size_t count) {
    if (count > capacity_) {
      // A packed panel of a megabyte or more spans hundreds of 4 KiB pages, more than the L1 TLB
      // holds, and the micro-kernel walks it once per tile: such buffers are aligned to and
      // advised onto 2 MiB pages where the kernel offers transparent huge pages (on request).
      const bool huge = count * sizeof(float) >= kHugeThreshold;
      const std::size_t align = huge ? kHugePage : kAlignment;
      const std::size_t bytes = (count * sizeof(float) + align - 1) / align * align;
      void* fresh = std::aligned_alloc(align, bytes);
      if (fresh == nullptr) throw std::bad_alloc();
      if (huge) advise_huge_pages(fresh, bytes);
      std::free(data_);
      data_ = static_cast<float*>(fresh);
      capacity_ = bytes / sizeof(float);
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  std::size_t capacity_ = 0;
};

struct ThreadBuffers {
  AlignedBuffer a;        // packed A block, always private to the thread
  AlignedBuffer b;        // packed B panel (shared by the team under GemmLoop::Ic and Jr)
  AlignedBuffer partial;  // this thread's partial C under GemmLoop::Kc
};

ThreadBuffers& thread_buffers() {
  thread_local ThreadBuffers buffers;
  return buffers;
}

struct Problem {
  int m;
  int n;
  int k;
  float alpha;
  const float* a;
  std::ptrdiff_t lda;
  const float* b;
  std::ptrdiff_t ldb;
  float beta;
  float* c;
  std::ptrdiff_t ldc;
};

// GemmParams resolved against the micro-kernel table.
struct Blocking {
  MicroKernel kernel;
  int mr;
  int nr;
  int mc;
  int kc;
  int nc;
  bool pack_a;
  bool pack_b;
  int prefetch;
  bool jr_outer;
  bool pack_b_ahead;
  int pack_b_prefetch;

  // Whether each B panel is packed while the previous one is in use (two panel buffers).
  bool packs_ahead() const { return pack_b && pack_b_ahead; }
  std::size_t a_block_size(int rows, int k) const {
    return std::size_t(round_up(std::min(mc, rows), mr)) * std::size_t(std::min(kc, k));
  }
  std::size_t b_panel_size(int cols, int k) const {
    return std::size_t(round_up(std::min(nc, cols), nr)) * std::size_t(std::min(kc, k));
  }
  // Floats of B panel buffer a thread (or a team sharing it) needs: one panel, or two when the
  // next panel is packed while the current one is in use.
  std::size_t b_buffer_size(int cols, int k) const {
    return (packs_ahead() ? 2 : 1) * b_panel_size(cols, k);
  }
  // The two panel buffers inside a b_buffer_size buffer; the same one twice without packs_ahead.
  std::array<float*, 2> b_panels(float* buffer, int cols, int k) const {
    if (buffer == nullptr || !packs_ahead()) return {buffer, buffer};
    return {buffer, buffer + b_panel_size(cols, k)};
  }
};

// Row panels (MR rows each) of one B panel that the members of a team claim as they go, under
// GemmLoop::Ic: a whole MC block at a time while plenty are left, then smaller blocks, down to an
// eighth of one, so that the members finish the panel together. A static split leaves a member
// idle whenever the other's core runs slower for a while (another process, a busy hypervisor),
// and both cores of a 2-vCPU guest measured 5-18% dips of a few hundred milliseconds, apart.
// Smaller blocks are not free (each streams the whole B panel from L3 once), hence the floor.
class RowClaims {
 public:
  RowClaims(int row_panels, int block_panels, int members)
      : total_(row_panels),
        most_(block_panels),
        least_(std::max(1, block_panels / 8)),
        members_(members) {}

  // The next [first, last) row panels for the caller, empty once none are left.
  std::pair<int, int> claim(std::atomic<int>& next) const {
    int first = next.load(std::memory_order_relaxed);
    while (first < total_) {
      const int want = std::clamp(ceil_div(total_ - first, 2 * members_), least_, most_);
      const int last = std::min(total_, first + want);
      if (next.compare_exchange_weak(first, last, std::memory_order_relaxed)) return {first, last};
    }
    return {total_, total_};
  }

  // The row panels a member can expect to claim: for spreading its fixed share of packing the
  // next B panel over its calls (NextPanel). A member slowed by other work claims fewer and
  // copies what is left of its share at the end, while the others wait: a share of a copy that
  // is 1-2% of the panel's time, so claiming the copy's units too (tried: a counter per panel,
  // units claimed in 16 KiB batches) measured no faster, with or without a busy core.
  int expected_share() const { return ceil_div(total_, members_); }

 private:
  int total_;
  int most_;
  int least_;
  int members_;
};

// The threads that cooperate on one packed B panel.
struct Team {
  int id = 0;
  int size = 1;

  // Every member must reach the same sequence of barriers; a team of one never waits.
  void barrier() const {
    if (size > 1) {
#pragma omp barrier
    }
  }
};

// B micro-panels [first, last) of the kc x nc block at `b`: panel q holds columns
// [q*nr, q*nr + nr) as kc rows of nr floats, zero-padded past nc so the kernel may load whole rows.
// Row by row: each source row segment is read front to back, which the hardware prefetchers
// stream from memory, where a panel-by-panel walk would jump ldb floats per element row and wait
// on every cache miss (the cost that dominates a skinny-M product, whose B is read only once).
void pack_b(int kc, int nc, const float* b, std::ptrdiff_t ldb, int nr, int first, int last,
            float* dest) {
  const int j_first = first * nr;
  const int j_last = std::min(nc, last * nr);
  const int full_last = std::min(last, nc / nr);
  for (int p = 0; p < kc; ++p) {
    const float* from = b + p * ldb;
    float* row = dest + std::ptrdiff_t{p} * nr;
    for (int q = first; q < full_last; ++q) {
      float* to = row + std::ptrdiff_t{q} * kc * nr;
      const float* src = from + q * nr;
      for (int j = 0; j < nr; ++j) to[j] = src[j];
    }
    if (full_last < last && j_last > j_first) {
      const int q = full_last;
      const int width = j_last - q * nr;
      float* to = row + std::ptrdiff_t{q} * kc * nr;
      const float* src = from + q * nr;
      for (int j = 0; j < width; ++j) to[j] = src[j];
      for (int j = width; j < nr; ++j) to[j] = 0.0f;
    }
  }
}

// A micro-panels [first, last) of the mc x kc block at `a`: panel r holds rows [r*mr, r*mr + mr)
// column by column (kc columns of mr floats), zero-padded past mc so the kernel needs no row test.
void pack_a(int mc, int kc, const float* a, std::ptrdiff_t lda, int mr, int first, int last,
            float* dest) {
  for (int r = first; r < last; ++r) {
    const int i0 = r * mr;
    const int height = std::min(mr, mc - i0);
    float* panel = dest + std::ptrdiff_t{r} * kc * mr;
    // Four rows at a time: reads stay sequential per row, and each store burst fills 16 bytes of
    // one panel column instead of touching a new cache line per element.
    int i = 0;
    for (; i + 4 <= height; i += 4) {
      const float* r0 = a + (i0 + i) * lda;
      const float* r1 = r0 + lda;
      const float* r2 = r1 + lda;
      const float* r3 = r2 + lda;
      // 4 x 4 blocks transposed in SSE registers (part of every x86-64): a quarter of the
      // loads and stores of an element-by-element copy, which made packing A a tenth of a
      // square product's time.
      int p = 0;
      for (; p + 4 <= kc; p += 4) {
        // The next four rows are the next group's; fetching them now hides the memory latency
        // that otherwise stalls every row start (rows are lda apart, beyond the prefetchers).
        if (p % 16 == 0) {
          __builtin_prefetch(r3 + lda + p, 0, 3);
          __builtin_prefetch(r3 + 2 * lda + p, 0, 3);
          __builtin_prefetch(r3 + 3 * lda + p, 0, 3);
          __builtin_prefetch(r3 + 4 * lda + p, 0, 3);
        }
        __m128 c0 = _mm_loadu_ps(r0 + p);
        __m128 c1 = _mm_loadu_ps(r1 + p);
        __m128 c2 = _mm_loadu_ps(r2 + p);
        __m128 c3 = _mm_loadu_ps(r3 + p);
        _MM_TRANSPOSE4_PS(c0, c1, c2, c3);
        float* col = panel + std::ptrdiff_t{p} * mr + i;
        _mm_storeu_ps(col, c0);
        _mm_storeu_ps(col + mr, c1);
        _mm_storeu_ps(col + 2 * mr, c2);
        _mm_storeu_ps(col + 3 * mr, c3);
      }
      for (; p < kc; ++p) {
        float* col = panel + std::ptrdiff_t{p} * mr + i;
        col[0] = r0[p];
        col[1] = r1[p];
        col[2] = r2[p];
        col[3] = r3[p];
      }
    }
    // Two rows left (MR = 6 or 14): interleaved pairwise, each store one 8-byte column segment.
    if (i + 2 <= height) {
      const float* r0 = a + (i0 + i) * lda;
      const float* r1 = r0 + lda;
      int p = 0;
      for (; p + 4 <= kc; p += 4) {
        const __m128 c0 = _mm_loadu_ps(r0 + p);
        const __m128 c1 = _mm_loadu_ps(r1 + p);
        const __m128 low = _mm_unpacklo_ps(c0, c1);   // r0[p] r1[p] r0[p+1] r1[p+1]
        const __m128 high = _mm_unpackhi_ps(c0, c1);  // r0[p+2] r1[p+2] r0[p+3] r1[p+3]
        float* col = panel + std::ptrdiff_t{p} * mr + i;
        _mm_storel_pi(reinterpret_cast<__m64*>(col), low);
        _mm_storeh_pi(reinterpret_cast<__m64*>(col + mr), low);
        _mm_storel_pi(reinterpret_cast<__m64*>(col + 2 * mr), high);
        _mm_storeh_pi(reinterpret_cast<__m64*>(col + 3 * mr), high);
      }
      for (; p < kc; ++p) {
        float* col = panel + std::ptrdiff_t{p} * mr + i;
        col[0] = r0[p];
        col[1] = r1[p];
      }
      i += 2;
    }
    for (; i < height; ++i) {
      const float* row = a + (i0 + i) * lda;
      for (int p = 0; p < kc; ++p) panel[std::ptrdiff_t{p} * mr + i] = row[p];
    }
    if (height < mr) {
      for (int p = 0; p < kc; ++p) {
        for (int z = height; z < mr; ++z) panel[std::ptrdiff_t{p} * mr + z] = 0.0f;
      }
    }
  }
}

inline void prefetch_l2(const float* p) { __builtin_prefetch(p, 0, 2); }

// The packing of the next B panel while the current one is in use: this thread's share of the
// panel's units (see PanelCopy), handed out in equal parts to the micro-kernel calls it makes
// on the current panel, so the copy proceeds at the pace of the FMAs.
class NextPanel {
 public:
  // `share` covers this thread's units; `calls` is how many micro-kernel calls will take part.
  NextPanel(const PanelCopy& share, std::int64_t calls)
      : job_(share), first_(share.first), units_(share.count), calls_(calls) {}

  // The units for the next micro-kernel call, or null when it gets none.
  const PanelCopy* take() {
    if (taken_ >= calls_) return nullptr;
    const std::int64_t from = units_ * taken_ / calls_;
    const std::int64_t to = units_ * (taken_ + 1) / calls_;
    ++taken_;
    job_.first = first_ + static_cast<int>(from);
    job_.count = static_cast<int>(to - from);
    return job_.count > 0 ? &job_ : nullptr;
  }

  // Copies the units no call took: all of them when this thread ran no micro-kernel call.
  void finish(int nr) {
    const std::int64_t from = calls_ > 0 ? units_ * std::min(taken_, calls_) / calls_ : 0;
    job_.first = first_ + static_cast<int>(from);
    job_.count = units_ - static_cast<int>(from);
    if (job_.count > 0) copy_panel(job_, nr);
    taken_ = calls_;
  }

 private:
  PanelCopy job_;
  int first_;
  int units_;
  std::int64_t calls_;
  std::int64_t taken_ = 0;
};

// The two innermost loops: B micro-panels [q_first, q_last) (jr) times every A micro-panel (ir)
// of one mc x kc block; a and b are packed or in place according to the blocking.
// `next`, when not null, hands each micro-kernel call its share of packing the next B panel.
void macro_kernel(const Blocking& bl, int mc, int nc, int kc, int q_first, int q_last, float alpha,
                  const float* a, std::ptrdiff_t lda, const float* b, std::ptrdiff_t ldb,
                  float beta, float* c, std::ptrdiff_t ldc, NextPanel* next) {
  const std::ptrdiff_t rs_a = bl.pack_a ? 1 : lda;
  const std::ptrdiff_t cs_a = bl.pack_a ? bl.mr : 1;
  const std::ptrdiff_t a_step = bl.pack_a ? std::ptrdiff_t{bl.mr} * kc : bl.mr * lda;
  const std::ptrdiff_t rs_b = bl.pack_b ? bl.nr : ldb;
  const std::ptrdiff_t b_step = bl.pack_b ? std::ptrdiff_t{bl.nr} * kc : bl.nr;
  const int row_panels = ceil_div(mc, bl.mr);
  const int q_count = q_last - q_first;
  const auto tile = [&](int q, int r) {
    const int j = q * bl.nr;
    const int i = r * bl.mr;
    bl.kernel(kc, alpha, a + r * a_step, rs_a, cs_a, b + q * b_step, rs_b, beta, c + i * ldc + j,
              ldc, std::min(bl.mr, mc - i), std::min(bl.nr, nc - j), bl.prefetch,
              next != nullptr ? next->take() : nullptr);
  };
  // An operand read in place comes from wherever the caller's matrix lives, often memory, and a
  // strided walk (B rows ldb apart) defeats the hardware prefetchers. So, when prefetching is on,
  // the part of the next in-place micro-panel that the coming calls need is prefetched into L2
  // while the current tile computes: a whole panel when the next call needs it, or a share of it
  // per call when it is needed only after the current inner loop.
  const bool ahead = bl.prefetch > 0;
  const auto a_rows = [&](int r, int col_first, int col_last) {
    if (r >= row_panels) return;
    const int rows = std::min(bl.mr, mc - r * bl.mr);
    for (int i = 0; i < rows; ++i) {
      const float* row = a + r * a_step + i * lda;
      for (int p = col_first; p < col_last; p += 16) prefetch_l2(row + p);
    }
  };
  const auto b_rows = [&](int q, int row_first, int row_last) {
    if (q >= q_last) return;
    const float* panel = b + q * b_step;
    const int width = std::min(bl.nr, nc - q * bl.nr);
    for (int p = row_first; p < row_last; ++p) {
      for (int jj = 0; jj < width; jj += 16) prefetch_l2(panel + p * ldb + jj);
    }
  };
  if (bl.jr_outer) {
    for (int q = q_first; q < q_last; ++q) {
      for (int r = 0; r < row_panels; ++r) {
        if (ahead && !bl.pack_a) a_rows(r + 1, 0, kc);
        if (ahead && !bl.pack_b) {
          b_rows(q + 1, r * kc / row_panels, (r + 1) * kc / row_panels);
        }
        tile(q, r);
      }
    }
  } else {
    for (int r = 0; r < row_panels; ++r) {
      for (int q = q_first; q < q_last; ++q) {
        if (ahead && !bl.pack_b) b_rows(q + 1, 0, kc);
        if (ahead && !bl.pack_a) {
          const int t = q - q_first;
          a_rows(r + 1, t * kc / q_count, (t + 1) * kc / q_count);
        }
        tile(q, r);
      }
    }
  }
}

// The B panel that follows the one at (jc, pc) in the jc-outside-pc order, as the PanelCopy of
// this team member's share of it, or nullopt after the last panel. Under Jr each member copies
// the micro-panels it will read itself; otherwise the members split the units, rows first.
std::optional<PanelCopy> next_panel_share(const Problem& pr, const Blocking& bl, GemmLoop split,
                                          int jc, int pc, Team team, float* dest) {
  int next_jc = jc;
  int next_pc = pc + bl.kc;
  if (next_pc >= pr.k) {
    next_jc += bl.nc;
    next_pc = 0;
    if (next_jc >= pr.n) return std::nullopt;
  }
  const int nc = std::min(bl.nc, pr.n - next_jc);
  const int kc = std::min(bl.kc, pr.k - next_pc);
  const int panels = ceil_div(nc, bl.nr);
  const float* src = pr.b + next_pc * pr.ldb + next_jc;
  if (split == GemmLoop::Jr) {
    const auto [first, last] = share(panels, team.size, team.id);
    const int cols = std::min(nc, last * bl.nr) - first * bl.nr;
    return PanelCopy{src + first * bl.nr,
                     pr.ldb,
                     dest + std::ptrdiff_t{first} * kc * bl.nr,
                     kc,
                     last - first,
                     cols - (last - first - 1) * bl.nr,
                     0,
                     kc * (last - first),
                     bl.pack_b_prefetch};
  }
  const auto [first, last] = share(kc * panels, team.size, team.id);
  return PanelCopy{src,   pr.ldb,       dest,
                   kc,    panels,       nc - (panels - 1) * bl.nr,
                   first, last - first, bl.pack_b_prefetch};
}

// The jc, pc and ic loops for one team member. `split` says which loop the team divides (Ic or
// Jr; anything else means the team runs the whole problem, which only a team of one may do).
// b_pack (the two panel buffers of Blocking::b_panels) is shared by the team. a_pack is private
// even under Jr: each thread packs the whole A block itself, which costs O(mc*kc) copies against
// O(mc*kc*nc) flops but saves two barriers per A block, and each core's private L2 then holds its
// own copy instead of fetching the other's. Under Ic with a team of more than one, `claims` holds
// one zeroed counter per B panel, from which the members claim its rows (RowClaims).
void blocked_gemm(const Problem& pr, const Blocking& bl, GemmLoop split, Team team,
                  std::array<float*, 2> b_pack, float* a_pack, std::atomic<int>* claims = nullptr) {
  const bool claiming = split == GemmLoop::Ic && team.size > 1;
  const RowClaims rows(ceil_div(pr.m, bl.mr), bl.mc / bl.mr, team.size);
  const int row_panels = claiming ? rows.expected_share() : ceil_div(pr.m, bl.mr);
  // Under Jr with packing ahead, each member packs exactly the micro-panels it reads, so members
  // need not meet while their micro-panels keep the same place in the panel buffers: they do
  // unless the panel two steps on (the next user of the buffer) has another depth or width. A
  // member that writes panel s + 2 may then overwrite what another, a panel behind, still reads
  // of panel s, so all meet after panel s. Every member computes the same meetings.
  const bool own_panels = split == GemmLoop::Jr && bl.packs_ahead();
  const int k_blocks = ceil_div(pr.k, bl.kc);
  const int panel_count = ceil_div(pr.n, bl.nc) * k_blocks;
  const auto layout = [&](int index) {
    const int jc = index / k_blocks * bl.nc;
    const int pc = index % k_blocks * bl.kc;
    return std::pair{ceil_div(std::min(bl.nc, pr.n - jc), bl.nr), std::min(bl.kc, pr.k - pc)};
  };
  // Claimed rows change hands from one K block to the next, so without packing (and its
  // meeting per panel) the members still meet before a later K block adds to C.
  const auto must_meet = [&](int index) {
    if (!bl.pack_b) return claiming && index % k_blocks + 1 < k_blocks;
    return !own_panels || (index + 2 < panel_count && layout(index + 2) != layout(index));
  };
  int panel = 0;
  for (int jc = 0; jc < pr.n; jc += bl.nc) {
    const int nc = std::min(bl.nc, pr.n - jc);
    const int col_panels = ceil_div(nc, bl.nr);
    for (int pc = 0; pc < pr.k; pc += bl.kc, ++panel) {
      const int kc = std::min(bl.kc, pr.k - pc);
      // The user's beta applies once, on the first K block; later blocks accumulate.
      const float beta = pc == 0 ? pr.beta : 1.0f;
      const float* b_block = pr.b + pc * pr.ldb + jc;
      float* packed = b_pack[panel % 2];
      // Under packs_ahead only the first panel is packed here; the loops below pack each next one.
      if (bl.pack_b && (!bl.packs_ahead() || panel == 0)) {
        const auto [first, last] = share(col_panels, team.size, team.id);
        pack_b(kc, nc, b_block, pr.ldb, bl.nr, first, last, packed);
        if (!own_panels) team.barrier();
      }
      int q_first = 0;
      int q_last = col_panels;
      if (split == GemmLoop::Jr) std::tie(q_first, q_last) = share(col_panels, team.size, team.id);
      std::optional<NextPanel> next;
      if (bl.packs_ahead()) {
        if (const auto job =
                next_panel_share(pr, bl, split, jc, pc, team, b_pack[(panel + 1) % 2])) {
          next.emplace(*job, std::int64_t{row_panels} * (q_last - q_first));
        }
      }
      const auto rows_block = [&](int ic, int mc) {
        const float* a_block = pr.a + ic * pr.lda + pc;
        if (bl.pack_a) pack_a(mc, kc, a_block, pr.lda, bl.mr, 0, ceil_div(mc, bl.mr), a_pack);
        macro_kernel(bl, mc, nc, kc, q_first, q_last, pr.alpha, bl.pack_a ? a_pack : a_block,
                     pr.lda, bl.pack_b ? packed : b_block, pr.ldb, beta, pr.c + ic * pr.ldc + jc,
                     pr.ldc, next ? &*next : nullptr);
      };
      if (claiming) {
        for (auto [first, last] = rows.claim(claims[panel]); first < last;
             std::tie(first, last) = rows.claim(claims[panel])) {
          const int ic = first * bl.mr;
          rows_block(ic, std::min(pr.m, last * bl.mr) - ic);
        }
      } else {
        for (int ic = 0; ic < pr.m; ic += bl.mc) rows_block(ic, std::min(bl.mc, pr.m - ic));
      }
      if (next) next->finish(bl.nr);
      // Nobody may overwrite this panel (or, under packs_ahead, read the next one) before every
      // member is done with its part: one meeting per panel, or fewer under own_panels; and,
      // without packing but with claimed rows, none before a later K block adds to C.
      if (must_meet(panel)) team.barrier();
    }
  }
}

// A whole (sub)problem on the calling thread with its own buffers.
void serial_gemm(const Problem& pr, const Blocking& bl) {
  ThreadBuffers& buffers = thread_buffers();
  float* b_pack = bl.pack_b ? buffers.b.reserve(bl.b_buffer_size(pr.n, pr.k)) : nullptr;
  float* a_pack = bl.pack_a ? buffers.a.reserve(bl.a_block_size(pr.m, pr.k)) : nullptr;
  blocked_gemm(pr, bl, GemmLoop::Jc, Team{}, bl.b_panels(b_pack, pr.n, pr.k), a_pack);
}

void scale_c(int m, int n, float beta, float* c, std::ptrdiff_t ldc) {
  for (int i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else {
      for (int j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

void parallel_gemm(const Problem& pr, const Blocking& bl, GemmLoop loop, int threads) {
  // Shared buffers come from the calling thread before the region, so a failed allocation
  // throws here rather than inside OpenMP, where an escaping exception terminates.
  ThreadBuffers& caller = thread_buffers();
  float* shared_b = nullptr;
  if ((loop == GemmLoop::Ic || loop == GemmLoop::Jr) && bl.pack_b) {
    shared_b = caller.b.reserve(bl.b_buffer_size(pr.n, pr.k));
  }

  // One counter per B panel for the rows claimed under Ic (see RowClaims), all zero.
  std::unique_ptr<std::atomic<int>[]> claims;
  if (loop == GemmLoop::Ic) {
    const int panels = ceil_div(pr.n, bl.nc) * ceil_div(pr.k, bl.kc);
    claims = std::make_unique<std::atomic<int>[]>(static_cast<std::size_t>(panels));
  }
  std::vector<float*> partials(static_cast<std::size_t>(threads), nullptr);
  std::atomic<bool> failed{false};
  std::exception_ptr error;

#pragma omp parallel num_threads(threads)
  {
    // OpenMP may grant fewer threads than asked for, so the work is split by the actual team.
    const Team team{omp_get_thread_num(), omp_get_num_threads()};
    ThreadBuffers& mine = thread_buffers();
    Problem sub = pr;
    float* a_pack = nullptr;
    float* b_pack = nullptr;
    bool active = true;
    // Allocation first, then one barrier: if any thread failed, all leave together, so no thread
    // is left waiting at a barrier the others never reach and C is left untouched. Split over N
    // with nothing to pack, no thread allocates and none waits for another, so there is nothing
    // to meet for: on a 64^3 product the meeting costs a tenth of the call. (This must stay true
    // to the switch below: the Jc case reserves buffers only for packing.)
    const bool allocates = loop != GemmLoop::Jc || bl.pack_a || bl.pack_b;
    try {
      switch (loop) {
        case GemmLoop::Ic:
        case GemmLoop::Jr:
          if (bl.pack_a) a_pack = mine.a.reserve(bl.a_block_size(pr.m, pr.k));
          break;
        case GemmLoop::Jc: {
          const auto [first, last] = share(ceil_div(pr.n, bl.nr), team.size, team.id);
          const int col_first = first * bl.nr;
          sub.n = std::min(pr.n, last * bl.nr) - col_first;
          sub.b = pr.b + col_first;
          sub.c = pr.c + col_first;
          active = sub.n > 0;
          break;
        }
        case GemmLoop::Kc: {
          // At least one k per part, and part 0 always exists, so beta is applied exactly once.
          const int parts = std::min(team.size, pr.k);
          active = team.id < parts;
          if (active) {
            const auto [first, last] = share(pr.k, parts, team.id);
            sub.k = last - first;
            sub.a = pr.a + first;
            sub.b = pr.b + first * pr.ldb;
            if (team.id > 0) {
              sub.c = mine.partial.reserve(std::size_t(pr.m) * std::size_t(pr.n));
              sub.ldc = pr.n;
              sub.beta = 0.0f;
              partials[static_cast<std::size_t>(team.id)] = sub.c;
            }
          }
          break;
        }
      }
      if (active && (loop == GemmLoop::Jc || loop == GemmLoop::Kc)) {
        if (bl.pack_a) a_pack = mine.a.reserve(bl.a_block_size(sub.m, sub.k));
        if (bl.pack_b) b_pack = mine.b.reserve(bl.b_buffer_size(sub.n, sub.k));
      }
    } catch (...) {
#pragma omp critical(attune_sgemm_error)
      if (!error) error = std::current_exception();
      failed = true;
    }
    if (allocates) team.barrier();
    if (!failed) {
      switch (loop) {
        case GemmLoop::Ic:
          blocked_gemm(pr, bl, GemmLoop::Ic, team, bl.b_panels(shared_b, pr.n, pr.k), a_pack,
                       claims.get());
          break;
        case GemmLoop::Jr:
          blocked_gemm(pr, bl, GemmLoop::Jr, team, bl.b_panels(shared_b, pr.n, pr.k), a_pack);
          break;
        case GemmLoop::Jc:
          if (active) {
            blocked_gemm(sub, bl, GemmLoop::Jc, Team{}, bl.b_panels(b_pack, sub.n, sub.k), a_pack);
          }
          break;
        case GemmLoop::Kc: {
          if (active) {
            blocked_gemm(sub, bl, GemmLoop::Kc, Team{}, bl.b_panels(b_pack, sub.n, sub.k), a_pack);
          }
          team.barrier();
          const int parts = std::min(team.size, pr.k);
          const auto [first, last] = share(pr.m, team.size, team.id);
          for (int i = first; i < last; ++i) {
            float* row = pr.c + i * pr.ldc;
            for (int t = 1; t < parts; ++t) {
              const float* add = partials[static_cast<std::size_t>(t)] + std::ptrdiff_t{i} * pr.n;
              for (int j = 0; j < pr.n; ++j) row[j] += add[j];
            }
          }
          break;
        }
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

template <class... Parts>
std::string text(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}

[[noreturn]] void invalid(const std::string& message) {
  throw Error(ErrorCode::InvalidArgument, message);
}

void check_sizes(const char* what, int m, int n, int k, int lda, int ldb, int ldc) {
  // Text only on failure: this runs on every call, and a stream costs as much as an 8^3 product.
  if (m < 1 || n < 1 || k < 1) {
    invalid(text(what, ": m, n and k must be >= 1 (got m=", m, " n=", n, " k=", k, ")"));
  }
  if (lda < k) invalid(text(what, ": lda=", lda, " is less than k=", k, " (A is row-major m x k)"));
  if (ldb < n) invalid(text(what, ": ldb=", ldb, " is less than n=", n, " (B is row-major k x n)"));
  if (ldc < n) invalid(text(what, ": ldc=", ldc, " is less than n=", n, " (C is row-major m x n)"));
}

// Rows kRows at a time so that each B row loaded serves kRows outputs.
template <int kRows>
void reference_rows(const int* rows, int n, int k, double alpha, const float* a, int lda,
                    const float* b, int ldb, double beta, const float* c_in, int ldc, double* out) {
  double* acc[kRows];
  const float* arow[kRows];
  for (int t = 0; t < kRows; ++t) {
    acc[t] = out + std::ptrdiff_t{t} * n;
    arow[t] = a + std::ptrdiff_t{rows[t]} * lda;
    std::fill(acc[t], acc[t] + n, 0.0);
  }
  for (int p = 0; p < k; ++p) {
    const float* bp = b + std::ptrdiff_t{p} * ldb;
    double av[kRows];
    for (int t = 0; t < kRows; ++t) av[t] = arow[t][p];
    for (int j = 0; j < n; ++j) {
      const double bj = bp[j];
      for (int t = 0; t < kRows; ++t) acc[t][j] += av[t] * bj;
    }
  }
  for (int t = 0; t < kRows; ++t) {
    if (beta == 0.0) {
      for (int j = 0; j < n; ++j) acc[t][j] *= alpha;
    } else {
      const float* crow = c_in + std::ptrdiff_t{rows[t]} * ldc;
      for (int j = 0; j < n; ++j) acc[t][j] = alpha * acc[t][j] + beta * crow[j];
    }
  }
}

}  // namespace
}  // namespace detail

std::string_view to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Scalar: return "scalar";
  }
  return "unknown";
}

std::optional<Isa> isa_from_string(std::string_view name) noexcept {
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
    if (name == to_string(isa)) return isa;
  }
  return std::nullopt;
}

bool isa_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Scalar: return true;
  }
  return false;
}

Isa best_isa() noexcept {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

std::string_view to_string(GemmLoop loop) noexcept {
  switch (loop) {
    case GemmLoop::Jc: return "jc";
    case GemmLoop::Ic: return "ic";
    case GemmLoop::Jr: return "jr";
    case GemmLoop::Kc: return "kc";
  }
  return "unknown";
}

std::optional<GemmLoop> gemm_loop_from_string(std::string_view name) noexcept {
  for (GemmLoop loop : {GemmLoop::Jc, GemmLoop::Ic, GemmLoop::Jr, GemmLoop::Kc}) {
    if (name == to_string(loop)) return loop;
  }
  return std::nullopt;
}

std::string to_string(const GemmParams& p) {
  std::ostringstream out;
  out << "mr=" << p.mr << " nr=" << p.nr << " mc=" << p.mc << " kc=" << p.kc << " nc=" << p.nc
      << " threads=" << p.threads << " loop=" << to_string(p.loop) << " pack_a=" << p.pack_a
      << " pack_b=" << p.pack_b << " prefetch=" << p.prefetch << " jr_outer=" << p.jr_outer
      << " pack_b_ahead=" << p.pack_b_ahead << " pack_b_prefetch=" << p.pack_b_prefetch;
  return out.str();
}

std::vector<std::pair<int, int>> micro_tiles(Isa isa) {
  std::vector<std::pair<int, int>> tiles;
  for (const detail::MicroKernelEntry& entry : detail::tiles_for(isa)) {
    tiles.emplace_back(entry.mr, entry.nr);
  }
  return tiles;
}

std::string check(const GemmParams& p, Isa isa) {
  // Bounds on the packed buffers keep every size computation far from int overflow and refuse
  // configurations that would allocate gigabytes per thread.
  constexpr int kMaxBlock = 1 << 16;
  constexpr std::int64_t kMaxBufferFloats = std::int64_t{1} << 26;
  constexpr int kMaxPrefetch = 1024;
  constexpr int kMaxThreads = 1024;
  // Only a failure builds text: sgemm() checks its parameters on every call, and a string
  // stream costs as much as a whole 16^3 product.
  if (!isa_supported(isa)) {
    return detail::text("this CPU does not support ", to_string(isa));
  }
  if (detail::find_tile(isa, p.mr, p.nr) == nullptr) {
    return detail::text("micro-tile ", p.mr, "x", p.nr, " is not compiled for ", to_string(isa),
                        " (see micro_tiles)");
  }
  if (p.mc < p.mr || p.mc % p.mr != 0 || p.mc > kMaxBlock) {
    return detail::text("mc=", p.mc, " must be a positive multiple of mr=", p.mr, " up to ",
                        kMaxBlock);
  }
  if (p.nc < p.nr || p.nc % p.nr != 0 || p.nc > kMaxBlock) {
    return detail::text("nc=", p.nc, " must be a positive multiple of nr=", p.nr, " up to ",
                        kMaxBlock);
  }
  if (p.kc < 1 || p.kc > kMaxBlock) {
    return detail::text("kc=", p.kc, " must be in [1, ", kMaxBlock, "]");
  }
  if (std::int64_t{p.mc} * p.kc > kMaxBufferFloats ||
      std::int64_t{p.kc} * p.nc > kMaxBufferFloats) {
    return detail::text("mc*kc and kc*nc must not exceed ", kMaxBufferFloats,
                        " floats (got mc=", p.mc, " kc=", p.kc, " nc=", p.nc, ")");
  }
  if (p.threads < 1 || p.threads > kMaxThreads) {
    return detail::text("threads=", p.threads, " must be in [1, ", kMaxThreads, "]");
  }
  if (p.prefetch < 0 || p.prefetch > kMaxPrefetch) {
    return detail::text("prefetch=", p.prefetch, " must be in [0, ", kMaxPrefetch, "]");
  }
  if (p.pack_b_prefetch < 0 || p.pack_b_prefetch > kMaxPrefetch) {
    return detail::text("pack_b_prefetch=", p.pack_b_prefetch, " must be in [0, ", kMaxPrefetch,
                        "]");
  }
  if (to_string(p.loop) == "unknown") {
    return detail::text("loop=", static_cast<int>(p.loop), " is not a GemmLoop");
  }
  return {};
}

GemmParams default_params(Isa isa, int threads) {
  GemmParams p;
  p.threads = std::max(1, threads);
  p.loop = GemmLoop::Ic;
  p.pack_a = true;
  p.pack_b = true;
  switch (isa) {
    case Isa::Avx512:
      // Deep K blocks (each C tile written K / 1024 times) and 6 x 64 tiles, each B micro-panel
      // (1024 x 64, 256 KiB) streaming from L2 past the whole 144-row A block while the next B
      // panel is packed inside the micro-kernel calls. On a Zen 4 core with 1 MiB of L2: 110-111
      // GFLOP/s from 1024^3 to 4096^3 against 108 for 12 x 32 tiles over a 384 x 1024 panel in
      // the other loop order; as fast or faster for every skinny and transformer shape tried
      // (64 x 4096 x 4096: 81-87 against 76).
      p.mr = 6;
      p.nr = 64;
      p.mc = 144;
      p.kc = 1024;
      p.nc = 2048;
      p.jr_outer = true;
      p.pack_b_ahead = true;
      p.pack_b_prefetch = 128;
      // Prefetching the A panel 8 k-iterations ahead measured a few percent faster at 1024^3.
      p.prefetch = 8;
      break;
    case Isa::Avx2:
      p.mr = 6;
      p.nr = 16;
      p.mc = 144;
      p.kc = 256;
      p.nc = 4096;
      p.prefetch = 0;
      break;
    case Isa::Scalar:
      p.mr = 4;
      p.nr = 8;
      p.mc = 128;
      p.kc = 256;
      p.nc = 2048;
      p.prefetch = 0;
      break;
  }
  return p;
}

void sgemm(const GemmParams& params, Isa isa, int m, int n, int k, float alpha, const float* a,
           int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (std::string why = check(params, isa); !why.empty()) {
    detail::invalid("sgemm: invalid parameters (" + to_string(params) + "): " + why);
  }
  detail::check_sizes("sgemm", m, n, k, lda, ldb, ldc);
  if (a == nullptr || b == nullptr || c == nullptr) detail::invalid("sgemm: null matrix pointer");
  if (alpha == 0.0f) {
    detail::scale_c(m, n, beta, c, ldc);
    return;
  }
  const detail::MicroKernelEntry* entry = detail::find_tile(isa, params.mr, params.nr);
  const detail::Blocking bl{entry->kernel,   params.mr,           params.nr,
                            params.mc,       params.kc,           params.nc,
                            params.pack_a,   params.pack_b,       params.prefetch,
                            params.jr_outer, params.pack_b_ahead, params.pack_b_prefetch};
  const detail::Problem pr{m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  if (params.threads == 1) {
    detail::serial_gemm(pr, bl);
  } else {
    detail::parallel_gemm(pr, bl, params.loop, params.threads);
  }
}

void reference_gemm_rows(std::span<const int> rows, int m, int n, int k, double alpha,
                         const float* a, int lda, const float* b, int ldb, double beta,
                         const float* c_in, int ldc, double* out) {
  detail::check_sizes("reference_gemm_rows", m, n, k, lda, ldb, ldc);
  if (a == nullptr || b == nullptr || out == nullptr || (beta != 0.0 && c_in == nullptr)) {
    detail::invalid("reference_gemm_rows: null matrix pointer");
  }
  for (int row : rows) {
    if (row < 0 || row >= m) {
      detail::invalid("reference_gemm_rows: row " + std::to_string(row) + " is outside [0, " +
                      std::to_string(m) + ")");
    }
  }
  std::size_t r = 0;
  for (; r + 4 <= rows.size(); r += 4) {
    detail::reference_rows<4>(rows.data() + r, n, k, alpha, a, lda, b, ldb, beta, c_in, ldc,
                              out + r * std::size_t(n));
  }
  for (; r < rows.size(); ++r) {
    detail::reference_rows<1>(rows.data() + r, n, k, alpha, a, lda, b, ldb, beta, c_in, ldc,
                              out + r * std::size_t(n));
  }
}

void reference_gemm(int m, int n, int k, double alpha, const float* a, int lda, const float* b,
                    int ldb, double beta, const float* c_in, int ldc, double* out) {
  detail::check_sizes("reference_gemm", m, n, k, lda, ldb, ldc);
  std::vector<int> rows(static_cast<std::size_t>(m));
  std::iota(rows.begin(), rows.end(), 0);
  reference_gemm_rows(rows, m, n, k, alpha, a, lda, b, ldb, beta, c_in, ldc, out);
}

}  // namespace attune::kernels
