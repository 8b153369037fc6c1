// The SGEMM as a tunable kernel: its space holds only configurations the kernel accepts, the
// default is in it, and sampled configurations verify and time on an odd-sized problem.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"

namespace attune {
namespace {

using kernels::Isa;

std::vector<Isa> isas_here() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (kernels::isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

TEST(GemmSpace, EveryConfigurationIsAcceptedByTheKernel) {
  for (Isa isa : isas_here()) {
    const SearchSpace space = cpu::gemm_search_space(isa, 2);
    ASSERT_GT(space.size(), 100u);
    for (std::size_t i = 0; i < space.size(); ++i) {
      const Config c = space.at(i);
      const auto p = cpu::gemm_params(c);
      ASSERT_EQ(kernels::check(p, isa), "") << c.key();
      ASSERT_EQ(p.mc % p.mr, 0) << c.key();
      ASSERT_EQ(p.nc % p.nr, 0) << c.key();
      if (p.threads == 1) ASSERT_EQ(c.string_of("loop"), "jc");
    }
    const auto d = cpu::default_gemm_index(space, isa, 2);
    EXPECT_EQ(cpu::gemm_params(space.at(d)).threads, 2);
  }
}

TEST(GemmSpace, SignatureDependsOnIsaAndThreadsOnly) {
  EXPECT_EQ(cpu::gemm_search_space(Isa::Avx2, 2).signature(),
            cpu::gemm_search_space(Isa::Avx2, 2).signature());
  EXPECT_NE(cpu::gemm_search_space(Isa::Avx2, 2).signature(),
            cpu::gemm_search_space(Isa::Avx2, 1).signature());
}

TEST(GemmBackend, SampledConfigurationsVerifyOnAnOddProblem) {
  for (Isa isa : isas_here()) {
    const SearchSpace space = cpu::gemm_search_space(isa, 2);
    cpu::GemmBackend backend({37, 53, 29, -1.5f, 0.75f}, isa, 5);
    HarnessOptions h;
    h.max_measure_s = 0.01;
    h.min_sample_s = 1e-4;
    Evaluator evaluator(backend, Harness(h));
    std::mt19937_64 rng(std::random_device{}());
    for (std::size_t i : space.sample(rng, 40)) {
      const Config c = space.at(i);
      const Measurement m = evaluator.evaluate(c);
      EXPECT_TRUE(m.ok()) << c.key() << ": " << to_string(m.status) << " " << m.message;
      EXPECT_GT(m.summary.median, 0.0);
    }
  }
}

TEST(GemmBackend, LargeProblemsCheckASampleOfRowsIncludingTheEdges) {
  const Isa isa = kernels::best_isa();
  cpu::GemmBackend backend({700, 650, 640, 1.0f, 0.0f}, isa, 1);
  const auto& rows = backend.checked_rows();
  ASSERT_LT(rows.size(), 700u);
  EXPECT_EQ(rows.front(), 0);
  EXPECT_EQ(rows.back(), 699);
  const SearchSpace space = cpu::gemm_search_space(isa, 1);
  Evaluator evaluator(backend, Harness());
  const Measurement m = evaluator.evaluate(space.at(cpu::default_gemm_index(space, isa, 1)));
  EXPECT_TRUE(m.ok()) << m.message;
}

TEST(GemmBackend, TooManyThreadsIsOverLimits) {
  const Isa isa = kernels::best_isa();
  const int cores = DeviceInfo::host_cpu().cores;
  const SearchSpace space = cpu::gemm_search_space(isa, cores + 1);
  cpu::GemmBackend backend({16, 16, 16}, isa);
  Evaluator evaluator(backend, Harness());
  bool saw = false;
  for (std::size_t i = 0; i < space.size() && !saw; ++i) {
    const Config c = space.at(i);
    if (c.int_of("threads") <= cores) continue;
    const Measurement m = evaluator.evaluate(c);
    EXPECT_EQ(m.status, Status::OverLimits) << m.message;
    EXPECT_NE(m.message.find("CPUs available"), std::string::npos);
    saw = true;
  }
  EXPECT_TRUE(saw);
}

TEST(GemmSpace, IndexOfParamsRoundTripsAndRefusesValuesOutsideTheLists) {
  for (Isa isa : isas_here()) {
    const SearchSpace space = cpu::gemm_search_space(isa, 2);
    for (std::size_t i : {std::size_t{0}, space.size() / 3, space.size() - 1}) {
      const auto p = cpu::gemm_params(space.at(i));
      ASSERT_EQ(cpu::gemm_index(space, p), i) << kernels::to_string(p);
    }
    kernels::GemmParams p = kernels::default_params(isa, 1);
    p.loop = kernels::GemmLoop::Kc;  // ignored with one thread, as in the space
    EXPECT_EQ(cpu::gemm_index(space, p), cpu::default_gemm_index(space, isa, 1));
    p.pack_b = false;
    const auto in_place = cpu::gemm_index(space, p);
    ASSERT_TRUE(in_place.has_value());
    p.pack_b_ahead = true;  // ignored without pack_b, as in the space
    p.pack_b_prefetch = 128;
    EXPECT_EQ(cpu::gemm_index(space, p), in_place);
    p.pack_b = true;
    ASSERT_TRUE(cpu::gemm_index(space, p).has_value());
    EXPECT_TRUE(cpu::gemm_params(space.at(*cpu::gemm_index(space, p))).pack_b_ahead);
    p.pack_b_prefetch = 100;  // not in the pack_b_prefetch list
    EXPECT_EQ(cpu::gemm_index(space, p), std::nullopt);
    p.pack_b_prefetch = 128;
    p.kc = 100;  // not in the KC list
    EXPECT_EQ(cpu::gemm_index(space, p), std::nullopt);
    p = kernels::default_params(isa, 3);  // more threads than the space allows
    EXPECT_EQ(cpu::gemm_index(space, p), std::nullopt);
  }
}

TEST(GemmSpace, CandidatesAreValidAndFollowTheShape) {
  const Isa isa = kernels::best_isa();
  const SearchSpace space = cpu::gemm_search_space(isa, 2);
  for (const cpu::GemmProblem pr :
       {cpu::GemmProblem{64, 64, 64}, cpu::GemmProblem{64, 4096, 4096},
        cpu::GemmProblem{4096, 64, 4096}, cpu::GemmProblem{4096, 4096, 64},
        cpu::GemmProblem{2048, 2048, 2048}, cpu::GemmProblem{256, 256, 256},
        cpu::GemmProblem{512, 512, 512}}) {
    const auto candidates = cpu::gemm_candidates(pr, isa, 2);
    ASSERT_FALSE(candidates.empty());
    EXPECT_EQ(candidates.front(), kernels::default_params(isa, 2));
    for (const auto& p : candidates) {
      EXPECT_EQ(kernels::check(p, isa), "") << kernels::to_string(p);
      EXPECT_LE(p.threads, 2);
      EXPECT_TRUE(cpu::gemm_index(space, p).has_value()) << kernels::to_string(p);
    }
    if (isa == Isa::Avx512 && pr.m == 64 && pr.n == 64) {
      // A product this small is not worth packing or a parallel region.
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(), [](const auto& p) {
        return !p.pack_a && !p.pack_b && p.threads == 1;
      }));
    }
    if (isa == Isa::Avx512 && pr.m <= 512 && pr.m == pr.n && pr.n == pr.k) {
      // Products that fit in the caches: both threads read their columns of B in place.
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(), [](const auto& p) {
        return !p.pack_a && !p.pack_b && p.threads == 2 && p.loop == kernels::GemmLoop::Jc;
      })) << pr.m;
    }
    if (isa == Isa::Avx512 && pr.m == 64 && pr.n == 4096) {
      // A skinny M streams B once: packed ahead, in panels as wide as each thread's share of N,
      // split over N on two threads so that neither waits for the other.
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(), [](const auto& p) {
        return p.pack_b && p.pack_b_ahead && p.nc >= 2048 && p.threads == 2 &&
               p.loop == kernels::GemmLoop::Jc;
      }));
      // Or B read in place with the K dimension split, in 16-row tiles that divide M.
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(), [](const auto& p) {
        return !p.pack_b && p.mr == 16 && p.threads == 2 && p.loop == kernels::GemmLoop::Kc;
      }));
    }
    if (isa == Isa::Avx512 && pr.m == 2048 && pr.n == 2048) {
      // A large square: the default's deep K blocks, with each B micro-panel streaming past the
      // whole A block, also split over N on two threads.
      EXPECT_TRUE(std::any_of(candidates.begin() + 1, candidates.end(), [&](const auto& p) {
        return p.mr == 6 && p.nr == 64 && p.kc == 1024 && p.jr_outer && p.pack_b_ahead &&
               p.threads == 2 && p.loop == kernels::GemmLoop::Jc;
      }));
    }
    if (isa == Isa::Avx512 && pr.n == 64 && pr.k == 4096) {
      // A skinny N reads A in place in one K block, so each C tile is written once.
      EXPECT_TRUE(std::any_of(candidates.begin(), candidates.end(), [](const auto& p) {
        return !p.pack_a && !p.pack_b && p.kc >= 4096 && p.threads == 2;
      }));
    }
  }
}

