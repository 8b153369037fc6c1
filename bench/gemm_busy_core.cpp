// The built-in SGEMM on every CPU while a thread of this process keeps the last CPU busy part of
// the time, as another program on a shared machine would: threads that claim the rows of each B
// panel as they go (loop=ic) against threads whose share is fixed in advance (loop=jc, each
// thread its half of N), both with the default blocking otherwise. Each is measured alternately
// on a quiet machine and with the busy CPU, over many calls, and the figure is the mean rate
// (total flops over total time, not a median: the point is the time lost while a core is taken).
// The operating system shares the busy CPU between the two threads, so how much of it the
// product loses depends on the scheduler; what the loops change is whether the other threads
// wait for the slowed one.
//
//   gemm_busy_core [--size N] [--calls C] [--rounds R] [--busy-ms B] [--idle-ms I]

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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
  int size = 1024;
  int calls = 100;
  int rounds = 3;
  int busy_ms = 20;
  int idle_ms = 80;
};

Options parse(int argc, char** argv) {
  Options o;
  attune::bench::parse_int_flags(
      argc, argv,
      {{"--size", &o.size},
       {"--calls", &o.calls},
       {"--rounds", &o.rounds},
       {"--busy-ms", &o.busy_ms},
       {"--idle-ms", &o.idle_ms}},
      "usage: gemm_busy_core [--size N] [--calls C] [--rounds R] [--busy-ms B] [--idle-ms I]");
  if (o.size < 1 || o.calls < 1 || o.rounds < 1 || o.busy_ms < 0 || o.idle_ms < 0) {
    std::fprintf(stderr, "gemm_busy_core: every value must be positive\n");
    std::exit(2);
  }
  return o;
}

// Keeps `cpu` busy for busy_ms out of every busy_ms + idle_ms while `on` is set.
class BusyCpu {
 public:
  BusyCpu(int cpu, int busy_ms, int idle_ms)
      : thread_([this, cpu, busy_ms, idle_ms] { run(cpu, busy_ms, idle_ms); }) {}
  ~BusyCpu() {
    stop_ = true;
    thread_.join();
  }
  void set(bool on) { on_ = on; }

 private:
  void run(int cpu, int busy_ms, int idle_ms) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    volatile double sink = 0.0;
    while (!stop_) {
      if (!on_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      const auto until = Clock::now() + std::chrono::milliseconds(busy_ms);
      while (Clock::now() < until) sink = sink + 1.0;
      std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    }
  }

  std::atomic<bool> on_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const auto isa = attune::kernels::best_isa();
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (cpus < 2) {
    std::fprintf(stderr, "gemm_busy_core: needs at least 2 CPUs (this machine has %d)\n", cpus);
    return 1;
  }
  const std::size_t count = std::size_t(o.size) * std::size_t(o.size);
  std::vector<float> a(count), b(count), c(count);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& x : a) x = dist(rng);
  for (float& x : b) x = dist(rng);

  const GemmLoop loops[] = {GemmLoop::Ic, GemmLoop::Jc};
  // Total seconds by loop and by quiet (0) or busy (1).
  double seconds[2][2] = {};
  BusyCpu busy(cpus - 1, o.busy_ms, o.idle_ms);
  for (int round = 0; round < o.rounds; ++round) {
    for (int l = 0; l < 2; ++l) {
      for (int disturbed = 0; disturbed < 2; ++disturbed) {
        GemmParams p = attune::kernels::default_params(isa, cpus);
        p.loop = loops[l];
        busy.set(disturbed == 1);
        const auto start = Clock::now();
        for (int call = 0; call < o.calls; ++call) {
          attune::kernels::sgemm(p, isa, o.size, o.size, o.size, 1.0f, a.data(), o.size, b.data(),
                                 o.size, 0.0f, c.data(), o.size);
        }
        seconds[l][disturbed] += std::chrono::duration<double>(Clock::now() - start).count();
        busy.set(false);
      }
    }
  }
  const double flops = 2.0 * o.size * double(o.size) * o.size * o.calls * o.rounds;
  std::printf(
      "sgemm %d^3 on %d threads (%s, default blocking); \"busy\": CPU %d taken %d ms of every %d "
      "ms by another thread; mean GFLOP/s over %d calls x %d rounds, alternating\n",
      o.size, cpus, std::string(attune::kernels::to_string(isa)).c_str(), cpus - 1, o.busy_ms,
      o.busy_ms + o.idle_ms, o.calls, o.rounds);
  std::printf("%-28s %8s %8s %11s\n", "loop", "quiet", "busy", "busy/quiet");
  for (int l = 0; l < 2; ++l) {
    const double quiet = flops / seconds[l][0] * 1e-9;
    const double loaded = flops / seconds[l][1] * 1e-9;
    const char* what = loops[l] == GemmLoop::Ic ? "ic (rows claimed)" : "jc (halves of N fixed)";
    std::printf("%-28s %8.1f %8.1f %10.3fx\n", what, quiet, loaded, loaded / quiet);
  }
  return 0;
}
