// How long a cache line takes to travel between two CPUs, sampled again and again beside a small
// SGEMM on one thread and on two. On a virtual machine the host decides where the vCPUs run, and
// it moves them: two vCPUs on cores that share a cache pass a line back and forth several times
// faster than two on distant cores. A product of a few microseconds on two threads meets at the
// start and the end of every call, so its speed follows that distance, whatever the kernel does.
// Each sample is a ping-pong between two threads pinned to CPUs 0 and 1 (the median round trip
// over batches), then the same product on one thread and on two, each as the mean rate over a
// tenth of a second of calls.
//
//   gemm_two_cpus [--size N] [--samples S] [--pause-ms P]

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "attune/kernels/gemm.hpp"
#include "int_flags.hpp"

namespace {

using attune::kernels::GemmLoop;
using attune::kernels::GemmParams;
using Clock = std::chrono::steady_clock;

struct Options {
  int size = 64;
  int samples = 10;
  int pause_ms = 500;
};

Options parse(int argc, char** argv) {
  Options o;
  attune::bench::parse_int_flags(
      argc, argv, {{"--size", &o.size}, {"--samples", &o.samples}, {"--pause-ms", &o.pause_ms}},
      "usage: gemm_two_cpus [--size N] [--samples S] [--pause-ms P]");
  if (o.size < 1 || o.samples < 1 || o.pause_ms < 0) {
    std::fprintf(stderr,
                 "gemm_two_cpus: --size and --samples must be positive, --pause-ms not negative\n");
    std::exit(2);
  }
  return o;
}

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

// The median round trip, in nanoseconds, of one cache line written in turn by a thread on CPU 0
// and one on CPU 1; negative when the threads cannot be pinned there. The calling thread is pinned
// to CPU 0 meanwhile and gets its own CPUs back afterwards.
double round_trip_ns() {
  constexpr int kTrips = 20000;
  constexpr int kBatches = 5;
  cpu_set_t own;
  const bool saved = pthread_getaffinity_np(pthread_self(), sizeof own, &own) == 0;
  alignas(64) std::atomic<int> turn{0};
  std::atomic<bool> pinned{true};
  std::thread other([&] {
    if (!pin_to(1)) pinned = false;
    for (int i = 0; i < kBatches * kTrips; ++i) {
      while (turn.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  std::vector<double> batches;
  const bool here = pin_to(0);
  for (int b = 0; b < kBatches; ++b) {
    const auto start = Clock::now();
    for (int i = b * kTrips; i < (b + 1) * kTrips; ++i) {
      turn.store(2 * i + 1, std::memory_order_release);
      while (turn.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    batches.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count() /
                      kTrips);
  }
  other.join();
  if (saved) pthread_setaffinity_np(pthread_self(), sizeof own, &own);
  if (!here || !pinned) return -1.0;
  std::sort(batches.begin(), batches.end());
  return batches[batches.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const attune::kernels::Isa isa = attune::kernels::best_isa();
  const int n = o.size;
  const std::size_t count = std::size_t(n) * std::size_t(n);
  // 64-byte aligned, as `attune bench gemm` allocates them, so that each thread's half of a row
  // of C is whole cache lines and the two threads share none.
  const auto matrix = [&] {
    const std::size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
    return std::unique_ptr<float[], decltype(&std::free)>(
        static_cast<float*>(std::aligned_alloc(64, bytes)), &std::free);
  };
  auto a = matrix();
  auto b = matrix();
  auto c = matrix();
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (std::size_t i = 0; i < count; ++i) {
    a[i] = dist(rng);
    b[i] = dist(rng);
  }

  // The blockings `attune bench gemm` chose for 64^3 on this kind of machine: nothing packed, one
  // thread on 6 x 64 tiles; two threads on 14 x 32 tiles, each its half of N.
  GemmParams one = attune::kernels::default_params(isa, 1);
  GemmParams two = attune::kernels::default_params(isa, 2);
  if (isa == attune::kernels::Isa::Avx512) {
    one.mr = 6;
    one.nr = 64;
    one.mc = 72;
    two.mr = 14;
    two.nr = 32;
    two.mc = 112;
    two.prefetch = 16;
  }
  for (GemmParams* p : {&one, &two}) {
    p->kc = std::max(64, n);
    p->nc = 192;
    p->loop = GemmLoop::Jc;
    p->pack_a = false;
    p->pack_b = false;
    p->pack_b_ahead = false;
    p->pack_b_prefetch = 0;
    p->jr_outer = true;
  }
  one.prefetch = 0;
  one.threads = 1;
  two.threads = 2;

  const double flops = 2.0 * n * double(n) * n;
  const int calls = std::max(1, static_cast<int>(2e8 / flops));
  // The mean rate over 0.1 s of calls, after 0.02 s of calls that wake the second CPU from idle
  // (the first calls after a pause, while the host brings a halted vCPU back, ran up to ten times
  // slower on two threads).
  const auto rate = [&](const GemmParams& p) {
    const auto run_for = [&](double seconds) {
      const auto start = Clock::now();
      double elapsed = 0.0;
      long done = 0;
      while (elapsed < seconds) {
        for (int i = 0; i < calls; ++i) {
          attune::kernels::sgemm(p, isa, n, n, n, 1.0f, a.get(), n, b.get(), n, 0.0f, c.get(), n);
        }
        done += calls;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      }
      return flops * double(done) / elapsed * 1e-9;
    };
    run_for(0.02);
    return run_for(0.1);
  };

  std::printf(
      "sgemm %d^3 (%s), mean GFLOP/s over 0.1 s of calls, beside the round trip of a cache line "
      "between CPUs 0 and 1; a sample every %d ms\n",
      n, std::string(attune::kernels::to_string(isa)).c_str(), o.pause_ms);
  std::printf("%6s %14s %12s %12s %10s\n", "sample", "round trip ns", "1 thr GF/s", "2 thr GF/s",
              "2 / 1");
  const auto begin = Clock::now();
  for (int s = 0; s < o.samples; ++s) {
    const double trip = round_trip_ns();
    const double r1 = rate(one);
    const double r2 = rate(two);
    char trip_text[32] = "not pinned";
    if (trip >= 0) std::snprintf(trip_text, sizeof trip_text, "%.0f", trip);
    std::printf("%6.1fs %13s %12.1f %12.1f %9.2fx\n",
                std::chrono::duration<double>(Clock::now() - begin).count(), trip_text, r1, r2,
                r2 / r1);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(o.pause_ms));
  }
  return 0;
}
