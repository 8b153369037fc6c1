// `attune bench gemm`: attune's SGEMM, tuned per shape, against the peer libraries a user would
// otherwise call (OpenBLAS as installed, OpenBLAS on its AVX-512 kernels, oneDNN), all measured in
// one process with the same harness, inputs, thread count and verification. For each thread count
// and shape it tunes attune (or takes a stored decision), verifies every participant against the
// double reference, then times them in alternating rounds so that the machine's drift and other
// load touch all of them alike, and prints GFLOP/s, the ratio to the best peer and the fraction of
// the FMA peak it measures at start and after every shape (the highest reading counts).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "attune/tuning_database.hpp"
#include "bench_peers.hpp"
#include "commands.hpp"
#include "fma_peak.hpp"
#include "gemm_key.hpp"
#include "number_checks.hpp"
#include "output_file.hpp"

namespace attune::cli {
namespace {

constexpr const char* kDefaultShapes =
    "256x256x256,512x512x512,1024x1024x1024,2048x2048x2048,4096x4096x4096,"
    "64x4096x4096,4096x64x4096,4096x4096x64,64x64x64,128x128x128,2048x768x3072";
constexpr const char* kQuickShapes = "64x64x64,256x256x256,1024x1024x1024,64x4096x4096";
constexpr std::size_t kDefaultBudget = 30;
constexpr double kDefaultTuneSeconds = 45.0;

// How many alternating rounds a side-by-side comparison runs: at least `least`, and more, up to
// `most`, while they fit `seconds`. A median over more rounds moves less from run to run, and the
// shapes whose figures move the most are the cheap ones, whose rounds cost least: a 64^3 call on
// two threads lasts 2-4 us, and a vCPU that answers late shows at once (with one decision fixed,
// five-round runs of 64^3 on two threads put attune at 0.95x and 1.10x of oneDNN).
struct RoundPlan {
  int least = 1;
  int most = 1;
  double seconds = 0.0;

  // Exactly `rounds` rounds, as --rounds asks.
  static constexpr RoundPlan exactly(int rounds) { return {rounds, rounds, 0.0}; }

  // The rounds to run, decided in advance, when one round takes about `round_s` seconds.
  int fitting(double round_s) const {
    const double fit = round_s > 0.0 ? seconds / round_s : most;
    return std::clamp(fit >= most ? most : static_cast<int>(fit), least, most);
  }

  // Whether to run another round after `done` rounds that took `elapsed_s` in all, the last of
  // them `last_s`: decided after every round, so that one slow round costs only itself.
  bool another(int done, double elapsed_s, double last_s) const {
    return done < least || (done < most && elapsed_s + last_s <= seconds);
  }
};
// Five rounds for any shape, up to fifteen while they fit 20 seconds: on two threads a round is
// five participants, each after a pause (kSettleSeconds), so a small shape gets about fifteen on
// a quiet machine and fewer when its rounds are sampled longer; the large squares five to eight.
constexpr RoundPlan kDefaultRounds{5, 15, 20.0};
// The tuning run's fastest few, measured again side by side before one is chosen: at least
// kFinalists, and more, up to kMostFinalists, while five rounds of them (estimated from the time
// each took to measure while tuning, a quarter of a second at most unless a call lasts longer)
// fit kFinalSeconds: six for every shape whose calls are short, three for 4096^3. Each was
// measured once while tuning, and on a small shape with two threads one measurement can be 25%
// off (64^3: the configuration that ran at 145-159 GFLOP/s side by side missed a final of three
// that a 113 one entered). The final then runs as many rounds as kFinalRounds fits.
constexpr std::size_t kFinalists = 3;
constexpr std::size_t kMostFinalists = 6;
constexpr double kFinalSeconds = 10.0;
constexpr RoundPlan kFinalRounds{5, 15, kFinalSeconds};
// OpenBLAS's worker threads spin for about 2^28 cycles after a call before they sleep, and
// OpenMP's for a few milliseconds; on a machine with few cores a spinning pool steals a core from
// whoever is measured next. A pause longer than that between participants lets each start alone.
constexpr double kSettleSeconds = 0.2;

struct BenchGemmOptions {
  std::string shapes;
  std::string threads;
  std::string json_path;
  std::string strategy = kDefaultStrategy;
  std::optional<std::size_t> budget;
  std::optional<double> tune_s;
  std::optional<int> rounds;
  std::uint64_t seed = 0;
  bool quick = false;
  bool no_peers = false;
};

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, sep)) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

