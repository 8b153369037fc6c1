// Tests of the built-in CPU SGEMM against the double-precision reference on fresh random inputs:
// odd shapes that are not multiples of any block size, alpha and beta other than 1, beta == 0 over
// a C full of NaN, padded leading dimensions, and every micro-tile, packing mode, loop order around
// the micro-kernel, parallel loop and thread count on every ISA this CPU supports. The seed comes
// from std::random_device and is printed with every failure; set ATTUNE_TEST_SEED to replay it.

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attune/error.hpp"
#include "attune/kernels/gemm.hpp"

namespace attune::kernels {
namespace {

constexpr float kAlpha = -1.5f;
constexpr float kBeta = 0.75f;
constexpr int kOddSizes[] = {1, 7, 17, 31, 33, 127, 257};

std::uint64_t test_seed() {
  if (const char* env = std::getenv("ATTUNE_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  std::random_device device;
  return (std::uint64_t{device()} << 32) | device();
}

std::string seed_note(std::uint64_t seed) {
  return "replay with ATTUNE_TEST_SEED=" + std::to_string(seed);
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
    if (isa_supported(isa)) isas.push_back(isa);
  }
  return isas;
}

// A row-major rows x cols matrix with row stride ld = cols + pad, uniform in [-1, 1]; the padding
// holds NaN so that reading past a row shows up in the result.
struct Matrix {
  int rows = 0;
  int cols = 0;
  int ld = 0;
  std::vector<float> data;

  Matrix(int r, int c, int pad, std::mt19937_64& rng) : rows(r), cols(c), ld(c + pad) {
    data.assign(std::size_t(rows) * std::size_t(ld), std::numeric_limits<float>::quiet_NaN());
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < cols; ++j) data[std::size_t(i) * ld + j] = dist(rng);
    }
  }
  void fill(float value) {
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < cols; ++j) data[std::size_t(i) * ld + j] = value;
    }
  }
  Matrix magnitude() const {
    Matrix out = *this;
    for (float& x : out.data) x = std::fabs(x);
    return out;
  }
  float at(int i, int j) const { return data[std::size_t(i) * ld + j]; }
};

// The expected result of one product and the bound on each element's rounding error.
//
// Why the tolerance scales with K: each element is a K-term dot product, and however the float
// kernel orders and blocks its sums (FMA or not), its rounding error is at most about
// (K + 2) * u * (|alpha| sum_p |a_ip||b_pj| + |beta||c_ij|) with u = eps / 2 (Higham's gamma_K
// bound, plus one rounding each for alpha and beta). The bound is computed per element from the
// reference run on |A|, |B|, |C|, and checked with eps instead of u for slack; a missing or
// doubled term, a wrong edge or a wrong beta is orders of magnitude larger. The L2 error relative
// to that magnitude (not to the result, which cancellation can make arbitrarily small) must stay
// below 2 sqrt(K + 2) eps: rounding errors of random sign grow like sqrt(K), so only a
// systematic error reaches it, and for K < 14 it is looser than the per-element bound anyway.
struct Expected {
  int m = 0;
  int n = 0;
  int k = 0;
  std::vector<int> rows;
  std::vector<double> value;
  std::vector<double> magnitude;  // |alpha| |A| |B| + |beta| |C|
  std::vector<double> bound;
};

Expected expect(const Matrix& a, const Matrix& b, const Matrix& c, double alpha, double beta,
                std::vector<int> rows) {
  Expected e;
  e.m = a.rows;
  e.n = b.cols;
  e.k = a.cols;
  e.rows = std::move(rows);
  e.value.resize(e.rows.size() * std::size_t(e.n));
  e.magnitude.resize(e.value.size());
  reference_gemm_rows(e.rows, e.m, e.n, e.k, alpha, a.data.data(), a.ld, b.data.data(), b.ld, beta,
                      c.data.data(), c.ld, e.value.data());
  const Matrix abs_a = a.magnitude();
  const Matrix abs_b = b.magnitude();
  const Matrix abs_c = c.magnitude();
  reference_gemm_rows(e.rows, e.m, e.n, e.k, std::fabs(alpha), abs_a.data.data(), a.ld,
                      abs_b.data.data(), b.ld, std::fabs(beta), abs_c.data.data(), c.ld,
                      e.magnitude.data());
  const double eps = std::numeric_limits<float>::epsilon();
  e.bound = e.magnitude;
  for (double& x : e.bound) x *= (e.k + 2) * eps;
  return e;
}

