// The compile-measure pipeline against strictly serial tuning: the same spec, the same strategy
// and seed, the same evaluation budget, once building each configuration just before measuring it
// and once building ahead on worker threads while the device measures. Reports the wall time of
// each, where it went, and checks that both runs measured the same configurations with the same
// outcomes.
//
// It runs any spec: an OpenCL one (the default, examples/opencl_sgemm.toml) or a C++ one. Each
// run is a process of its own with empty compile caches (a fresh POCL_CACHE_DIR, a fresh JIT
// cache), so both compile everything. The serial run builds OpenCL programs in its own process,
// as a tuner without a pipeline would; the pipelined one as the backend chooses (on PoCL, in
// attune-opencl-builder processes, whose results reach the tuner through PoCL's kernel cache).
//
// The strategy is `random` by default because its proposals do not depend on what it is told: a
// strategy that learns would propose differently once the pipeline makes it choose ahead, and
// the two runs would not measure the same configurations.
//
// On a machine whose OpenCL device is its own CPU (PoCL), compiling and measuring compete for the
// same cores: the serial run leaves one core idle while it compiles (a compiler is one thread),
// and --build-threads decides how many builds run beside the measurement.
// POCL_MAX_PTHREAD_COUNT=1 gives the device one core and leaves the other to the compiler, as a
// GPU machine has its host CPU beside the device.
//
// Usage: pipeline [SPEC] [--budget N] [--seed S] [--strategy NAME] [--measure-time S]
//                 [--lookahead N] [--build-threads N] [--max-build-threads N] [--pairs P]
//                 [--set NAME=VALUE] [--json FILE]

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "attune/backends/jit.hpp"
#include "attune/backends/opencl.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/kernel_spec.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"

