// The compile-measure pipeline against strictly serial tuning, in one run: the same spec, the same
// strategy and seed, the same evaluation budget, once building each configuration just before
// measuring it and once building ahead on worker threads while the device measures. Reports the
// wall time of each, where it went, and checks that both runs measured the same configurations
// with the same outcomes.
//
// It runs any spec: an OpenCL one (the default, examples/opencl_sgemm.toml) or a C++ one, whose
// compile cache is emptied before each run.
//
// The strategy is `random` by default because its proposals do not depend on what it is told: a
// strategy that learns would propose differently once the pipeline makes it choose ahead, and
// the two runs would not measure the same configurations. PoCL's kernel cache is switched off
// (POCL_KERNEL_CACHE=0) so that the second run compiles as much as the first.
//
// On a machine whose OpenCL device is its own CPU (PoCL), compiling and measuring compete for the
// same cores: the serial run leaves one core idle while it compiles (a compiler is one thread),
// and the pipeline can win back only that. POCL_MAX_PTHREAD_COUNT=1 gives the device one core and
// leaves the other to the compiler, as a GPU machine has its host CPU beside the device.
//
// Usage: pipeline [SPEC] [--budget N] [--seed S] [--strategy NAME] [--measure-time S]
//                 [--lookahead N] [--build-threads N] [--pairs P] [--set NAME=VALUE]
//                 [--json FILE]

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "attune/backends/jit.hpp"
#include "attune/backends/opencl.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/kernel_spec.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"

