// How long building a SearchSpace takes: the hotspot stencil space of the benchmark_hub suite
// (4.44 million combinations, 82,984 valid) and a synthetic GEMM-like space of 1.8 billion
// combinations with divisibility, product and shared-memory constraints. Both must stay well
// under a second so that spec files with large spaces load instantly.

#include <benchmark/benchmark.h>

#include <vector>

#include "attune/search_space.hpp"

namespace {

using attune::Constraint;
using attune::Param;
using attune::SearchSpace;
using attune::Value;

std::vector<Value> range(int lo, int hi) {
  std::vector<Value> out;
  for (int v = lo; v <= hi; ++v) out.emplace_back(v);
  return out;
}

std::vector<Param> hotspot_params() {
  std::vector<Value> bsx = {1, 2, 4, 8, 16};
  for (int v = 32; v <= 1024; v += 32) bsx.emplace_back(v);
  return {{"grid_width", {4096}},
          {"grid_height", {4096}},
          {"block_size_x", bsx},
          {"block_size_y", {1, 2, 4, 8, 16, 32}},
          {"tile_size_x", range(1, 10)},
          {"tile_size_y", range(1, 10)},
          {"temporal_tiling_factor", range(1, 10)},
          {"max_tfactor", {10}},
          {"loop_unroll_factor_t", range(1, 10)},
          {"sh_power", {0, 1}}};
}

std::vector<Constraint> hotspot_constraints() {
  return {"block_size_x*block_size_y>= 32", "temporal_tiling_factor % loop_unroll_factor_t == 0",
          "block_size_x*block_size_y <= 1024",
          "(block_size_x*tile_size_x+ temporal_tiling_factor * 2) * (block_size_y*tile_size_y+ "
          "temporal_tiling_factor * 2) * (2+sh_power) * 4 <= 49152"};
}

// A CUTLASS-like tiled GEMM: block, warp and thread tiles with vector widths, pipelining stages,
// split-k and a few switches: 6*6*4*4*4*4*4*4*4*4*4*4*2*2*2*3*2 = 1.81e9 combinations, of which
// 11.66 million (0.64%) are valid; only swizzle and cache_a are free of constraints.
std::vector<Param> gemm_params() {
  const std::vector<Value> pow2_8_256 = {8, 16, 32, 64, 128, 256};
  const std::vector<Value> pow2_1_8 = {1, 2, 4, 8};
  const std::vector<Value> pow2_8_64 = {8, 16, 32, 64};
  return {{"block_m", pow2_8_256}, {"block_n", pow2_8_256}, {"block_k", pow2_8_64},
          {"warp_m", pow2_8_64},   {"warp_n", pow2_8_64},   {"thread_m", pow2_1_8},
          {"thread_n", pow2_1_8},  {"vec_a", pow2_1_8},     {"vec_b", pow2_1_8},
          {"stages", range(1, 4)}, {"unroll_k", pow2_1_8},  {"split_k", pow2_1_8},
          {"swizzle", {0, 1}},     {"cache_a", {0, 1}},     {"double_buffer", {0, 1}},
          {"layout", {0, 1, 2}},   {"prefetch", {0, 1}}};
}

std::vector<Constraint> gemm_constraints() {
  return {"block_m % warp_m == 0",
          "block_n % warp_n == 0",
          "warp_m % (thread_m * vec_a) == 0",
          "warp_n % (thread_n * vec_b) == 0",
          "32 <= (block_m // warp_m) * (block_n // warp_n) * 32 <= 512",
          "(warp_m // thread_m) * (warp_n // thread_n) == 32",
          "block_k % unroll_k == 0",
          "(block_m + block_n) * block_k * stages * 4 <= 48 * 1024",
          "split_k == 1 or block_k >= 32",
          "thread_m * thread_n <= 32",
          "double_buffer == 0 or stages >= 2",
          "prefetch == 0 or split_k == 1",
          "layout != 2 or vec_a == vec_b"};
}

void BM_HotspotSpace(benchmark::State& state) {
  std::size_t valid = 0;
  for (auto _ : state) {
    SearchSpace space(hotspot_params(), hotspot_constraints());
    valid = space.size();
    benchmark::DoNotOptimize(valid);
  }
  state.counters["valid"] = static_cast<double>(valid);
  state.counters["cartesian"] = 4'440'000;
}
BENCHMARK(BM_HotspotSpace)->Unit(benchmark::kMillisecond);

void BM_GemmBillionSpace(benchmark::State& state) {
  std::size_t valid = 0;
  double cartesian = 0;
  for (auto _ : state) {
    SearchSpace space(gemm_params(), gemm_constraints());
    valid = space.size();
    cartesian = static_cast<double>(space.cartesian_size());
    benchmark::DoNotOptimize(valid);
  }
  state.counters["valid"] = static_cast<double>(valid);
  state.counters["cartesian"] = cartesian;
}
BENCHMARK(BM_GemmBillionSpace)->Unit(benchmark::kMillisecond);

}  // namespace