Expected expect_all(const Matrix& a, const Matrix& b, const Matrix& c, double alpha, double beta) {
  std::vector<int> rows(std::size_t(a.rows));
  for (int i = 0; i < a.rows; ++i) rows[std::size_t(i)] = i;
  return expect(a, b, c, alpha, beta, std::move(rows));
}

::testing::AssertionResult matches(const Expected& e, const Matrix& c) {
  double err2 = 0.0;
  double mag2 = 0.0;
  for (std::size_t r = 0; r < e.rows.size(); ++r) {
    for (int j = 0; j < e.n; ++j) {
      const std::size_t idx = r * std::size_t(e.n) + std::size_t(j);
      const double got = c.at(e.rows[r], j);
      const double err = std::fabs(got - e.value[idx]);
      if (!(err <= e.bound[idx])) {
        return ::testing::AssertionFailure()
               << "C(" << e.rows[r] << ", " << j << ") = " << got << ", expected " << e.value[idx]
               << " (error " << err << " > bound " << e.bound[idx] << ")";
      }
      err2 += err * err;
      mag2 += e.magnitude[idx] * e.magnitude[idx];
    }
  }
  const double eps = std::numeric_limits<float>::epsilon();
  const double rel = mag2 > 0.0 ? std::sqrt(err2 / mag2) : std::sqrt(err2);
  const double limit = 2.0 * std::sqrt(e.k + 2.0) * eps;
  if (rel > limit) {
    return ::testing::AssertionFailure()
           << "L2 error relative to the magnitude " << rel << " > " << limit;
  }
  return ::testing::AssertionSuccess();
}

// One product C = alpha A B + beta C on padded copies; returns the checked result.
::testing::AssertionResult run_case(const GemmParams& p, Isa isa, const Matrix& a, const Matrix& b,
                                    const Matrix& c0, float alpha, float beta, const Expected& e) {
  Matrix c = c0;
  sgemm(p, isa, a.rows, b.cols, a.cols, alpha, a.data.data(), a.ld, b.data.data(), b.ld, beta,
        c.data.data(), c.ld);
  // Padding past each row of C must survive untouched (it holds NaN, so compare bitwise-ish).
  for (int i = 0; i < c.rows; ++i) {
    for (int j = c.cols; j < c.ld; ++j) {
      if (!std::isnan(c.data[std::size_t(i) * c.ld + j])) {
        return ::testing::AssertionFailure() << "wrote C padding at (" << i << ", " << j << ")";
      }
    }
  }
  return matches(e, c);
}

// Small blocks that force several jc, pc and ic steps and edge blocks in each.
GemmParams small_blocks(Isa isa, int mr, int nr) {
  GemmParams p = default_params(isa, 1);
  p.mr = mr;
  p.nr = nr;
  p.mc = 2 * mr;
  p.kc = 19;
  p.nc = 2 * nr;
  return p;
}

struct Variant {
  Isa isa;
  std::pair<int, int> tile;
};

std::vector<Variant> all_tiles() {
  std::vector<Variant> out;
  for (Isa isa : supported_isas()) {
    for (const auto& tile : micro_tiles(isa)) out.push_back({isa, tile});
  }
  return out;
}

constexpr GemmLoop kLoops[] = {GemmLoop::Jc, GemmLoop::Ic, GemmLoop::Jr, GemmLoop::Kc};