int parse_positive(const std::string& text, const std::string& what) {
  std::size_t used = 0;
  int value = 0;
  try {
    value = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1) {
    throw Error(ErrorCode::InvalidArgument, what + ": '" + text + "' is not a positive integer");
  }
  return value;
}

std::vector<cpu::GemmProblem> parse_shapes(const std::string& text) {
  std::vector<cpu::GemmProblem> shapes;
  for (const std::string& item : split(text, ',')) {
    const std::vector<std::string> dims = split(item, 'x');
    if (dims.size() != 3) {
      throw Error(ErrorCode::InvalidArgument,
                  "--shapes: '" + item + "' is not MxNxK (e.g. 64x4096x4096)");
    }
    cpu::GemmProblem p;
    p.m = parse_positive(dims[0], "--shapes " + item);
    p.n = parse_positive(dims[1], "--shapes " + item);
    p.k = parse_positive(dims[2], "--shapes " + item);
    for (const cpu::GemmProblem& q : shapes) {
      if (q.m == p.m && q.n == p.n && q.k == p.k) {
        throw Error(ErrorCode::InvalidArgument, "--shapes: " + item + " is given twice");
      }
    }
    shapes.push_back(p);
  }
  if (shapes.empty()) throw Error(ErrorCode::InvalidArgument, "--shapes: no shape given");
  return shapes;
}

std::string shape_text(const cpu::GemmProblem& p) {
  return std::to_string(p.m) + "x" + std::to_string(p.n) + "x" + std::to_string(p.k);
}

// The configuration attune uses for one shape, and how it was found.
struct Decision {
  std::size_t index = 0;
  std::size_t evaluations = 0;
  double tune_s = 0.0;
};

