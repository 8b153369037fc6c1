// Tunes a spec's kernel: the backend it names, the space of its parameters under its restrictions,
// its problem, and results described as its objective (GFLOP/s or GB/s from its work expression,
// else time). The untuned default is the space's first configuration, the one Kernel Tuner's
// brute force would measure first.

#include "tune_spec_run.hpp"

#include <cstdio>
#include <string>

#include "spec_backend.hpp"

namespace attune::cli {

int run_tune_spec(const KernelSpec& spec, const TuneFlags& flags) {
  const SearchSpace space = spec.space();
  std::unique_ptr<Backend> backend = make_spec_backend(spec);

  TuneJob job;
  std::string sizes;
  for (const auto& [name, value] : spec.problem) {
    sizes += (sizes.empty() ? "" : ",") + name + "=" + std::to_string(value);
  }
  job.title = spec.name + " " + sizes + " on " + backend->device().name + " (" + spec.backend + ")";
  job.space = &space;
  job.backend = backend.get();
  job.problem = spec.problem_key();
  job.default_index = 0;
  job.timeout_s = spec.tuning.timeout_s;
  job.kernel_flags = [&] {
    std::string all = spec.compiler;
    for (const std::string& f : spec.flags) all += " " + f;
    return all;
  }();
  if (const std::optional<double> work = spec.work_per_call()) {
    const bool flops = spec.objective.kind == ObjectiveSpec::Kind::GFlops;
    job.rate_key = flops ? "gflops" : "gbytes_per_s";
    job.rate = [w = *work](double s) { return w / s / 1e9; };
    job.describe = [w = *work, unit = flops ? "GFLOP/s" : "GB/s"](double s) {
      char text[48];
      std::snprintf(text, sizeof text, "%.4g %s", w / s / 1e9, unit);
      return std::string(text);
    };
  }
  job.announce = [&] {
    if (flags.quiet) return;
    std::fprintf(stderr,
                 "attune: %s (%s, %s) on %s: %zu configurations, strategy %s, seed %llu\n",
                 spec.name.c_str(), spec.path.filename().c_str(), spec.backend.c_str(),
                 backend->device().name.c_str(), space.size(), flags.strategy.c_str(),
                 static_cast<unsigned long long>(flags.seed));
  };
  return run_tune_job(job, flags);
}

}  // namespace attune::cli
