// The SGEMM as a tunable kernel: its space holds only configurations the kernel accepts, the
// default is in it, and sampled configurations verify and time on an odd-sized problem.

#include <gtest/gtest.h>

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

TEST(GemmBackend, RejectsEmptyProblems) {
  EXPECT_THROW(cpu::GemmBackend({0, 4, 4}, kernels::best_isa()), Error);
}

}  // namespace
}  // namespace attune