namespace {

struct Options {
  std::string spec = ATTUNE_SOURCE_DIR "/examples/opencl_sgemm.toml";
  std::size_t budget = 100;
  std::uint64_t seed = 1;
  std::string strategy = "random";
  double measure_s = 0.2;
  std::size_t lookahead = 8;
  std::size_t build_threads = 1;
  int pairs = 1;
  std::string json_path;
  std::vector<std::pair<std::string, std::int64_t>> sizes;  // --set NAME=VALUE
};

struct Run {
  std::string mode;
  attune::TuneResult result;
};

Run tune(const attune::KernelSpec& spec, const Options& o, bool pipelined) {
  using namespace attune;
  const SearchSpace space = spec.space();
  std::unique_ptr<Backend> backend;
  std::filesystem::path cache;
  if (spec.backend == "cpp") {
    // A fresh compile cache for every run, so that both compile everything.
    cache = std::filesystem::temp_directory_path() /
            ("attune-pipeline-bench-" + std::to_string(::getpid()) + "-" + (pipelined ? "p" : "s"));
    std::filesystem::remove_all(cache);
    jit::JitOptions jit_options;
    jit_options.cache_dir = cache;
    backend = jit::make_jit_backend(spec, jit_options);
  } else {
    backend = opencl::make_opencl_backend(spec);
  }
  HarnessOptions harness;
  harness.max_measure_s = o.measure_s;
  Evaluator evaluator(*backend, Harness(harness));
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(o.strategy);
  TuneOptions options;
  options.seed = o.seed;
  options.budget.evaluations = o.budget;
  options.initial = {0};
  options.pipeline.max_lookahead = pipelined ? o.lookahead : 0;
  options.pipeline.prepare_threads = o.build_threads;
  Run run{pipelined ? "pipelined" : "serial", Tuner(space, evaluator, *strategy, options).run()};
  backend.reset();
  if (!cache.empty()) std::filesystem::remove_all(cache);
  return run;
}

void print(const Run& r) {
  const attune::PipelineTelemetry& t = r.result.telemetry;
  std::printf("%-10s %8.1f %8.1f %8.1f %8.1f %7.0f%% %6zu %6zu\n", r.mode.c_str(),
              r.result.elapsed_s, t.prepare_s, t.measure_s, t.wait_s,
              100.0 * t.idle_fraction(r.result.elapsed_s), t.max_depth,
              r.result.evaluations.size());
}

nlohmann::json to_json(const Run& r) {
  const attune::PipelineTelemetry& t = r.result.telemetry;
  return {{"mode", r.mode},
          {"wall_s", r.result.elapsed_s},
          {"build_s", t.prepare_s},
          {"measure_s", t.measure_s},
          {"wait_for_build_s", t.wait_s},
          {"device_idle_fraction", t.idle_fraction(r.result.elapsed_s)},
          {"max_lookahead_reached", t.max_depth},
          {"evaluations", r.result.evaluations.size()}};
}

// Whether two runs measured the same configurations, in the same order, with the same statuses.
std::string compare_runs(const Run& a, const Run& b) {
  const auto& x = a.result.evaluations;
  const auto& y = b.result.evaluations;
  if (x.size() != y.size()) {
    return "different numbers of evaluations: " + std::to_string(x.size()) + " and " +
           std::to_string(y.size());
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].index != y[i].index) {
      return "evaluation " + std::to_string(i) + " measured different configurations";
    }
    if (x[i].measurement.status != y[i].measurement.status) {
      return "evaluation " + std::to_string(i) + " ended " +
             std::string(attune::to_string(x[i].measurement.status)) + " in one run and " +
             std::string(attune::to_string(y[i].measurement.status)) + " in the other";
    }
  }
  return {};
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "pipeline: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--budget") {
      o.budget = std::stoul(value());
    } else if (arg == "--seed") {
      o.seed = std::stoull(value());
    } else if (arg == "--strategy") {
      o.strategy = value();
    } else if (arg == "--measure-time") {
      o.measure_s = std::stod(value());
    } else if (arg == "--lookahead") {
      o.lookahead = std::stoul(value());
    } else if (arg == "--build-threads") {
      o.build_threads = std::stoul(value());
    } else if (arg == "--pairs") {
      o.pairs = std::stoi(value());
    } else if (arg == "--set") {
      const std::string v = value();
      const auto eq = v.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "pipeline: --set wants NAME=VALUE, got %s\n", v.c_str());
        std::exit(2);
      }
      o.sizes.emplace_back(v.substr(0, eq), std::stoll(v.substr(eq + 1)));
    } else if (arg == "--json") {
      o.json_path = value();
    } else if (!arg.empty() && arg[0] != '-') {
      o.spec = arg;
    } else {
      std::fprintf(stderr,
                   "usage: pipeline [SPEC] [--budget N] [--seed S] [--strategy NAME] "
                   "[--measure-time S] [--lookahead N] [--build-threads N] [--pairs P] "
                   "[--json FILE]\n");
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  setenv("POCL_KERNEL_CACHE", "0", 0);
  try {
    attune::KernelSpec spec = attune::load_spec(o.spec);
    for (const auto& [name, value] : o.sizes) attune::set_problem_size(spec, name, value);
    const char* pocl_threads = std::getenv("POCL_MAX_PTHREAD_COUNT");
    std::printf("pipeline benchmark: %s, %zu evaluations, strategy %s, seed %llu, "
                "%u CPUs, POCL_KERNEL_CACHE=%s, POCL_MAX_PTHREAD_COUNT=%s, %zu build thread%s\n",
                o.spec.c_str(), o.budget, o.strategy.c_str(),
                static_cast<unsigned long long>(o.seed), std::thread::hardware_concurrency(),
                std::getenv("POCL_KERNEL_CACHE"), pocl_threads ? pocl_threads : "(all CPUs)",
                o.build_threads, o.build_threads == 1 ? "" : "s");
    std::printf("%-10s %8s %8s %8s %8s %8s %6s %6s\n", "mode", "wall_s", "build_s", "meas_s",
                "wait_s", "idle", "depth", "evals");
    std::vector<Run> runs;
    // Serial and pipelined alternate (S P, then P S, ...) so that drift of the machine affects
    // both alike.
    for (int pair = 0; pair < o.pairs; ++pair) {
      const bool pipelined_first = pair % 2 == 1;
      for (int j = 0; j < 2; ++j) {
        runs.push_back(tune(spec, o, (j == 0) == pipelined_first));
        print(runs.back());
      }
    }
    double serial_s = 0, pipelined_s = 0;
    std::string mismatch;
    for (const Run& r : runs) {
      (r.mode == "serial" ? serial_s : pipelined_s) += r.result.elapsed_s;
      if (mismatch.empty()) mismatch = compare_runs(runs.front(), r);
    }
    const double speedup = serial_s / pipelined_s;
    std::printf("pipelined is %.2fx faster than serial in wall time%s\n", speedup,
                mismatch.empty() ? "; both measured the same configurations with the same outcomes"
                                 : "");
    if (!mismatch.empty()) std::printf("the runs differ: %s\n", mismatch.c_str());
    if (!o.json_path.empty()) {
      nlohmann::json report{{"spec", o.spec},         {"budget", o.budget},
                            {"strategy", o.strategy}, {"seed", o.seed},
                            {"speedup", speedup},     {"same_measurements", mismatch.empty()},
                            {"runs", nlohmann::json::array()}};
      for (const Run& r : runs) report["runs"].push_back(to_json(r));
      std::ofstream(o.json_path) << report.dump(2) << '\n';
    }
    return mismatch.empty() ? 0 : 1;
  } catch (const attune::Error& e) {
    std::fprintf(stderr, "pipeline: %s\n", e.what());
    return 2;
  }
}