// The one place that decides attune's configuration for a shape: tune it now, seeded with
// shape-aware candidates and with `seeds` (what this run found for the same shape on fewer
// threads, and for earlier shapes). A tuning database plugs in here: return its stored decision
// for (device, kernel, problem) when there is one, and store the tuned one otherwise.
Decision decide_configuration(const SearchSpace& space, cpu::GemmBackend& backend, int threads,
                              const std::vector<std::size_t>& seeds, const BenchGemmOptions& o,
                              std::size_t budget, double tune_s) {
  const auto start = std::chrono::steady_clock::now();
  // A decision stored by `attune tune gemm` (or an earlier bench) for exactly this device, kernel,
  // space and shape is reused; what is tuned here is stored. A database that cannot be opened
  // (read-only home, say) only costs the reuse.
  std::optional<TuningDatabase> db;
  const TuningKey key = gemm_tuning_key(backend.device(), backend.isa(), space, backend.problem());
  try {
    db.emplace(TuningDatabase::default_path());
    if (const auto stored = db->decision(key)) {
      if (const auto index = space.index_of_key(stored->config_key))
        return Decision{*index, 0, 0.0};
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "attune: not using the tuning database: %s\n", e.what());
    db.reset();
  }
  HarnessOptions h;
  h.warmup_calls = 0;
  h.min_sample_s = 0.01;
  h.min_samples = 3;
  h.max_measure_s = o.quick ? 0.1 : 0.25;
  Evaluator evaluator(backend, Harness(h));
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  std::unique_ptr<Strategy> strategy = registry.create(o.strategy);

  TuneOptions options;
  options.seed = o.seed;
  options.budget.evaluations = budget;
  options.budget.seconds = tune_s;
  auto add = [&](std::size_t index) {
    if (std::find(options.initial.begin(), options.initial.end(), index) == options.initial.end()) {
      options.initial.push_back(index);
    }
  };
  for (const kernels::GemmParams& p :
       cpu::gemm_candidates(backend.problem(), backend.isa(), threads)) {
    if (const auto index = cpu::gemm_index(space, p)) add(*index);
  }
  for (std::size_t index : seeds) add(index);
  Tuner tuner(space, evaluator, *strategy, options);
  const TuneResult result = tuner.run();
  if (db) {
    std::vector<StoredMeasurement> records;
    for (const Evaluation& e : result.evaluations) {
      const Config config = space.at(e.index);
      records.push_back(
          {0, "", config.key(), config.to_json(), e.measurement, "", "", "", "bench", nullptr});
    }
    db->add_measurements(key, records);
  }
  if (result.best_evaluation() == nullptr) {
    throw Error(ErrorCode::Unsupported, "no configuration ran correctly for sgemm " +
                                            shape_text(backend.problem()) + " on this machine");
  }
  // One short measurement each can crown a configuration that merely ran while the machine was
  // quiet. The few fastest are measured again side by side, in alternating rounds, and the one
  // with the best median over all rounds is the decision.
  std::vector<const Evaluation*> ok;
  for (const Evaluation& e : result.evaluations) {
    if (e.measurement.ok()) ok.push_back(&e);
  }
  std::sort(ok.begin(), ok.end(), [](const Evaluation* x, const Evaluation* y) {
    return x->measurement.objective() < y->measurement.objective();
  });
  // The fastest of each thread count also runs in the final: on a machine whose other cores
  // are sometimes busy, one slow stretch during tuning must not decide the thread count.
  const RoundPlan final_plan = o.quick ? RoundPlan::exactly(1) : kFinalRounds;
  // The time one measurement of a configuration took while tuning: a result that was measured
  // again because it beat the best so far (as the fastest ones did) reports both runs.
  const auto once_s = [](const Evaluation* e) {
    return e->measurement.rechecked ? e->measurement.measure_s / 2 : e->measurement.measure_s;
  };
  std::vector<const Evaluation*> finalists;
  double final_s = 0.0;
  for (const Evaluation* e : ok) {
    final_s += once_s(e) * final_plan.least;
    if (finalists.size() >= kMostFinalists ||
        (finalists.size() >= kFinalists && final_s > kFinalSeconds)) {
      break;
    }
    finalists.push_back(e);
  }
  const auto join = [&](const Evaluation* e) {
    if (std::find(finalists.begin(), finalists.end(), e) == finalists.end()) finalists.push_back(e);
  };
  const auto threads_of = [&](const Evaluation* e) { return space.at(e->index).int_of("threads"); };
  for (const Evaluation* e : ok) {
    if (std::none_of(finalists.begin(), finalists.end(),
                     [&](const Evaluation* f) { return threads_of(f) == threads_of(e); })) {
      join(e);
    }
  }
  // The untuned default always runs in the final, so a decision is never a configuration that
  // was only luckier than the default once.
  const std::size_t default_index = cpu::default_gemm_index(space, backend.isa(), threads);
  for (const Evaluation* e : ok) {
    if (e->index == default_index) join(e);
  }
  std::size_t chosen = finalists.front()->index;
  if (finalists.size() > 1) {
    std::vector<Config> configs;
    double round_s = 0.0;
    for (const Evaluation* e : finalists) {
      configs.push_back(space.at(e->index));
      round_s += once_s(e);
    }
    const std::vector<Measurement> again = evaluator.compare(configs, final_plan.fitting(round_s));
    double best_s = 0.0;
    for (std::size_t i = 0; i < again.size(); ++i) {
      if (again[i].ok() && (best_s == 0.0 || again[i].objective() < best_s)) {
        best_s = again[i].objective();
        chosen = finalists[i]->index;
      }
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return Decision{chosen, result.evaluations.size(), elapsed};
}

// One column of the table: something that computes the GEMM, prepared on the shape's inputs.
struct Participant {
  std::string name;
  std::unique_ptr<PreparedKernel> kernel;  // null when missing or failed
  PeerGemm* peer = nullptr;                // set for peer libraries
  std::string status;                      // "ok", or why there is no number
  std::vector<double> round_medians_s;     // the median of each round's samples, round by round

  // The median of the rounds' medians. Pooling the samples instead would let a disturbed round
  // outvote the quiet ones, since the harness samples a noisy round longer (up to 20 samples
  // against 3): 64^3 on two threads once read 0.90x of oneDNN pooled, while attune was at
  // 0.98-1.20x of it in every round. With every round weighing the same, the ratio of two
  // medians lies within the range of the rounds' ratios.
  std::optional<double> median_s() const {
    if (status != "ok" || round_medians_s.empty()) return std::nullopt;
    return median(round_medians_s);
  }
};

struct Row {
  cpu::GemmProblem problem;
  int threads = 1;
  std::vector<Participant> participants;
  std::string config;
  Decision decision;
  int rounds = 0;  // the alternating rounds measured
  double peak_gflops = 0.0;

  std::optional<double> gflops_of(const std::string& name) const {
    for (const Participant& p : participants) {
      if (p.name == name) {
        if (auto s = p.median_s()) return problem.gflops(*s);
      }
    }
    return std::nullopt;
  }
  // The lowest and highest ratio, within one round, of attune to the peer whose median is best
  // (the one the ratio column divides by): the spread a reader should allow that ratio, measured
  // rather than assumed (each round's figures are seconds apart).
  std::optional<std::pair<double, double>> ratio_range() const {
    const Participant* attune = nullptr;
    const Participant* peer = nullptr;
    for (const Participant& p : participants) {
      const auto median = p.median_s();
      if (!median) continue;
      if (p.name == "attune") attune = &p;
      if (p.peer != nullptr && (peer == nullptr || *median < *peer->median_s())) peer = &p;
    }
    if (attune == nullptr || peer == nullptr) return std::nullopt;
    std::optional<std::pair<double, double>> range;
    const std::size_t rounds =
        std::min(attune->round_medians_s.size(), peer->round_medians_s.size());
    for (std::size_t round = 0; round < rounds; ++round) {
      const double ratio = peer->round_medians_s[round] / attune->round_medians_s[round];
      range = range ? std::pair{std::min(range->first, ratio), std::max(range->second, ratio)}
                    : std::pair{ratio, ratio};
    }
    return range;
  }
  std::optional<double> best_peer() const {
    std::optional<double> best;
    for (const Participant& p : participants) {
      if (p.peer == nullptr) continue;
      if (auto s = p.median_s()) best = std::max(best.value_or(0.0), problem.gflops(*s));
    }
    return best;
  }
};

void settle(int threads) {
  if (threads > 1) std::this_thread::sleep_for(std::chrono::duration<double>(kSettleSeconds));
}

// Verifies every participant once, then times them in alternating rounds, as many as `plan`
// allows, starting each round one participant later so that none is always measured right after
// the same neighbour. Returns the rounds in which something was measured.
int measure_side_by_side(std::vector<Participant>& participants, int threads, RoundPlan plan,
                         const Harness& harness) {
  for (Participant& p : participants) {
    if (!p.kernel) continue;
    if (p.peer) p.peer->set_threads(threads);
    settle(threads);
    const VerifyResult check = p.kernel->verify();
    if (!check.ok) {
      p.status = "verify_failed: " + check.message;
      p.kernel.reset();
    }
  }
  const std::size_t count = participants.size();
  const auto start = std::chrono::steady_clock::now();
  double elapsed_s = 0.0;
  double last_s = 0.0;
  int measured = 0;
  for (int round = 0; plan.another(round, elapsed_s, last_s); ++round) {
    bool any = false;
    for (std::size_t step = 0; step < count; ++step) {
      Participant& p = participants[(step + std::size_t(round)) % count];
      if (!p.kernel) continue;
      if (p.peer) p.peer->set_threads(threads);
      settle(threads);
      PreparedKernel& kernel = *p.kernel;
      const Measurement m = harness.measure([&](std::size_t calls) { return kernel.run(calls); });
      if (!m.ok()) {
        p.status = std::string(to_string(m.status)) + ": " + m.message;
        p.kernel.reset();
        continue;
      }
      p.round_medians_s.push_back(m.summary.median);
      any = true;
    }
    if (!any) break;
    ++measured;
    const double now_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    last_s = now_s - elapsed_s;
    elapsed_s = now_s;
  }
  return measured;
}

std::string cell(std::optional<double> value, const char* format) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, format, *value);
  return text;
}