namespace {

std::size_t cpu_count() { return std::max(1u, std::thread::hardware_concurrency()); }

struct Options {
  std::string spec = ATTUNE_SOURCE_DIR "/examples/opencl_sgemm.toml";
  std::size_t budget = 100;
  std::uint64_t seed = 1;
  std::string strategy = "random";
  double measure_s = 0.2;
  std::size_t lookahead = 8;
  // As attune tune: one less than the CPUs, growing to one per CPU while the device waits;
  // --build-threads N alone fixes them at N.
  std::size_t build_threads = std::max<std::size_t>(1, cpu_count() - 1);
  std::size_t max_build_threads = cpu_count();
  int pairs = 1;
  std::string json_path;
  std::vector<std::pair<std::string, std::int64_t>> sizes;  // --set NAME=VALUE
  // Internal: run one mode in this process and write its summary here.
  std::string run_one;
  std::string result_path;
  std::vector<std::string> argv;  // as given, to start the runs with
};

// What one run measured and where its time went.
struct Run {
  std::string mode;
  double wall_s = 0, build_s = 0, measure_s = 0, wait_s = 0, idle_fraction = 0;
  std::size_t max_depth = 0;
  std::size_t build_threads = 0;
  std::vector<std::pair<std::size_t, std::string>> evaluations;  // index, status
};

Run tune(const attune::KernelSpec& spec, const Options& o, bool pipelined) {
  using namespace attune;
  const SearchSpace space = spec.space();
  std::unique_ptr<Backend> backend;
  std::filesystem::path cache;
  if (spec.backend == "cpp") {
    cache = std::filesystem::temp_directory_path() /
            ("attune-pipeline-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(cache);
    jit::JitOptions jit_options;
    jit_options.cache_dir = cache;
    backend = jit::make_jit_backend(spec, jit_options);
  } else {
    opencl::OpenClOptions cl_options;
    if (!pipelined) cl_options.build_place = opencl::BuildPlace::InProcess;
    backend = opencl::make_opencl_backend(spec, cl_options);
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
  options.pipeline.max_prepare_threads = o.max_build_threads;
  const TuneResult result = Tuner(space, evaluator, *strategy, options).run();
  backend.reset();
  if (!cache.empty()) std::filesystem::remove_all(cache);

  const PipelineTelemetry& t = result.telemetry;
  Run run;
  run.mode = pipelined ? "pipelined" : "serial";
  run.wall_s = result.elapsed_s;
  run.build_s = t.prepare_s;
  run.measure_s = t.measure_s;
  run.wait_s = t.wait_s;
  run.idle_fraction = t.idle_fraction(result.elapsed_s);
  run.max_depth = t.max_depth;
  run.build_threads = t.prepare_threads;
  for (const Evaluation& e : result.evaluations) {
    run.evaluations.emplace_back(e.index, to_string(e.measurement.status));
  }
  return run;
}

nlohmann::json to_json(const Run& r) {
  return {{"mode", r.mode},
          {"wall_s", r.wall_s},
          {"build_s", r.build_s},
          {"measure_s", r.measure_s},
          {"wait_for_build_s", r.wait_s},
          {"device_idle_fraction", r.idle_fraction},
          {"max_lookahead_reached", r.max_depth},
          {"build_threads", r.build_threads},
          {"evaluations", r.evaluations.size()}};
}

// Runs one mode in a child process of this program with empty compile caches of its own.
Run run_in_child(const Options& o, bool pipelined) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("attune-pipeline-bench-" + std::to_string(::getpid()) + (pipelined ? "-p" : "-s"));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "pocl");
  const std::string result = (dir / "run.json").string();
  std::vector<std::string> args = o.argv;
  args.insert(args.end(), {"--run-one", pipelined ? "pipelined" : "serial", "--result", result});
  std::vector<char*> child_argv;
  for (std::string& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "POCL_CACHE_DIR=", 15) != 0) env.emplace_back(*e);
  }
  env.push_back("POCL_CACHE_DIR=" + (dir / "pocl").string());
  std::vector<char*> child_env;
  for (std::string& e : env) child_env.push_back(e.data());
  child_env.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, child_argv.data(), child_env.data()) !=
      0) {
    throw attune::Error(attune::ErrorCode::Io, "cannot start a run");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw attune::Error(attune::ErrorCode::Io,
                        std::string("the ") + (pipelined ? "pipelined" : "serial") + " run failed");
  }
  const nlohmann::json j = nlohmann::json::parse(std::ifstream(result));
  std::filesystem::remove_all(dir);
  Run run;
  run.mode = j.at("mode");
  run.wall_s = j.at("wall_s");
  run.build_s = j.at("build_s");
  run.measure_s = j.at("measure_s");
  run.wait_s = j.at("wait_for_build_s");
  run.idle_fraction = j.at("device_idle_fraction");
  run.max_depth = j.at("max_lookahead_reached");
  run.build_threads = j.at("build_threads");
  for (const auto& e : j.at("measured")) run.evaluations.emplace_back(e.at(0), e.at(1));
  return run;
}

void print(const Run& r) {
  std::printf("%-10s %8.1f %8.1f %8.1f %8.1f %7.0f%% %6zu %7zu %6zu\n", r.mode.c_str(), r.wall_s,
              r.build_s, r.measure_s, r.wait_s, 100.0 * r.idle_fraction, r.max_depth,
              r.build_threads, r.evaluations.size());
  std::fflush(stdout);
}

// Whether two runs measured the same configurations, in the same order, with the same statuses.
std::string compare_runs(const Run& a, const Run& b) {
  const auto& x = a.evaluations;
  const auto& y = b.evaluations;
  if (x.size() != y.size()) {
    return "different numbers of evaluations: " + std::to_string(x.size()) + " and " +
           std::to_string(y.size());
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].first != y[i].first) {
      return "evaluation " + std::to_string(i) + " measured different configurations";
    }
    if (x[i].second != y[i].second) {
      return "evaluation " + std::to_string(i) + " ended " + x[i].second + " in one run and " +
             y[i].second + " in the other";
    }
  }
  return {};
}