TEST(Sgemm, EveryOddShapeCombination) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  const std::vector<Variant> tiles = all_tiles();
  int index = 0;
  for (int m : kOddSizes) {
    for (int n : kOddSizes) {
      for (int k : kOddSizes) {
        // Each shape gets one configuration; walking the index through tiles, packing, loops and
        // thread counts covers every option across the 343 shapes.
        const Variant& v = tiles[std::size_t(index) % tiles.size()];
        GemmParams p = (index / 3) % 2 == 0 ? small_blocks(v.isa, v.tile.first, v.tile.second)
                                            : default_params(v.isa, 1);
        p.mr = v.tile.first;
        p.nr = v.tile.second;
        p.mc = std::max(p.mr, p.mc / p.mr * p.mr);
        p.nc = std::max(p.nr, p.nc / p.nr * p.nr);
        p.pack_a = index % 2 == 0;
        p.pack_b = (index / 2) % 2 == 0;
        p.loop = kLoops[(index / 5) % 4];
        p.threads = 1 + (index / 7) % 2;
        p.prefetch = (index % 3) * 4;
        p.jr_outer = (index / 11) % 2 == 0;
        p.pack_b_ahead = (index / 13) % 2 == 0;
        p.pack_b_prefetch = (index / 26) % 2 * 64;
        ++index;
        ASSERT_EQ(check(p, v.isa), "");
        const Matrix a(m, k, 3, rng);
        const Matrix b(k, n, 5, rng);
        const Matrix c(m, n, 1, rng);
        const Expected e = expect_all(a, b, c, kAlpha, kBeta);
        ASSERT_TRUE(run_case(p, v.isa, a, b, c, kAlpha, kBeta, e))
            << "m=" << m << " n=" << n << " k=" << k << " isa=" << to_string(v.isa) << " "
            << to_string(p);
      }
    }
  }
}

TEST(Sgemm, EveryTilePackingLoopAndThreadCount) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  struct Shape {
    int m, n, k;
  };
  for (const Shape s : {Shape{33, 127, 257}, Shape{257, 31, 33}, Shape{7, 257, 127}}) {
    const Matrix a(s.m, s.k, 2, rng);
    const Matrix b(s.k, s.n, 7, rng);
    const Matrix c(s.m, s.n, 3, rng);
    const Expected e = expect_all(a, b, c, kAlpha, kBeta);
    int index = 0;
    for (const Variant& v : all_tiles()) {
      // Packing 0-3: A and B each packed or not; 4-5: B packed ahead, A packed or not.
      for (int packing = 0; packing < 6; ++packing) {
        for (GemmLoop loop : kLoops) {
          for (int threads : {1, 2}) {
            GemmParams p = small_blocks(v.isa, v.tile.first, v.tile.second);
            p.pack_a = (packing & 1) != 0;
            p.pack_b = (packing & 2) != 0 || packing >= 4;
            p.pack_b_ahead = packing >= 4;
            p.loop = loop;
            p.threads = threads;
            // Consecutive cases walk all four pairs of (prefetch, jr_outer), so both loop orders
            // run with the in-place operand prefetches on and off.
            p.jr_outer = (index / 2) % 2 == 0;
            p.prefetch = (index++ % 2) * 8;
            ASSERT_EQ(check(p, v.isa), "");
            ASSERT_TRUE(run_case(p, v.isa, a, b, c, kAlpha, kBeta, e))
                << "m=" << s.m << " n=" << s.n << " k=" << s.k << " isa=" << to_string(v.isa) << " "
                << to_string(p);
          }
        }
      }
    }
  }
}

TEST(Sgemm, OneDeepKBlockOverAnOddK) {
  // KC >= K: every C tile is written once, after a k loop over all of K (the skinny-N shapes'
  // choice), with the operands in place or packed, on one thread and split over M.
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  const int m = 301, n = 37, k = 2049;
  const Matrix a(m, k, 2, rng);
  const Matrix b(k, n, 7, rng);
  const Matrix c(m, n, 3, rng);
  const Expected e = expect_all(a, b, c, kAlpha, kBeta);
  for (const Variant& v : all_tiles()) {
    for (int packing = 0; packing < 4; ++packing) {
      for (int threads : {1, 2}) {
        GemmParams p = small_blocks(v.isa, v.tile.first, v.tile.second);
        p.kc = 4096;
        p.pack_a = (packing & 1) != 0;
        p.pack_b = (packing & 2) != 0;
        p.loop = GemmLoop::Ic;
        p.threads = threads;
        ASSERT_EQ(check(p, v.isa), "");
        ASSERT_TRUE(run_case(p, v.isa, a, b, c, kAlpha, kBeta, e))
            << "isa=" << to_string(v.isa) << " " << to_string(p);
      }
    }
  }
}

