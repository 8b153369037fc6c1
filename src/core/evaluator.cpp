// Evaluates one configuration: prepare it on the backend, verify its output against the reference
// with poisoned outputs, then time it with the harness. Each stage's failure ends the evaluation
// with that stage's status; a configuration that was not verified is never timed.

#include "attune/evaluator.hpp"

#include <chrono>
#include <exception>

namespace attune {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Builds `config`; a thrown exception is a failed build, with its message.
PreparedConfig prepare_stage(Backend& backend, const Config& config) {
  PreparedConfig out;
  Prepared& prepared = out.prepared;
  const auto prepare_start = std::chrono::steady_clock::now();
  try {
    prepared = backend.prepare(config);
  } catch (const std::exception& e) {
    prepared.status = Status::CompileFailed;
    prepared.message = e.what();
  }
  out.stages.compile_s = prepared.compile_s > 0 ? prepared.compile_s : seconds_since(prepare_start);
  if (prepared.status != Status::Ok || !prepared.kernel) {
    out.stages.status = prepared.status == Status::Ok ? Status::CompileFailed : prepared.status;
    out.stages.message = prepared.message;
    prepared.kernel.reset();
  }
  return out;
}

// Runs a built configuration once against the reference. On failure the kernel is released and
// `stages` holds the status and reason; on success the kernel is ready to time.
void verify_stage(PreparedConfig& out) {
  if (!out.prepared.kernel) return;
  Measurement& stages = out.stages;
  const auto verify_start = std::chrono::steady_clock::now();
  VerifyResult check;
  try {
    check = out.prepared.kernel->verify();
  } catch (const KernelFailure& e) {
    stages.status = e.status();
    stages.message = e.what();
    stages.verify_s = seconds_since(verify_start);
    out.prepared.kernel.reset();
    return;
  } catch (const std::exception& e) {
    stages.status = Status::RuntimeFailed;
    stages.message = e.what();
    stages.verify_s = seconds_since(verify_start);
    out.prepared.kernel.reset();
    return;
  }
  stages.verify_s = seconds_since(verify_start);
  if (!check.ok) {
    stages.status = Status::VerifyFailed;
    stages.message = check.message;
    out.prepared.kernel.reset();
  }
}

PreparedConfig prepare_and_verify(Backend& backend, const Config& config) {
  PreparedConfig out = prepare_stage(backend, config);
  verify_stage(out);
  return out;
}

}  // namespace

Evaluator::Evaluator(Backend& backend, Harness harness)
    : backend_(backend), harness_(std::move(harness)) {}

Measurement Evaluator::evaluate(const Config& config, std::optional<double> best_so_far_s) {
  return measure(prepare(config), best_so_far_s);
}

PreparedConfig Evaluator::prepare(const Config& config) { return prepare_stage(backend_, config); }

Measurement Evaluator::measure(PreparedConfig prepared, std::optional<double> best_so_far_s) {
  verify_stage(prepared);
  if (!prepared.prepared.kernel) return std::move(prepared.stages);
  PreparedKernel& kernel = *prepared.prepared.kernel;
  Measurement m =
      harness_.measure([&](std::size_t calls) { return kernel.run(calls); }, best_so_far_s);
  m.compile_s = prepared.stages.compile_s;
  m.verify_s = prepared.stages.verify_s;
  return m;
}

std::vector<Measurement> Evaluator::compare(std::span<const Config> configs, int rounds) {
  std::vector<PreparedConfig> checked;
  std::vector<Measurement> results;
  for (const Config& config : configs) {
    checked.push_back(prepare_and_verify(backend_, config));
    results.push_back(checked.back().stages);
  }
  for (int round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < configs.size(); ++i) {
      if (!checked[i].prepared.kernel) continue;
      PreparedKernel& kernel = *checked[i].prepared.kernel;
      Measurement m = harness_.measure([&](std::size_t calls) { return kernel.run(calls); });
      Measurement& total = results[i];
      if (!m.ok()) {
        total.status = m.status;
        total.message = m.message;
        checked[i].prepared.kernel.reset();
        continue;
      }
      // Samples of different rounds may time different numbers of calls; each is per call.
      total.samples_s.insert(total.samples_s.end(), m.samples_s.begin(), m.samples_s.end());
      total.round_medians_s.push_back(m.summary.median);
      total.calls_per_sample = m.calls_per_sample;
      total.measure_s += m.measure_s;
    }
  }
  for (Measurement& m : results) {
    if (m.ok()) m.summary = summarize(m.round_medians_s);
  }
  return results;
}

}  // namespace attune
