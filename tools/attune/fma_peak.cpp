// Measures the fp32 FMA peak with a register-only loop per thread. The loops are compiled for
// their ISA through function target attributes, so the CLI itself stays portable x86-64 and only
// calls the variant that CPUID says this CPU runs.

#include "fma_peak.hpp"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace attune::cli {
namespace {

constexpr int kChains = 16;

// Each iteration is kChains independent FMAs; the empty asm keeps every chain in a register and
// stops the compiler from folding the loop. One function per ISA, since each must be compiled
// with its own target. Returns the flops done.
[[gnu::target("avx512f,fma")]] double run_avx512(std::int64_t iterations) {
  __m512 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_ps(1.0f + 1e-3f * i);
  const __m512 x = _mm512_set1_ps(0.999999f);
  const __m512 y = _mm512_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) {
      acc[i] = _mm512_fmadd_ps(acc[i], x, y);
      __asm__ volatile("" : "+v"(acc[i]));
    }
  }
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

[[gnu::target("avx2,fma")]] double run_avx2(std::int64_t iterations) {
  __m256 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = _mm256_set1_ps(1.0f + 1e-3f * i);
  const __m256 x = _mm256_set1_ps(0.999999f);
  const __m256 y = _mm256_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) {
      acc[i] = _mm256_fmadd_ps(acc[i], x, y);
      __asm__ volatile("" : "+x"(acc[i]));
    }
  }
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}

// Without FMA the portable kernels multiply and add: two instructions per lane pair.
double run_scalar(std::int64_t iterations) {
  __m128 acc[kChains];
#pragma GCC unroll 16
  for (int i = 0; i < kChains; ++i) acc[i] = _mm_set1_ps(1.0f + 1e-3f * i);
  const __m128 x = _mm_set1_ps(0.999999f);
  const __m128 y = _mm_set1_ps(1e-7f);
  for (std::int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < kChains; ++i) {
      acc[i] = _mm_add_ps(_mm_mul_ps(acc[i], x), y);
      __asm__ volatile("" : "+x"(acc[i]));
    }
  }
  return 2.0 * 4 * kChains * static_cast<double>(iterations);
}

double run(kernels::Isa isa, std::int64_t n) {
  switch (isa) {
    case kernels::Isa::Avx512: return run_avx512(n);
    case kernels::Isa::Avx2: return run_avx2(n);
    case kernels::Isa::Scalar: return run_scalar(n);
  }
  return 0.0;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

double measure_fma_peak_gflops(kernels::Isa isa, int threads, int trials, double trial_s) {
  // Calibrate the iteration count on one thread so a trial lasts about trial_s.
  std::int64_t iterations = 1 << 16;
  for (;;) {
    const auto start = std::chrono::steady_clock::now();
    run(isa, iterations);
    const double s = seconds_since(start);
    if (s >= trial_s / 4) {
      iterations = static_cast<std::int64_t>(iterations * trial_s / s);
      break;
    }
    iterations *= 4;
  }
  double best = 0.0;
  for (int t = 0; t < trials; ++t) {
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<double> flops(static_cast<std::size_t>(threads), 0.0);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) {
      pool.emplace_back([&, i] {
        ready.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        flops[static_cast<std::size_t>(i)] = run(isa, iterations);
      });
    }
    while (ready.load() < threads - 1) std::this_thread::yield();
    const auto start = std::chrono::steady_clock::now();
    go = true;
    flops[0] = run(isa, iterations);
    for (std::thread& th : pool) th.join();
    const double s = seconds_since(start);
    double total = 0.0;
    for (double f : flops) total += f;
    best = std::max(best, total / s * 1e-9);
  }
  return best;
}

}  // namespace attune::cli
