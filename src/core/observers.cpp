// Progress reporting for a tuning run: one redrawn status line on a terminal, one plain line per
// evaluation elsewhere (CI logs, files), so that neither is cluttered by the other's format.

#include "attune/observers.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace attune {

std::string format_seconds(double seconds) {
  char text[32];
  const double a = std::fabs(seconds);
  if (a >= 1.0) {
    std::snprintf(text, sizeof text, "%.3g s", seconds);
  } else if (a >= 1e-3) {
    std::snprintf(text, sizeof text, "%.4g ms", seconds * 1e3);
  } else if (a >= 1e-6) {
    std::snprintf(text, sizeof text, "%.4g us", seconds * 1e6);
  } else {
    std::snprintf(text, sizeof text, "%.4g ns", seconds * 1e9);
  }
  return text;
}

namespace {

std::string format_clock(double seconds) {
  const long total = std::lround(std::max(0.0, seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

}  // namespace

ProgressObserver::ProgressObserver(std::FILE* stream, Describe describe)
    : ProgressObserver(stream, isatty(fileno(stream)) != 0, std::move(describe)) {}

ProgressObserver::ProgressObserver(std::FILE* stream, bool interactive, Describe describe)
    : stream_(stream), interactive_(interactive), describe_(std::move(describe)) {
  if (!describe_) describe_ = format_seconds;
}

void ProgressObserver::on_start(const SearchSpace& space, const TuneOptions& options) {
  std::string budget;
  if (options.budget.evaluations) budget += std::to_string(*options.budget.evaluations) + " evaluations";
  if (options.budget.seconds) {
    if (!budget.empty()) budget += " or ";
    budget += format_clock(*options.budget.seconds);
  }
  if (budget.empty()) budget = "the whole space";
  std::fprintf(stream_, "tuning over %zu valid configurations (of %.4g combinations), budget: %s\n",
               space.size(), static_cast<double>(space.cartesian_size()), budget.c_str());
  std::fflush(stream_);
}

void ProgressObserver::on_evaluation(const Config& config, const Evaluation& evaluation,
                                     const TuneProgress& progress) {
  const std::string best = progress.best ? describe_(progress.best->measurement.objective()) : "-";
  // The ETA comes from whichever budget binds first, extrapolated from the pace so far.
  double eta = -1.0;
  if (progress.done > 0 && progress.planned > progress.done) {
    eta = progress.elapsed_s / static_cast<double>(progress.done) *
          static_cast<double>(progress.planned - progress.done);
  }
  if (progress.budget_s) {
    const double left = std::max(0.0, *progress.budget_s - progress.elapsed_s);
    eta = eta < 0 ? left : std::min(eta, left);
  }
  const std::string eta_text = eta < 0 ? "-" : format_clock(eta);
  if (interactive_) {
    char line[256];
    const int width = std::snprintf(line, sizeof line, "[%zu/%zu] best %s  elapsed %s  eta %s",
                                    progress.done, progress.planned, best.c_str(),
                                    format_clock(progress.elapsed_s).c_str(), eta_text.c_str());
    const std::size_t w = width > 0 ? static_cast<std::size_t>(width) : 0;
    std::fprintf(stream_, "\r%s%*s", line, static_cast<int>(last_width_ > w ? last_width_ - w : 0),
                 "");
    last_width_ = w;
  } else {
    const Measurement& m = evaluation.measurement;
    const std::string value = m.ok() ? describe_(m.objective()) : std::string(to_string(m.status));
    std::fprintf(stream_, "[%zu/%zu] %s -> %s  (best %s, elapsed %s)\n", progress.done,
                 progress.planned, config.key().c_str(), value.c_str(), best.c_str(),
                 format_clock(progress.elapsed_s).c_str());
  }
  std::fflush(stream_);
}

void ProgressObserver::on_finish(const TuneResult& result) {
  if (interactive_) std::fputc('\n', stream_);
  std::size_t failed = 0;
  for (const auto& e : result.evaluations) failed += e.measurement.ok() ? 0 : 1;
  std::fprintf(stream_, "done: %zu evaluations (%zu failed) in %s, %s\n", result.evaluations.size(),
               failed, format_clock(result.elapsed_s).c_str(),
               std::string(to_string(result.stop_reason)).c_str());
  std::fflush(stream_);
}

}  // namespace attune