void print_table(const std::vector<Row>& rows, const std::vector<std::string>& peer_names) {
  std::printf("\n%-16s %3s %8s %8s", "shape (MxNxK)", "thr", "attune", "default");
  for (const std::string& n : peer_names) std::printf(" %17s", n.c_str());
  std::printf(" %9s %7s %11s %6s\n", "best peer", "ratio", "rounds", "%peak");
  for (const Row& r : rows) {
    std::printf("%-16s %3d %8s %8s", shape_text(r.problem).c_str(), r.threads,
                cell(r.gflops_of("attune"), "%.1f").c_str(),
                cell(r.gflops_of("attune_default"), "%.1f").c_str());
    for (const std::string& n : peer_names) {
      std::string text = cell(r.gflops_of(n), "%.1f");
      for (const Participant& p : r.participants) {
        if (p.name == n && p.status != "ok")
          text = p.peer && !p.peer->available() ? "missing" : "failed";
      }
      std::printf(" %17s", text.c_str());
    }
    const auto attune = r.gflops_of("attune");
    const auto peer = r.best_peer();
    std::optional<double> ratio;
    if (attune && peer) ratio = *attune / *peer;
    std::optional<double> peak;
    if (attune && r.peak_gflops > 0) peak = 100.0 * *attune / r.peak_gflops;
    std::string spread = "-";
    if (const auto range = r.ratio_range()) {
      spread = cell(range->first, "%.2f") + "-" + cell(range->second, "%.2f");
    }
    std::printf(" %9s %7s %11s %6s\n", cell(peer, "%.1f").c_str(), cell(ratio, "%.2fx").c_str(),
                spread.c_str(), cell(peak, "%.0f%%").c_str());
  }
  std::printf(
      "GFLOP/s, the median of alternating rounds' medians; ratio = attune / best peer; rounds =\n"
      "the lowest and highest ratio within a single round.\n");
  for (const Row& r : rows) {
    std::printf("  %-16s %d thr: attune %s (%zu configurations tuned in %.0f s; %d rounds)\n",
                shape_text(r.problem).c_str(), r.threads, r.config.c_str(), r.decision.evaluations,
                r.decision.tune_s, r.rounds);
    for (const Participant& p : r.participants) {
      if (p.status != "ok") {
        std::printf("    %s: %s\n", p.name.c_str(), p.status.c_str());
      }
    }
  }
}

