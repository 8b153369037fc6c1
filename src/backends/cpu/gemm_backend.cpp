// The built-in SGEMM as a tunable kernel on the host CPU: its search space, the mapping from a
// configuration to kernel parameters, and the backend that times and verifies one problem.

#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <span>
#include <string>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"

namespace attune::cpu {
namespace {

using kernels::GemmLoop;
using kernels::GemmParams;
using kernels::Isa;

// Above this many multiply-adds, the double reference of every row would cost more than the
// tuning it protects; a sample of rows (first, last, random) catches blocking and edge errors,
// which corrupt whole rows or columns, just as well.
constexpr double kFullReferenceMacs = 1ull << 28;
constexpr int kSampledRows = 48;

struct AlignedFree {
  void operator()(float* p) const noexcept { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], AlignedFree>;

// Operands of 2 MiB or more sit on 2 MiB pages where the kernel offers transparent huge pages,
// as a program that cares about GEMM speed would allocate them: every implementation measured
// on them (attune's configurations and peer libraries alike) walks them without a TLB miss per
// 4 KiB row, which would otherwise dominate in-place reads of a skinny product's large operand.
// `what` names the operand for the error: "A (1000 x 500)".
AlignedFloats allocate(std::size_t count, const std::string& what) {
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  const bool huge = count * sizeof(float) >= kHugePage;
  const std::size_t align = huge ? kHugePage : 64;
  const std::size_t bytes = ((count * sizeof(float) + align - 1) / align) * align;
  auto* p = static_cast<float*>(std::aligned_alloc(align, std::max<std::size_t>(bytes, align)));
  if (!p) {
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.1f", static_cast<double>(bytes) / double(1u << 30));
    throw Error(ErrorCode::Unsupported, std::string("out of memory allocating ") + gib +
                                            " GiB for the GEMM operand " + what +
                                            "; choose a smaller shape");
  }
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return AlignedFloats(p);
}

std::vector<Value> int_values(std::span<const int> values) {
  std::vector<Value> out;
  for (int v : values) out.emplace_back(v);
  return out;
}
std::vector<Value> int_values(std::initializer_list<int> values) {
  return int_values(std::span<const int>(values.begin(), values.size()));
}

// The blocking sizes of the space, shared with the candidates below.
constexpr int kMcValues[] = {24, 48, 72, 96, 112, 128, 144, 168, 192, 224, 288, 336, 384, 448};
// Up to 512 the A block and B panel fit the caches. The deeper blocks write each C tile once
// instead of K / KC times: for operands read in place (4096 x 64 x 4096: 112 GFLOP/s with
// KC = 4096 on one thread, 99 with 512), and, as the tuner found, on packed squares too (it
// chose KC from 1024 to 4096 for 1024^3-4096^3 in the README's table).
constexpr int kKcValues[] = {64, 128, 192, 256, 320, 384, 512, 1024, 2048, 4096};
constexpr int kNcValues[] = {192, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144};

}  // namespace

struct GemmBackend::Buffers {
  AlignedFloats a, b, c, c_initial;
  std::vector<double> reference;  // rows_ x n
};

Problem GemmProblem::key() const {
  std::vector<std::string> flags;
  if (alpha != 1.0f) flags.push_back("alpha=" + std::to_string(alpha));
  if (beta != 0.0f) flags.push_back("beta=" + std::to_string(beta));
  return Problem({{"m", m}, {"n", n}, {"k", k}}, "f32", std::move(flags));
}

SearchSpace gemm_search_space(Isa isa, int max_threads) {
  if (max_threads < 1) {
    throw Error(ErrorCode::InvalidArgument, "the GEMM space needs at least one thread");
  }
  const auto tiles = kernels::micro_tiles(isa);
  std::set<int> mrs, nrs;
  for (auto [mr, nr] : tiles) {
    mrs.insert(mr);
    nrs.insert(nr);
  }
  std::vector<Value> threads;
  for (int t = 1; t <= max_threads; t *= 2) threads.emplace_back(t);
  if (threads.back().as_int() != max_threads) threads.emplace_back(max_threads);

  std::vector<Param> params{
      {"MR", {mrs.begin(), mrs.end()}},
      {"NR", {nrs.begin(), nrs.end()}},
      {"MC", int_values(kMcValues)},
      {"KC", int_values(kKcValues)},
      {"NC", int_values(kNcValues)},
      {"threads", threads},
      {"loop", {Value("jc"), Value("ic"), Value("jr"), Value("kc")}},
      {"pack_a", int_values({1, 0})},
      {"pack_b", int_values({1, 0})},
      {"prefetch", int_values({0, 2, 4, 8, 16})},
      {"jr_outer", int_values({1, 0})},
      {"pack_b_ahead", int_values({0, 1})},
      {"pack_b_prefetch", int_values({0, 128, 512})},
  };
  std::vector<Constraint> constraints{
      Constraint("MC % MR == 0"),
      Constraint("NC % NR == 0"),
      // With one thread the parallel loop is irrelevant: keep one value so the space holds no
      // duplicates of the same kernel.
      Constraint("threads > 1 or loop == 'jc'"),
      // Packing ahead is a way of packing B, and its prefetch a part of it: no duplicates of the
      // same kernel without them.
      Constraint("pack_b == 1 or pack_b_ahead == 0"),
      Constraint("pack_b_ahead == 1 or pack_b_prefetch == 0"),
      Constraint::predicate(
          {"MR", "NR"},
          [tiles](std::span<const Value> v) {
            const std::pair<int, int> tile{static_cast<int>(v[0].as_int()),
                                           static_cast<int>(v[1].as_int())};
            return std::find(tiles.begin(), tiles.end(), tile) != tiles.end();
          },
          "micro-tile compiled for " + std::string(kernels::to_string(isa))),
  };
  return SearchSpace(std::move(params), std::move(constraints));
}

GemmParams gemm_params(const Config& config) {
  GemmParams p;
  p.mr = static_cast<int>(config.int_of("MR"));
  p.nr = static_cast<int>(config.int_of("NR"));
  p.mc = static_cast<int>(config.int_of("MC"));
  p.kc = static_cast<int>(config.int_of("KC"));
  p.nc = static_cast<int>(config.int_of("NC"));
  p.threads = static_cast<int>(config.int_of("threads"));
  const auto loop = kernels::gemm_loop_from_string(config.string_of("loop"));
  if (!loop)
    throw Error(ErrorCode::InvalidArgument, "unknown GEMM loop " + config.string_of("loop"));
  p.loop = *loop;
  p.pack_a = config.int_of("pack_a") != 0;
  p.pack_b = config.int_of("pack_b") != 0;
  p.prefetch = static_cast<int>(config.int_of("prefetch"));
  p.jr_outer = config.int_of("jr_outer") != 0;
  p.pack_b_ahead = config.int_of("pack_b_ahead") != 0;
  p.pack_b_prefetch = static_cast<int>(config.int_of("pack_b_prefetch"));
  return p;
}

std::optional<std::size_t> gemm_index(const SearchSpace& space, const GemmParams& p) {
  // What the kernel ignores, the space holds at one value.
  const GemmLoop loop = p.threads > 1 ? p.loop : GemmLoop::Jc;
  const bool ahead = p.pack_b && p.pack_b_ahead;
  const int ahead_prefetch = ahead ? p.pack_b_prefetch : 0;
  const std::string key =
      std::to_string(p.mr) + ',' + std::to_string(p.nr) + ',' + std::to_string(p.mc) + ',' +
      std::to_string(p.kc) + ',' + std::to_string(p.nc) + ',' + std::to_string(p.threads) + ',' +
      std::string(kernels::to_string(loop)) + ',' + (p.pack_a ? "1," : "0,") +
      (p.pack_b ? "1," : "0,") + std::to_string(p.prefetch) + ',' + (p.jr_outer ? "1," : "0,") +
      (ahead ? "1," : "0,") + std::to_string(ahead_prefetch);
  return space.index_of_key(key);
}

namespace {

// The smallest of `values` that is a multiple of `step` and at least `want`, else the largest
// multiple of `step` among them.
int fitting(std::span<const int> values, int step, int want) {
  int largest = step;
  for (int v : values) {
    if (v % step != 0) continue;
    if (v >= want) return v;
    largest = std::max(largest, v);
  }
  return largest;
}

}  // namespace

std::vector<GemmParams> gemm_candidates(const GemmProblem& pr, Isa isa, int max_threads) {
  std::vector<GemmParams> out{kernels::default_params(isa, max_threads)};
  if (max_threads > 1) out.push_back(kernels::default_params(isa, 1));
  if (isa != Isa::Avx512) return out;
  auto make = [&](int mr, int nr, int mc, int kc, int nc, int threads, GemmLoop loop, bool pa,
                  bool pb, int prefetch, bool jr_outer, bool ahead = false,
                  int ahead_prefetch = 0) {
    GemmParams p;
    p.mr = mr;
    p.nr = nr;
    p.mc = fitting(kMcValues, mr, mc);
    p.kc = fitting(kKcValues, 1, kc);
    p.nc = fitting(kNcValues, nr, nc);
    p.threads = threads;
    p.loop = threads > 1 ? loop : GemmLoop::Jc;
    p.pack_a = pa;
    p.pack_b = pb;
    p.prefetch = prefetch;
    p.jr_outer = jr_outer;
    p.pack_b_ahead = ahead;
    p.pack_b_prefetch = ahead_prefetch;
    out.push_back(p);
  };
  const double macs = double(pr.m) * pr.n * pr.k;
  const int t = max_threads;
  if (macs <= 2.2e6) {
    // Small: packing costs as much as the product, and a parallel region's start-up more.
    for (auto [mr, nr] : {std::pair{6, 64}, {8, 48}, {12, 32}}) {
      make(mr, nr, pr.m, pr.k, pr.n, 1, GemmLoop::Jc, false, false, 0, true);
    }
    make(6, 64, pr.m, pr.k, pr.n, 1, GemmLoop::Jc, false, true, 0, true);
    if (t > 1) {
      make(6, 64, pr.m, pr.k, pr.n, t, GemmLoop::Jr, false, false, 0, true);
      // 64^3 on two threads: 153 GFLOP/s unpacked over N, against 90 for the default.
      make(14, 32, pr.m, pr.k, pr.n, t, GemmLoop::Jc, false, false, 16, true);
      make(6, 64, pr.m, pr.k, pr.n, t, GemmLoop::Jc, false, false, 0, true);
    }
    return out;
  }
  if (t > 1 && macs <= 1.4e8) {
    // Up to 512^3 on several threads: the operands fit in the caches and each thread reads its
    // columns of B in place (256^3: 225 GFLOP/s on two threads, the default 191; 512^3: 224
    // against 174).
    make(6, 64, 48, pr.k, pr.n, t, GemmLoop::Jc, false, false, 0, false);
    make(6, 64, 336, pr.k, pr.n, t, GemmLoop::Jc, false, false, 2, true);
  }
  if (pr.m <= 96) {
    // Skinny M: B is read once, from memory. Packed in a pass of its own, that read cannot
    // overlap with the FMAs; packed ahead, each micro-kernel call copies a share of the next
    // panel, and panels as wide as N make each panel's rows one contiguous stream (on two
    // threads, each thread's half of N). Or B is read in place, with no copy but a strided walk.
    // 8-row tiles divide M = 64 without padding.
    make(8, 48, pr.m, 256, pr.n, t, GemmLoop::Jc, true, true, 8, true, true, 128);
    make(8, 48, pr.m, 128, pr.n, t, GemmLoop::Jc, true, true, 8, true, true, 512);
    make(6, 64, pr.m, 256, pr.n, t, GemmLoop::Jc, true, true, 8, true, true, 128);
    if (t > 1) {
      make(8, 48, pr.m, 256, pr.n, t, GemmLoop::Jr, true, true, 8, true, true, 128);
      make(8, 48, pr.m, 256, pr.n, t, GemmLoop::Ic, true, true, 8, true, true, 128);
    }
    make(8, 48, pr.m, 256, 3072, t, GemmLoop::Jc, false, false, 0, true);
    make(8, 48, pr.m, 128, 3072, t, GemmLoop::Jc, false, false, 8, true);
    make(12, 32, pr.m, 256, 3072, t, GemmLoop::Jc, true, false, 8, true);
    if (t > 1) {
      make(8, 48, pr.m, 256, 3072, t, GemmLoop::Jr, false, false, 0, true);
      make(8, 48, pr.m, 256, 3072, t, GemmLoop::Kc, false, false, 0, true);
      // K split between the threads, B in place, tall tiles: 16-row tiles divide 64 rows
      // exactly (64 x 4096 x 4096 on two threads: 211 GFLOP/s, 24-row tiles 201, 8 x 48 182).
      make(16, 16, pr.m, 512, 4096, t, GemmLoop::Kc, true, false, 8, true);
      make(24, 16, pr.m, 512, 4096, t, GemmLoop::Kc, true, false, 8, true);
    }
    // The same tiles on one thread (104.5 GFLOP/s, as fast as packing B ahead).
    make(16, 16, pr.m, 512, 4096, 1, GemmLoop::Jc, true, false, 8, true);
  }
  if (pr.n <= 96) {
    // Skinny N: one B micro-panel (64 columns), A streams once and is read in place, in one K
    // block where K allows (4096 x 64 x 4096: 112 GFLOP/s on one thread, 222 on two).
    make(6, 64, 336, pr.k, pr.n, t, GemmLoop::Ic, false, false, 0, true);
    make(6, 64, 72, 512, pr.n, t, GemmLoop::Ic, false, false, 8, false);
    make(6, 64, 72, 384, pr.n, t, GemmLoop::Ic, false, false, 0, true);
    make(6, 64, 192, 384, pr.n, t, GemmLoop::Ic, false, true, 8, true);
    if (t > 1) make(6, 64, 72, 512, pr.n, t, GemmLoop::Kc, false, false, 8, false);
  }
  if (pr.k <= 128) {
    // Small K: one K block; what is left is writing C, spread over M.
    make(12, 32, 144, pr.k, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(12, 32, 192, pr.k, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(6, 64, 96, pr.k, 1024, t, GemmLoop::Jc, true, true, 8, false);
  }
  if (pr.m > 96 && pr.n > 96 && pr.k > 128) {
    // Large: the default's blocking split over N (2048^3 on two threads: 220-222 GFLOP/s, over
    // M 215-220, where a core shared with other work makes M the better split); the A
    // micro-panel in L1 and a B panel in L2 (the other loop order, 108 on one thread at 2048^3
    // against the default's 110); other tiles, and each loop the threads may split.
    if (t > 1) make(6, 64, 144, 1024, 2048, t, GemmLoop::Jc, true, true, 8, true, true, 128);
    // Half as deep and twice as tall: each B micro-panel, fetched from L3 once per A block, then
    // serves 48 tiles instead of 24. On one thread, means of alternating pairs: 4096^3 109.4
    // GFLOP/s against the default's 108.4, 2048^3 108.4 against 107.2, 1024^3 108.5 against
    // 109.7: a shape's choice.
    make(6, 64, 288, 512, 2048, t, GemmLoop::Ic, true, true, 8, true, true, 128);
    make(12, 32, 192, 384, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(6, 64, 192, 384, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(12, 32, 192, 256, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(14, 32, 224, 384, 1024, t, GemmLoop::Ic, true, true, 8, false);
    make(12, 32, 144, 256, 4096, t, GemmLoop::Ic, true, true, 8, true);
    // 12 x 32 tiles over a 384 x 1024 B panel with each panel packed while the previous one is
    // in use: on several threads, each packs its share of the shared panel and they meet once
    // per panel.
    make(12, 32, 192, 384, 1024, t, GemmLoop::Ic, true, true, 8, false, true, 128);
    if (t > 1) {
      make(12, 32, 192, 384, 1024, t, GemmLoop::Jc, true, true, 8, false);
      make(12, 32, 192, 384, 1024, t, GemmLoop::Jr, true, true, 8, false);
    }
  }
  return out;
}

std::vector<GemmParams> gemm_spread(const GemmParams& params, int threads) {
  std::vector<GemmParams> out;
  for (const GemmLoop loop : {GemmLoop::Jc, GemmLoop::Ic}) {
    GemmParams p = params;
    p.threads = threads;
    p.loop = loop;
    out.push_back(p);
  }
  return out;
}

std::size_t default_gemm_index(const SearchSpace& space, Isa isa, int threads) {
  const GemmParams p = kernels::default_params(isa, threads);
  const auto index = gemm_index(space, p);
  if (!index) {
    throw Error(ErrorCode::Internal, "the default GEMM configuration (" + kernels::to_string(p) +
                                         ") is not in the GEMM search space");
  }
  return *index;
}

namespace {

class PreparedGemm final : public PreparedKernel {
 public:
  PreparedGemm(ExternalGemm gemm, const GemmProblem& problem, float* a, float* b, float* c,
               const float* c_initial, const std::vector<int>& rows,
               const std::vector<double>& reference)
      : gemm_(std::move(gemm)),
        problem_(problem),
        a_(a),
        b_(b),
        c_(c),
        c_initial_(c_initial),
        rows_(rows),
        reference_(reference) {}

  VerifyResult verify() override {
    const std::size_t size = static_cast<std::size_t>(problem_.m) * problem_.n;
    std::span<float> c(c_, size);
    if (problem_.beta == 0.0f) {
      poison(c);
    } else {
      std::memcpy(c_, c_initial_, size * sizeof(float));
    }
    call();
    // Every element must have been written, sampled rows or not.
    for (std::size_t i = 0; i < size; ++i) {
      if (!std::isfinite(c[i])) {
        VerifyResult bad;
        bad.ok = false;
        bad.nan_count = 1;
        bad.first_bad_index = i;
        bad.message = "C[" + std::to_string(i / problem_.n) + "][" +
                      std::to_string(i % problem_.n) + "] = " + std::to_string(c[i]) +
                      " (not written, or not finite)";
        return bad;
      }
    }
    std::vector<float> got;
    got.reserve(rows_.size() * problem_.n);
    for (int r : rows_) {
      got.insert(got.end(), c_ + static_cast<std::size_t>(r) * problem_.n,
                 c_ + static_cast<std::size_t>(r + 1) * problem_.n);
    }
    return compare(got, reference_, tolerance());
  }

  RunOutcome run(std::size_t calls) override {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < calls; ++i) call();
    RunOutcome out;
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return out;
  }

 private:
  void call() { gemm_(problem_, a_, b_, c_); }

  // Rounding error of a length-k float dot product grows about like sqrt(k) * eps for random
  // inputs; the bounds allow k * eps so that a correct kernel always passes and a wrong tile
  // (an error of order one per element) never does.
  Tolerance tolerance() const {
    const double eps = 1.2e-7;
    const double k = problem_.k;
    return Tolerance{std::max(1e-6, 4.0 * std::sqrt(k) * eps), std::max(1e-5, 2.0 * k * eps)};
  }

  ExternalGemm gemm_;
  const GemmProblem& problem_;
  float* a_;
  float* b_;
  float* c_;
  const float* c_initial_;
  const std::vector<int>& rows_;
  const std::vector<double>& reference_;
};

}  // namespace

GemmBackend::GemmBackend(GemmProblem problem, Isa isa, std::uint64_t seed)
    : problem_(problem), isa_(isa), device_(DeviceInfo::host_cpu()), buffers_(new Buffers) {
  if (problem.m < 1 || problem.n < 1 || problem.k < 1) {
    throw Error(ErrorCode::InvalidArgument,
                "GEMM sizes must be at least 1, got m=" + std::to_string(problem.m) +
                    " n=" + std::to_string(problem.n) + " k=" + std::to_string(problem.k));
  }
  const auto m = static_cast<std::size_t>(problem.m);
  const auto n = static_cast<std::size_t>(problem.n);
  const auto k = static_cast<std::size_t>(problem.k);
  const auto dims = [](std::size_t rows, std::size_t cols) {
    return " (" + std::to_string(rows) + " x " + std::to_string(cols) + ")";
  };
  buffers_->a = allocate(m * k, "A" + dims(m, k));
  buffers_->b = allocate(k * n, "B" + dims(k, n));
  buffers_->c = allocate(m * n, "C" + dims(m, n));
  buffers_->c_initial = allocate(m * n, "C" + dims(m, n));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (std::size_t i = 0; i < m * k; ++i) buffers_->a[i] = uniform(rng);
  for (std::size_t i = 0; i < k * n; ++i) buffers_->b[i] = uniform(rng);
  for (std::size_t i = 0; i < m * n; ++i) buffers_->c_initial[i] = uniform(rng);
  std::memcpy(buffers_->c.get(), buffers_->c_initial.get(), m * n * sizeof(float));

  if (static_cast<double>(m) * n * k <= kFullReferenceMacs || problem.m <= kSampledRows) {
    for (int r = 0; r < problem.m; ++r) rows_.push_back(r);
  } else {
    std::set<int> rows{0, problem.m - 1};
    std::uniform_int_distribution<int> pick(1, problem.m - 2);
    while (static_cast<int>(rows.size()) < kSampledRows) rows.insert(pick(rng));
    rows_.assign(rows.begin(), rows.end());
  }
  buffers_->reference.resize(rows_.size() * n);
  kernels::reference_gemm_rows(rows_, problem.m, problem.n, problem.k, problem.alpha,
                               buffers_->a.get(), problem.k, buffers_->b.get(), problem.n,
                               problem.beta, buffers_->c_initial.get(), problem.n,
                               buffers_->reference.data());
}

GemmBackend::~GemmBackend() = default;

std::string gemm_kernel_id(Isa isa) {
  return std::string("attune.cpu.sgemm/2/") + std::string(kernels::to_string(isa));
}

std::string GemmBackend::kernel_id() const { return gemm_kernel_id(isa_); }

Prepared GemmBackend::prepare(const Config& config) {
  Prepared out;
  const GemmParams params = gemm_params(config);
  if (params.threads > device_.cores) {
    out.status = Status::OverLimits;
    out.message = std::to_string(params.threads) + " threads requested, " +
                  std::to_string(device_.cores) + " CPUs available";
    return out;
  }
  if (std::string reason = kernels::check(params, isa_); !reason.empty()) {
    out.status = Status::Invalid;
    out.message = reason;
    return out;
  }
  const Isa isa = isa_;
  out.kernel = prepare_external(
      [params, isa](const GemmProblem& pr, const float* a, const float* b, float* c) {
        kernels::sgemm(params, isa, pr.m, pr.n, pr.k, pr.alpha, a, pr.k, b, pr.n, pr.beta, c, pr.n);
      });
  return out;
}

std::unique_ptr<PreparedKernel> GemmBackend::prepare_external(ExternalGemm call) {
  return std::make_unique<PreparedGemm>(std::move(call), problem_, buffers_->a.get(),
                                        buffers_->b.get(), buffers_->c.get(),
                                        buffers_->c_initial.get(), rows_, buffers_->reference);
}

}  // namespace attune::cpu