// Packing ahead hands each micro-kernel call a share of the next B panel: across pc steps, from
// the last pc step of one jc step to the first of the next, into a narrower last jc step, with
// more units than k-iterations (one row panel and a short last K block), with fewer row panels
// than threads (a thread with no micro-kernel call copies its share itself), with the panel
// shared by a team or private, and under jr with the micro-panels each thread owns moving where
// the panels narrow, for every parallel loop and source prefetch distance.
TEST(Sgemm, PackingAheadCoversEveryPanelTransition) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  struct Shape {
    int m, n, k;
  };
  for (const Isa isa : supported_isas()) {
    const auto [mr, nr] = micro_tiles(isa).front();
    for (const Shape s : {Shape{1, 5 * nr + 3, 41}, Shape{mr + 1, 3 * nr, 39},
                          Shape{3 * mr + 2, 4 * nr + 1, 77}, Shape{5, 2 * nr - 1, 20}}) {
      const Matrix a(s.m, s.k, 1, rng);
      const Matrix b(s.k, s.n, 3, rng);
      const Matrix c(s.m, s.n, 2, rng);
      const Expected e = expect_all(a, b, c, kAlpha, kBeta);
      for (GemmLoop loop : kLoops) {
        for (int threads : {1, 2, 3}) {
          for (int prefetch : {0, 32}) {
            GemmParams p = small_blocks(isa, mr, nr);
            p.pack_b_ahead = true;
            p.pack_b_prefetch = prefetch;
            p.loop = loop;
            p.threads = threads;
            p.jr_outer = prefetch == 0;
            ASSERT_EQ(check(p, isa), "");
            ASSERT_TRUE(run_case(p, isa, a, b, c, kAlpha, kBeta, e))
                << "m=" << s.m << " n=" << s.n << " k=" << s.k << " isa=" << to_string(isa) << " "
                << to_string(p);
          }
        }
      }
    }
  }
}

// A tile narrower than NR computes only the vectors it has columns in (but keeps its width when
// it carries a share of packing the next B panel), and alpha == 1 skips the scaling of A * B:
// every column count from 1 to NR + 1 (each narrower instance and each lane mask) of every tile,
// with rows that fill tiles or leave edge tiles of several heights, depths below and above the
// K block (so that later blocks add to C and packing ahead has a next panel), A and B packed or
// in place or B packed ahead, each alpha and beta pair. With beta == 0, C starts as NaN, so a
// read of it shows; 17 columns of NaN after each row catch a store past n.
TEST(Sgemm, EveryColumnCountOfEveryTileWithAndWithoutScaling) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  constexpr int kPad = 17;
  for (const Variant& v : all_tiles()) {
    const auto [mr, nr] = v.tile;
    for (int n = 1; n <= nr + 1; ++n) {
      const int m = std::array{mr, mr + 1, mr + mr / 2, 2 * mr - 1}[std::size_t(n % 4)];
      const int k = n % 2 == 0 ? 9 + n % 5 : 45;
      const Matrix a(m, k, kPad, rng);
      const Matrix b(k, n, kPad, rng);
      const Matrix c(m, n, kPad, rng);
      Matrix c_nan = c;
      c_nan.fill(std::numeric_limits<float>::quiet_NaN());
      for (const auto [alpha, beta] :
           {std::pair{1.0f, 0.0f}, {1.0f, kBeta}, {kAlpha, 0.0f}, {kAlpha, kBeta}}) {
        const Expected e = expect_all(a, b, c, alpha, beta);
        // 0-3: A and B each packed or in place; 4-5: B packed ahead, A in place or packed.
        for (int packing = 0; packing < 6; ++packing) {
          GemmParams p = small_blocks(v.isa, mr, nr);
          p.pack_a = (packing & 1) != 0;
          p.pack_b = (packing & 2) != 0 || packing >= 4;
          p.pack_b_ahead = packing >= 4;
          p.prefetch = (n + packing) % 2 * 4;
          ASSERT_EQ(check(p, v.isa), "");
          ASSERT_TRUE(run_case(p, v.isa, a, b, beta == 0.0f ? c_nan : c, alpha, beta, e))
              << "m=" << m << " n=" << n << " k=" << k << " alpha=" << alpha << " beta=" << beta
              << " isa=" << to_string(v.isa) << " " << to_string(p);
        }
      }
    }
  }
}

