// GFLOP/s of the built-in SGEMM for every compiled micro-tile of every ISA this CPU supports, at
// square sizes with the default blocking otherwise, on 1 thread and on every parallel loop with 2
// threads, each with B packed in a pass of its own and packed ahead of use (pack_b_ahead), so that
// the best tile shapes, loops and packing are known before tuning. Sizes default to 1024;
// pass --size=N (repeatable) to change them. Benchmarks are registered in main, not by static
// initializers, so that the set follows the CPU it runs on.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attune/kernels/gemm.hpp"

namespace {

using attune::kernels::GemmLoop;
using attune::kernels::GemmParams;
using attune::kernels::Isa;

void run_sgemm(benchmark::State& state, GemmParams params, Isa isa, int size) {
  const std::size_t count = std::size_t(size) * std::size_t(size);
  std::vector<float> a(count), b(count), c(count);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);
  for (float& x : c) x = dist(rng);
  const std::string why = attune::kernels::check(params, isa);
  if (!why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  for (auto _ : state) {
    attune::kernels::sgemm(params, isa, size, size, size, 1.0f, a.data(), size, b.data(), size,
                           0.0f, c.data(), size);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * size * double(size) * size,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> sizes;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--size=", 7) == 0) {
      sizes.push_back(std::atoi(argv[i] + 7));
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (sizes.empty()) sizes.push_back(1024);
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());

  for (Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {
    if (!attune::kernels::isa_supported(isa)) continue;
    for (const auto& [mr, nr] : attune::kernels::micro_tiles(isa)) {
      for (int size : sizes) {
        GemmParams p = attune::kernels::default_params(isa, 1);
        p.mr = mr;
        p.nr = nr;
        p.mc = std::max(mr, p.mc / mr * mr);
        p.nc = std::max(nr, p.nc / nr * nr);
        const std::string name = "sgemm/" + std::string(to_string(isa)) + "/" + std::to_string(mr) +
                                 "x" + std::to_string(nr) + "/t1/" + std::to_string(size);
        benchmark::RegisterBenchmark(name.c_str(), run_sgemm, p, isa, size)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
    for (int threads : {1, 2}) {
      for (GemmLoop loop : {GemmLoop::Jc, GemmLoop::Ic, GemmLoop::Jr, GemmLoop::Kc}) {
        // With one thread the loop is not split: one entry suffices.
        if (threads == 1 && loop != GemmLoop::Jc) continue;
        for (bool ahead : {false, true}) {
          for (int size : sizes) {
            GemmParams p = attune::kernels::default_params(isa, threads);
            p.loop = loop;
            p.pack_b_ahead = ahead;
            p.pack_b_prefetch = ahead ? 128 : 0;
            const std::string name = "sgemm/" + std::string(to_string(isa)) + "/default" +
                                     (ahead ? "_ahead" : "") + "/t" + std::to_string(threads) +
                                     "/" + std::string(to_string(loop)) + "/" +
                                     std::to_string(size);
            benchmark::RegisterBenchmark(name.c_str(), run_sgemm, p, isa, size)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
          }
        }
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
