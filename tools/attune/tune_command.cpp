// `attune tune gemm`: tunes the built-in SGEMM for one problem on this CPU. The run itself (the
// database, resume, Ctrl-C, the final best-versus-default comparison, the report) is the one every
// form of `attune tune` shares: tune_job.cpp.

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/tuning_database.hpp"
#include "commands.hpp"
#include "gemm_key.hpp"
#include "number_checks.hpp"
#include "tune_job.hpp"
#include "tune_spec.hpp"

namespace attune::cli {
namespace {

struct TuneGemmOptions {
  int m = 1024;
  int n = 1024;
  int k = 1024;
  float alpha = 1.0f;
  float beta = 0.0f;
  std::optional<int> threads;
  TuneFlags flags;
};

/// The decisions stored for this shape on fewer threads (an earlier `tune gemm --threads 1`, a
/// bench), each spread over `threads` (cpu::gemm_spread).
struct FewerThreadSeeds {
  int decisions = 0;
  std::vector<std::size_t> indices;  // in the run's space
};

/// A database that cannot be read only costs the seeds here: the run opens it again and reports
/// why.
FewerThreadSeeds stored_on_fewer_threads(const SearchSpace& space, const cpu::GemmBackend& backend,
                                         int threads, const TuneFlags& flags) {
  FewerThreadSeeds seeds;
  try {
    const TuningDatabase db(database_path(flags), /*read_only=*/true);
    for (int fewer = 1; fewer < threads; ++fewer) {
      const SearchSpace smaller = cpu::gemm_search_space(backend.isa(), fewer);
      const auto stored =
          db.decision(gemm_tuning_key(backend.device(), backend.isa(), smaller, backend.problem()));
      if (!stored) continue;
      const auto index = smaller.index_of_key(stored->config_key);
      if (!index) continue;
      ++seeds.decisions;
      for (const kernels::GemmParams& p :
           cpu::gemm_spread(cpu::gemm_params(smaller.at(*index)), threads)) {
        if (const auto seed = cpu::gemm_index(space, p)) seeds.indices.push_back(*seed);
      }
    }
  } catch (const Error&) {
  }
  return seeds;
}

/// Returns the process exit code: 0, or 130 after Ctrl-C.
int run_tune_gemm(const TuneGemmOptions& o) {
  const kernels::Isa isa = kernels::best_isa();
  const DeviceInfo device = DeviceInfo::host_cpu();
  const int threads = o.threads.value_or(device.cores);
  if (threads > device.cores) {
    throw Error(ErrorCode::InvalidArgument, "--threads " + std::to_string(threads) +
                                                " exceeds the " + std::to_string(device.cores) +
                                                " CPUs this process may use");
  }
  const cpu::GemmProblem problem{o.m, o.n, o.k, o.alpha, o.beta};
  const SearchSpace space = cpu::gemm_search_space(isa, threads);
  cpu::GemmBackend backend(problem, isa, o.flags.seed);

  TuneJob job;
  job.title = "sgemm " + problem.key().key() + ", " + std::to_string(threads) + " thread" +
              (threads == 1 ? "" : "s") + " max, " + std::string(kernels::to_string(isa));
  job.space = &space;
  job.backend = &backend;
  job.problem = problem.key();
  job.default_index = cpu::default_gemm_index(space, isa, threads);
  // Shape-aware starting points (packing-free tiles for small products, in-place skinny operands
  // in one K block, K splits): without them a 40-evaluation search rarely finds what makes a
  // skinny shape fast (4096 x 64 x 4096: 112 GFLOP/s against the default's 85).
  for (const kernels::GemmParams& p : cpu::gemm_candidates(problem, isa, threads)) {
    if (const auto index = cpu::gemm_index(space, p)) job.candidates.push_back(*index);
  }
  const FewerThreadSeeds fewer = o.flags.no_db
                                     ? FewerThreadSeeds{}
                                     : stored_on_fewer_threads(space, backend, threads, o.flags);
  job.candidates.insert(job.candidates.end(), fewer.indices.begin(), fewer.indices.end());
  job.rate_key = "gflops";
  job.rate = [problem](double s) { return problem.gflops(s); };
  job.describe = [problem](double s) {
    char text[32];
    std::snprintf(text, sizeof text, "%.4g GFLOP/s", problem.gflops(s));
    return std::string(text);
  };
  job.announce = [&] {
    if (o.flags.quiet) return;
    std::fprintf(stderr, "attune: sgemm %s on %s (%s, up to %d threads), strategy %s, seed %llu\n",
                 problem.key().key().c_str(), device.name.c_str(),
                 std::string(kernels::to_string(isa)).c_str(), threads, o.flags.strategy.c_str(),
                 static_cast<unsigned long long>(o.flags.seed));
    if (fewer.decisions > 0) {
      std::fprintf(stderr,
                   "attune: also starting from this shape's %d stored decision%s on fewer "
                   "threads, split over N and over M\n",
                   fewer.decisions, fewer.decisions == 1 ? "" : "s");
    }
  };
  return run_tune_job(job, o.flags);
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto* tune = app.add_subcommand("tune",
                                  "Tune a kernel for one problem and report the best "
                                  "configuration");
  // `attune tune gemm ...`, or `attune tune FILE.toml` (tune_spec_command.cpp).
  tune->require_subcommand(0, 1);
  add_tune_spec(*tune);
  auto options = std::make_shared<TuneGemmOptions>();
  auto* gemm = tune->add_subcommand(
      "gemm", "Tune the built-in SGEMM, C = alpha*A*B + beta*C (row-major float32), on this CPU");
  gemm->add_option("--m", options->m, "Rows of A and C")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--n", options->n, "Columns of B and C")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--k", options->k, "Columns of A, rows of B")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  gemm->add_option("--alpha", options->alpha, "Scale of A*B")->capture_default_str();
  gemm->add_option("--beta", options->beta, "Scale of the C read in (0: C is not read)")
      ->capture_default_str();
  gemm->add_option("--threads", options->threads,
                   "Most threads a configuration may use (default: every CPU this process may "
                   "use); the tuner also tries fewer")
      ->check(kPositive);
  add_tune_flags(*gemm, options->flags, "Seed of the strategy and the random inputs");
  gemm->callback([options, gemm] {
    record_argv(*gemm, {"tune", "gemm"}, options->flags);
    const int code = run_tune_gemm(*options);
    if (code != 0) {
      std::fflush(stdout);
      std::exit(code);
    }
  });
}

}  // namespace attune::cli
