// Tuning the built-in SGEMM from C++: the same loop `attune tune gemm` runs, in a dozen lines.

#include <cstdio>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"

int main() {
  using namespace attune;
  const kernels::Isa isa = kernels::best_isa();
  const SearchSpace space = cpu::gemm_search_space(isa, /*max_threads=*/2);
  cpu::GemmBackend backend({/*m=*/512, /*n=*/512, /*k=*/512}, isa);
  Evaluator evaluator(backend, Harness());  // prepare -> verify -> time
  StrategyRegistry strategies;
  register_builtin_strategies(strategies);
  auto strategy = strategies.create("random");
  TuneOptions options;
  options.budget.evaluations = 20;
  const TuneResult result = Tuner(space, evaluator, *strategy, options).run();
  const Evaluation* best = result.best_evaluation();
  if (best == nullptr) return 1;
  std::printf("best of %zu: %s at %.1f GFLOP/s\n", result.evaluations.size(),
              space.at(best->index).key().c_str(),
              backend.problem().flops() / best->measurement.objective() * 1e-9);
  return 0;
}