TEST(Sgemm, BetaZeroNeverReadsC) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  const Matrix a(45, 70, 1, rng);
  const Matrix b(70, 77, 2, rng);
  Matrix c(45, 77, 3, rng);
  c.fill(std::numeric_limits<float>::quiet_NaN());
  const Expected e = expect_all(a, b, c, kAlpha, 0.0);
  for (const Variant& v : all_tiles()) {
    for (int packing = 0; packing < 6; ++packing) {
      for (GemmLoop loop : kLoops) {
        GemmParams p = small_blocks(v.isa, v.tile.first, v.tile.second);
        p.pack_a = (packing & 1) != 0;
        p.pack_b = (packing & 2) != 0 || packing >= 4;
        p.pack_b_ahead = packing >= 4;
        p.loop = loop;
        p.threads = 2;
        ASSERT_TRUE(run_case(p, v.isa, a, b, c, kAlpha, 0.0f, e))
            << "isa=" << to_string(v.isa) << " " << to_string(p);
      }
    }
  }
}

TEST(Sgemm, AlphaZeroOnlyScalesC) {
  std::mt19937_64 rng(7);
  Matrix a(9, 11, 0, rng);
  Matrix b(11, 13, 0, rng);
  a.fill(std::numeric_limits<float>::quiet_NaN());
  b.fill(std::numeric_limits<float>::infinity());
  const Matrix c0(9, 13, 2, rng);
  const Isa isa = best_isa();
  Matrix c = c0;
  sgemm(default_params(isa, 1), isa, 9, 13, 11, 0.0f, a.data.data(), a.ld, b.data.data(), b.ld,
        0.5f, c.data.data(), c.ld);
  for (int i = 0; i < 9; ++i) {
    for (int j = 0; j < 13; ++j) EXPECT_EQ(c.at(i, j), 0.5f * c0.at(i, j));
  }
  c.fill(std::numeric_limits<float>::quiet_NaN());
  sgemm(default_params(isa, 2), isa, 9, 13, 11, 0.0f, a.data.data(), a.ld, b.data.data(), b.ld,
        0.0f, c.data.data(), c.ld);
  for (int i = 0; i < 9; ++i) {
    for (int j = 0; j < 13; ++j) EXPECT_EQ(c.at(i, j), 0.0f);
  }
}

// Sizes around 1000 with the default blocking, checked on a sample of rows: first, last, the
// rows on both sides of every mc boundary of the default and a few random ones.
TEST(Sgemm, Size1000WithDefaultsOnSampledRows) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  const Isa isa = best_isa();
  struct Case {
    int m, n, k;
    GemmLoop loop;
    int threads;
    bool ahead = false;
  };
  for (const Case s :
       {Case{1000, 1000, 1000, GemmLoop::Ic, 2}, Case{1000, 1000, 1000, GemmLoop::Jr, 1},
        Case{64, 64, 1000, GemmLoop::Kc, 2}, Case{1000, 33, 257, GemmLoop::Jc, 2},
        Case{17, 1000, 127, GemmLoop::Jr, 2}, Case{1000, 1000, 1000, GemmLoop::Ic, 2, true},
        Case{64, 1000, 1000, GemmLoop::Jc, 2, true}}) {
    GemmParams p = default_params(isa, s.threads);
    p.loop = s.loop;
    p.pack_b_ahead = s.ahead;
    p.pack_b_prefetch = s.ahead ? 128 : 0;
    const Matrix a(s.m, s.k, 4, rng);
    const Matrix b(s.k, s.n, 4, rng);
    const Matrix c(s.m, s.n, 4, rng);
    std::vector<int> rows = {0, s.m - 1};
    for (int edge = p.mc; edge < s.m; edge += p.mc) {
      rows.push_back(edge - 1);
      rows.push_back(edge);
    }
    std::uniform_int_distribution<int> pick(0, s.m - 1);
    for (int r = 0; r < 8; ++r) rows.push_back(pick(rng));
    const Expected e = expect(a, b, c, kAlpha, kBeta, rows);
    ASSERT_TRUE(run_case(p, isa, a, b, c, kAlpha, kBeta, e))
        << "m=" << s.m << " n=" << s.n << " k=" << s.k << " " << to_string(p);
  }
}