TEST(GemmBackend, ExternalCallsAreVerifiedAgainstTheSameReference) {
  const Isa isa = kernels::best_isa();
  cpu::GemmBackend backend({37, 53, 29, 1.0f, 0.0f}, isa, 5);
  const auto params = kernels::default_params(isa, 1);
  auto right = backend.prepare_external(
      [&](const cpu::GemmProblem& p, const float* a, const float* b, float* c) {
        kernels::sgemm(params, isa, p.m, p.n, p.k, p.alpha, a, p.k, b, p.n, p.beta, c, p.n);
      });
  EXPECT_TRUE(right->verify().ok);
  EXPECT_EQ(right->run(3).status, Status::Ok);
  // A product that drops the last term of every dot product is caught.
  auto wrong = backend.prepare_external(
      [&](const cpu::GemmProblem& p, const float* a, const float* b, float* c) {
        for (int i = 0; i < p.m; ++i) {
          for (int j = 0; j < p.n; ++j) {
            float sum = 0.0f;
            for (int q = 0; q + 1 < p.k; ++q) sum += a[i * p.k + q] * b[q * p.n + j];
            c[i * p.n + j] = sum;
          }
        }
      });
  EXPECT_FALSE(wrong->verify().ok);
  // One that leaves C untouched fails on the poisoned output.
  auto lazy =
      backend.prepare_external([](const cpu::GemmProblem&, const float*, const float*, float*) {});
  const VerifyResult r = lazy->verify();
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.nan_count, 0u);
}

TEST(GemmBackend, RejectsEmptyProblems) {
  EXPECT_THROW(cpu::GemmBackend({0, 4, 4}, kernels::best_isa()), Error);
}

}  // namespace
}  // namespace attune