Options parse(int argc, char** argv) {
  Options o;
  o.argv.assign(argv, argv + argc);
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
      o.max_build_threads = o.build_threads;
    } else if (arg == "--max-build-threads") {
      o.max_build_threads = std::stoul(value());
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
    } else if (arg == "--run-one") {
      o.run_one = value();
      continue;
    } else if (arg == "--result") {
      o.result_path = value();
      continue;
    } else if (!arg.empty() && arg[0] != '-') {
      o.spec = arg;
    } else {
      std::fprintf(stderr,
                   "usage: pipeline [SPEC] [--budget N] [--seed S] [--strategy NAME] "
                   "[--measure-time S] [--lookahead N] [--build-threads N] "
                   "[--max-build-threads N] [--pairs P] "
                   "[--json FILE]\n");
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    attune::KernelSpec spec = attune::load_spec(o.spec);
    for (const auto& [name, value] : o.sizes) attune::set_problem_size(spec, name, value);
    if (!o.run_one.empty()) {
      const Run run = tune(spec, o, o.run_one == "pipelined");
      nlohmann::json j = to_json(run);
      j["measured"] = run.evaluations;
      std::ofstream(o.result_path) << j.dump() << '\n';
      return 0;
    }
    const char* pocl_threads = std::getenv("POCL_MAX_PTHREAD_COUNT");
    const std::string growing = o.max_build_threads > o.build_threads
                                    ? " growing up to " + std::to_string(o.max_build_threads)
                                    : std::string();
    std::printf(
        "pipeline benchmark: %s, %zu evaluations, strategy %s, seed %llu, "
        "%u CPUs, POCL_MAX_PTHREAD_COUNT=%s, %zu build thread%s%s; each run in a process "
        "of its own with empty compile caches\n",
        o.spec.c_str(), o.budget, o.strategy.c_str(), static_cast<unsigned long long>(o.seed),
        std::thread::hardware_concurrency(), pocl_threads ? pocl_threads : "(all CPUs)",
        o.build_threads, o.build_threads == 1 ? "" : "s", growing.c_str());
    std::printf("%-10s %8s %8s %8s %8s %8s %6s %7s %6s\n", "mode", "wall_s", "build_s", "meas_s",
                "wait_s", "idle", "depth", "builds", "evals");
    std::vector<Run> runs;
    // Serial and pipelined alternate (S P, then P S, ...) so that drift of the machine affects
    // both alike.
    for (int pair = 0; pair < o.pairs; ++pair) {
      const bool pipelined_first = pair % 2 == 1;
      for (int j = 0; j < 2; ++j) {
        runs.push_back(run_in_child(o, (j == 0) == pipelined_first));
        print(runs.back());
      }
    }
    double serial_s = 0, pipelined_s = 0;
    std::string mismatch;
    for (const Run& r : runs) {
      (r.mode == "serial" ? serial_s : pipelined_s) += r.wall_s;
      if (mismatch.empty()) mismatch = compare_runs(runs.front(), r);
    }
    const double speedup = serial_s / pipelined_s;
    std::printf(
        "pipelined is %.2fx faster than serial in wall time%s\n", speedup,
        mismatch.empty() ? "; both measured the same configurations with the same outcomes" : "");
    if (!mismatch.empty()) std::printf("the runs differ: %s\n", mismatch.c_str());
    if (!o.json_path.empty()) {
      nlohmann::json report{{"spec", o.spec},
                            {"budget", o.budget},
                            {"strategy", o.strategy},
                            {"seed", o.seed},
                            {"speedup", speedup},
                            {"same_measurements", mismatch.empty()},
                            {"runs", nlohmann::json::array()}};
      for (const Run& r : runs) report["runs"].push_back(to_json(r));
      std::ofstream(o.json_path) << report.dump(2) << '\n';
    }
    return mismatch.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipeline: %s\n", e.what());
    return 2;
  }
}