TEST(Sgemm, RepeatedCallsGiveIdenticalResults) {
  std::mt19937_64 rng(11);
  const Matrix a(100, 90, 0, rng);
  const Matrix b(90, 80, 0, rng);
  const Matrix c0(100, 80, 0, rng);
  const Isa isa = best_isa();
  Matrix first = c0;
  Matrix second = c0;
  const GemmParams p = default_params(isa, 2);
  sgemm(p, isa, 100, 80, 90, kAlpha, a.data.data(), a.ld, b.data.data(), b.ld, kBeta,
        first.data.data(), first.ld);
  sgemm(p, isa, 100, 80, 90, kAlpha, a.data.data(), a.ld, b.data.data(), b.ld, kBeta,
        second.data.data(), second.ld);
  EXPECT_EQ(first.data, second.data);
}

TEST(Sgemm, RowsClaimedByAnyThreadGiveTheOneThreadResultBitForBit) {
  // Under Ic the threads claim the rows of each B panel as they go, so which thread computes
  // which rows changes from call to call (more so with more threads than cores). Every element
  // still goes through the same tile and the same sums in the same order, so the result must be
  // the one-thread result exactly, for every packing and with K split into several blocks
  // (without packing, the threads must meet between K blocks: the rows change hands).
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE(seed_note(seed));
  std::mt19937_64 rng(seed);
  const int m = 301;
  const int n = 77;
  const int k = 100;
  const Matrix a(m, k, 3, rng);
  const Matrix b(k, n, 1, rng);
  const Matrix c0(m, n, 2, rng);
  const Expected e = expect_all(a, b, c0, kAlpha, kBeta);
  for (const Isa isa : supported_isas()) {
    const auto [mr, nr] = micro_tiles(isa).front();
    for (int packing = 0; packing < 6; ++packing) {
      GemmParams p = small_blocks(isa, mr, nr);
      p.mc = 3 * mr;
      p.pack_a = (packing & 1) != 0;
      p.pack_b = (packing & 2) != 0 || packing >= 4;
      p.pack_b_ahead = packing >= 4;
      p.loop = GemmLoop::Ic;
      Matrix one = c0;
      sgemm(p, isa, m, n, k, kAlpha, a.data.data(), a.ld, b.data.data(), b.ld, kBeta,
            one.data.data(), one.ld);
      ASSERT_TRUE(matches(e, one)) << to_string(p);
      for (int threads : {2, 3, 4}) {
        p.threads = threads;
        for (int call = 0; call < 3; ++call) {
          Matrix many = c0;
          sgemm(p, isa, m, n, k, kAlpha, a.data.data(), a.ld, b.data.data(), b.ld, kBeta,
                many.data.data(), many.ld);
          ASSERT_EQ(
              std::memcmp(many.data.data(), one.data.data(), many.data.size() * sizeof(float)), 0)
              << "isa=" << to_string(isa) << " " << to_string(p) << " call " << call;
        }
      }
    }
  }
}

TEST(ReferenceGemm, MatchesHandComputedProduct) {
  // A = [1 2; 3 4], B = [5 6; 7 8], C = [1 1; 1 2]: A B = [19 22; 43 50].
  const float a[] = {1, 2, 3, 4};
  const float b[] = {5, 6, 7, 8};
  const float c[] = {1, 1, 1, 2};
  double out[4];
  reference_gemm(2, 2, 2, 2.0, a, 2, b, 2, -1.0, c, 2, out);
  EXPECT_EQ(out[0], 37.0);
  EXPECT_EQ(out[1], 43.0);
  EXPECT_EQ(out[2], 85.0);
  EXPECT_EQ(out[3], 98.0);
  reference_gemm(2, 2, 2, 1.0, a, 2, b, 2, 0.0, nullptr, 2, out);
  EXPECT_EQ(out[3], 50.0);
}