nlohmann::json optional_json(std::optional<double> v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

void run_bench_gemm(const BenchGemmOptions& o) {
  const kernels::Isa isa = kernels::best_isa();
  const DeviceInfo device = DeviceInfo::host_cpu();
  const std::vector<cpu::GemmProblem> shapes =
      parse_shapes(o.shapes.empty() ? (o.quick ? kQuickShapes : kDefaultShapes) : o.shapes);
  std::vector<int> thread_counts;
  if (o.threads.empty()) {
    thread_counts.push_back(1);
    if (device.cores > 1) thread_counts.push_back(device.cores);
  } else {
    for (const std::string& t : split(o.threads, ',')) {
      const int value = parse_positive(t, "--threads");
      if (value > device.cores) {
        throw Error(ErrorCode::InvalidArgument, "--threads " + t + " exceeds the " +
                                                    std::to_string(device.cores) +
                                                    " CPUs this process may use");
      }
      if (std::find(thread_counts.begin(), thread_counts.end(), value) != thread_counts.end()) {
        throw Error(ErrorCode::InvalidArgument, "--threads: " + t + " is given twice");
      }
      thread_counts.push_back(value);
    }
    if (thread_counts.empty()) throw Error(ErrorCode::InvalidArgument, "--threads: none given");
  }
  {
    // Fail on a bad strategy name now, not after the peak measurement.
    StrategyRegistry registry;
    register_builtin_strategies(registry);
    registry.create(o.strategy);
  }
  std::ofstream json_out;
  if (!o.json_path.empty()) json_out = open_output_file(o.json_path, "JSON report");
  const std::size_t budget = o.budget.value_or(o.quick ? 8 : kDefaultBudget);
  const double tune_s = o.tune_s.value_or(o.quick ? 5.0 : kDefaultTuneSeconds);
  const RoundPlan rounds =
      o.rounds ? RoundPlan::exactly(*o.rounds) : (o.quick ? RoundPlan::exactly(2) : kDefaultRounds);

  std::vector<std::unique_ptr<PeerGemm>> peers;
  if (!o.no_peers) peers = load_peer_gemms();
  std::vector<std::string> peer_names;
  for (const auto& p : peers) {
    peer_names.push_back(p->name());
    if (p->available()) {
      std::fprintf(stderr, "attune: peer %s: %s\n", p->name().c_str(), p->description().c_str());
    } else {
      std::fprintf(stderr, "attune: peer %s missing: %s\n", p->name().c_str(), p->reason().c_str());
    }
  }

  std::vector<std::pair<int, double>> peaks;
  for (int t : thread_counts) {
    peaks.emplace_back(t, measure_fma_peak_gflops(isa, t));
    std::fprintf(stderr, "attune: fp32 FMA peak (%s, %d thread%s): %.1f GFLOP/s\n",
                 std::string(kernels::to_string(isa)).c_str(), t, t == 1 ? "" : "s",
                 peaks.back().second);
  }

  HarnessOptions compare_options;
  compare_options.warmup_calls = 0;
  compare_options.min_sample_s = 0.02;
  compare_options.min_samples = 3;
  compare_options.max_samples = 20;
  compare_options.max_measure_s = o.quick ? 0.1 : 0.4;
  const Harness compare_harness(compare_options);

  std::vector<Row> rows;
  // What each shape's tuning chose, by thread count: seeds for the same shape on more threads
  // (cpu::gemm_spread).
  struct Decided {
    cpu::GemmProblem shape;
    int threads;  // the most threads the decision could use
    kernels::GemmParams params;
  };
  std::vector<Decided> decided;
  for (auto& [threads, peak] : peaks) {
    const SearchSpace space = cpu::gemm_search_space(isa, threads);
    const std::size_t default_index = cpu::default_gemm_index(space, isa, threads);
    std::vector<std::size_t> earlier_best;
    for (const cpu::GemmProblem& problem : shapes) {
      std::fprintf(stderr, "attune: sgemm %s, %d thread%s: tuning...\n",
                   shape_text(problem).c_str(), threads, threads == 1 ? "" : "s");
      cpu::GemmBackend backend(problem, isa, o.seed);
      Row row;
      row.problem = problem;
      row.threads = threads;
      std::vector<std::size_t> seeds;
      for (const Decided& d : decided) {
        if (d.threads >= threads || d.shape.m != problem.m || d.shape.n != problem.n ||
            d.shape.k != problem.k) {
          continue;
        }
        for (const kernels::GemmParams& spread : cpu::gemm_spread(d.params, threads)) {
          if (const auto index = cpu::gemm_index(space, spread)) seeds.push_back(*index);
        }
      }
      seeds.insert(seeds.end(), earlier_best.begin(), earlier_best.end());
      row.decision = decide_configuration(space, backend, threads, seeds, o, budget, tune_s);
      earlier_best.push_back(row.decision.index);
      const Config tuned = space.at(row.decision.index);
      decided.push_back({problem, threads, cpu::gemm_params(tuned)});
      row.config = tuned.describe();

      auto add_config = [&](const std::string& name, const Config& config) {
        Participant p;
        p.name = name;
        Prepared prepared = backend.prepare(config);
        p.kernel = std::move(prepared.kernel);
        p.status =
            p.kernel ? "ok" : std::string(to_string(prepared.status)) + ": " + prepared.message;
        row.participants.push_back(std::move(p));
      };
      add_config("attune", tuned);
      add_config("attune_default", space.at(default_index));
      for (const auto& peer : peers) {
        Participant p;
        p.name = peer->name();
        p.peer = peer.get();
        if (peer->available()) {
          PeerGemm* lib = peer.get();
          p.kernel = backend.prepare_external([lib](const cpu::GemmProblem& pr, const float* a,
                                                    const float* b,
                                                    float* c) { lib->sgemm(pr, a, b, c); });
          p.status = "ok";
        } else {
          p.status = "missing: " + peer->reason();
        }
        row.participants.push_back(std::move(p));
      }
      std::fprintf(stderr, "attune: sgemm %s, %d thread%s: measuring side by side\n",
                   shape_text(problem).c_str(), threads, threads == 1 ? "" : "s");
      row.rounds = measure_side_by_side(row.participants, threads, rounds, compare_harness);
      for (Participant& p : row.participants) p.kernel.reset();
      rows.push_back(std::move(row));
      // On a shared machine the start may have been its busiest moment: the peak is measured
      // again after every shape and the highest reading is the one the table divides by.
      peak = std::max(peak, measure_fma_peak_gflops(isa, threads, 2));
    }
    for (Row& r : rows) {
      if (r.threads == threads) r.peak_gflops = peak;
    }
  }

  std::printf("sgemm on %s (%s), %s", device.name.c_str(),
              std::string(kernels::to_string(isa)).c_str(), "fp32 FMA peak");
  for (const auto& [t, peak] : peaks)
    std::printf(" %.1f GFLOP/s at %d thread%s;", peak, t, t == 1 ? "" : "s");
  std::printf("\n");
  for (const auto& p : peers) {
    std::printf(
        "  %s: %s\n", p->name().c_str(),
        p->available() ? p->description().c_str() : ("missing (" + p->reason() + ")").c_str());
  }
  print_table(rows, peer_names);

  if (!o.json_path.empty()) {
    nlohmann::json results = nlohmann::json::array();
    for (const Row& r : rows) {
      const auto attune = r.gflops_of("attune");
      const auto peer = r.best_peer();
      const auto range = r.ratio_range();
      nlohmann::json j{
          {"m", r.problem.m},
          {"n", r.problem.n},
          {"k", r.problem.k},
          {"threads", r.threads},
          {"attune_gflops", optional_json(attune)},
          {"attune_default_gflops", optional_json(r.gflops_of("attune_default"))},
          {"openblas_gflops", optional_json(r.gflops_of("openblas"))},
          {"openblas_skylakex_gflops", optional_json(r.gflops_of("openblas_skylakex"))},
          {"onednn_gflops", optional_json(r.gflops_of("onednn"))},
          {"best_peer_gflops", optional_json(peer)},
          {"ratio_to_best_peer",
           optional_json(attune && peer ? std::optional<double>(*attune / *peer) : std::nullopt)},
          {"ratio_round_min", optional_json(range ? std::optional(range->first) : std::nullopt)},
          {"ratio_round_max", optional_json(range ? std::optional(range->second) : std::nullopt)},
          {"rounds", r.rounds},
          {"attune_config", r.config},
          {"fma_peak_gflops", r.peak_gflops},
          {"tuning_evaluations", r.decision.evaluations},
      };
      nlohmann::json status = nlohmann::json::object();
      for (const Participant& p : r.participants) status[p.name] = p.status;
      j["status"] = std::move(status);
      results.push_back(std::move(j));
    }
    nlohmann::json peaks_json = nlohmann::json::object();
    for (const auto& [t, peak] : peaks) peaks_json[std::to_string(t)] = peak;
    nlohmann::json peers_json = nlohmann::json::object();
    for (const auto& p : peers) {
      peers_json[p->name()] = p->available() ? p->description() : "missing: " + p->reason();
    }
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d", std::gmtime(&now));
    nlohmann::json report{
        {"machine",
         {{"cpu", device.name},
          {"isa", std::string(kernels::to_string(isa))},
          {"threads", thread_counts.back()},
          {"fma_peak_gflops", peaks.back().second},
          {"fma_peak_gflops_by_threads", std::move(peaks_json)}}},
        {"date", date},
        {"peers", std::move(peers_json)},
        {"results", std::move(results)},
    };
    write_json(json_out, report, o.json_path, "JSON report");
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Measure a built-in kernel against peer libraries");
  bench->require_subcommand(1);
  auto options = std::make_shared<BenchGemmOptions>();
  auto* gemm = bench->add_subcommand(
      "gemm",
      "attune's SGEMM, tuned per shape, against OpenBLAS (as installed and on its SkylakeX "
      "kernels) and oneDNN, measured side by side in one process");
  gemm->add_option("--shapes", options->shapes,
                   "Comma-separated MxNxK shapes (default: squares 256..4096, skinny, small and "
                   "a transformer layer)");
  gemm->add_option("--threads", options->threads,
                   "Comma-separated thread counts (default: 1 and every CPU this process may "
                   "use)");
  gemm->add_option("--json", options->json_path, "Write the machine and every result as JSON");
  gemm->add_option("--budget", options->budget,
                   "Most configurations to measure when tuning one shape (default " +
                       std::to_string(kDefaultBudget) + ", 8 with --quick)")
      ->check(kPositive);
  gemm->add_option("--tune-time", options->tune_s,
                   "Most seconds to tune one shape (default 45, 5 with --quick)")
      ->check(kPositive);
  gemm->add_option("--rounds", options->rounds,
                   "Alternating measurement rounds per shape (default 5, up to 15 while they "
                   "fit 20 seconds; 2 with --quick)")
      ->check(CLI::Range(1, 100));
  gemm->add_option("--strategy", options->strategy, "Search strategy (see 'attune strategies')")
      ->capture_default_str();
  gemm->add_option("--seed", options->seed, "Seed of the strategy and the random inputs")
      ->capture_default_str();
  gemm->add_flag("--quick", options->quick,
                 "Fewer shapes, a small tuning budget and two rounds: a smoke run of a minute");
  gemm->add_flag("--no-peers", options->no_peers, "Measure attune only; do not load peers");
  gemm->callback([options] { run_bench_gemm(*options); });
}

}  // namespace attune::cli