TEST(ReferenceGemm, RowsMatchTheFullProduct) {
  std::mt19937_64 rng(3);
  const Matrix a(23, 19, 1, rng);
  const Matrix b(19, 29, 2, rng);
  const Matrix c(23, 29, 3, rng);
  std::vector<double> full(23 * 29);
  reference_gemm(23, 29, 19, -0.5, a.data.data(), a.ld, b.data.data(), b.ld, 2.0, c.data.data(),
                 c.ld, full.data());
  const std::vector<int> rows = {22, 0, 5, 5, 17, 1, 9};
  std::vector<double> some(rows.size() * 29);
  reference_gemm_rows(rows, 23, 29, 19, -0.5, a.data.data(), a.ld, b.data.data(), b.ld, 2.0,
                      c.data.data(), c.ld, some.data());
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (int j = 0; j < 29; ++j) EXPECT_EQ(some[r * 29 + j], full[std::size_t(rows[r]) * 29 + j]);
  }
  const std::vector<int> bad = {23};
  EXPECT_THROW(reference_gemm_rows(bad, 23, 29, 19, 1.0, a.data.data(), a.ld, b.data.data(), b.ld,
                                   0.0, nullptr, c.ld, some.data()),
               Error);
}

TEST(GemmParams, DefaultsAreValidForEverySupportedIsa) {
  for (Isa isa : supported_isas()) {
    for (int threads : {1, 2, 16}) {
      const GemmParams p = default_params(isa, threads);
      EXPECT_EQ(check(p, isa), "") << to_string(isa);
      EXPECT_EQ(p.threads, threads);
    }
    EXPECT_FALSE(micro_tiles(isa).empty());
  }
  EXPECT_TRUE(isa_supported(Isa::Scalar));
  EXPECT_TRUE(isa_supported(best_isa()));
}

TEST(GemmParams, CheckNamesWhatIsWrong) {
  const Isa isa = best_isa();
  const GemmParams good = default_params(isa, 1);
  auto with = [&](auto change) {
    GemmParams p = good;
    change(p);
    return check(p, isa);
  };
  EXPECT_NE(with([](GemmParams& p) { p.mc = p.mr * 3 + 1; }).find("mc="), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.nc = p.nr + 1; }).find("nc="), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.kc = 0; }).find("kc="), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.threads = 0; }).find("threads="), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.prefetch = -1; }).find("prefetch="), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.pack_b_prefetch = 5000; }).find("pack_b_prefetch="),
            std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.mr = 5; }).find("not compiled"), std::string::npos);
  EXPECT_NE(with([](GemmParams& p) { p.mr = 5; }).find(std::string(to_string(isa))),
            std::string::npos);
}

TEST(GemmParams, SgemmRejectsBadArgumentsWithoutWritingC) {
  const Isa isa = best_isa();
  const GemmParams good = default_params(isa, 1);
  std::vector<float> a(64, 1.0f), b(64, 1.0f), c(64, 3.0f);
  auto code_of = [&](const GemmParams& p, int m, int n, int k, int lda, int ldb, int ldc) {
    try {
      sgemm(p, isa, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), ldc);
    } catch (const Error& e) {
      return static_cast<int>(e.code());
    }
    return -1;
  };
  const int invalid = static_cast<int>(ErrorCode::InvalidArgument);
  GemmParams bad = good;
  bad.mc = good.mr + 1;
  EXPECT_EQ(code_of(bad, 4, 4, 4, 4, 4, 4), invalid);
  EXPECT_EQ(code_of(good, 0, 4, 4, 4, 4, 4), invalid);
  EXPECT_EQ(code_of(good, 4, 4, 4, 3, 4, 4), invalid);
  EXPECT_EQ(code_of(good, 4, 4, 4, 4, 3, 4), invalid);
  EXPECT_EQ(code_of(good, 4, 4, 4, 4, 4, 3), invalid);
  for (float x : c) EXPECT_EQ(x, 3.0f);
  EXPECT_EQ(code_of(good, 4, 4, 4, 4, 4, 4), -1);
  EXPECT_EQ(c[0], 4.0f);
}

TEST(GemmNames, RoundTrip) {
  for (GemmLoop loop : kLoops) EXPECT_EQ(gemm_loop_from_string(to_string(loop)), loop);
  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
    EXPECT_EQ(isa_from_string(to_string(isa)), isa);
  }
  EXPECT_EQ(to_string(GemmLoop::Kc), "kc");
  EXPECT_EQ(to_string(Isa::Avx512), "avx512");
  EXPECT_FALSE(gemm_loop_from_string("JC").has_value());
  EXPECT_FALSE(isa_from_string("sse").has_value());
}

}  // namespace
}  // namespace attune::kernels
