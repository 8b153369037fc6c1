// `attune tune FILE.toml`: the command-line form of a spec file. This file parses the form's
// options, applies problem-size overrides, and implements --check, which shows everything attune
// derives from a spec (space size, argument sizes, launch geometry at the default configuration)
// without compiling or running the kernel.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "attune/error.hpp"
#include "tune_spec.hpp"
#include "tune_spec_run.hpp"

namespace attune::cli {
namespace {

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t unit = 0;
  while (bytes >= 1024.0 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.3g %s", bytes, kUnits[unit]);
  return text;
}

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

// The value of a scalar argument, decoded from its bytes.
std::string scalar_text(const HostArgument& arg) {
  const auto get = [&](auto x) {
    std::memcpy(&x, arg.bytes.data(), sizeof x);
    return x;
  };
  switch (arg.spec->type) {
    case ElementType::Float32: return number(get(float{}));
    case ElementType::Float64: return number(get(double{}));
    case ElementType::Int32: return std::to_string(get(std::int32_t{}));
    case ElementType::Int64: return std::to_string(get(std::int64_t{}));
    case ElementType::UInt8: return std::to_string(get(std::uint8_t{}));
    case ElementType::UInt32: return std::to_string(get(std::uint32_t{}));
  }
  return "";
}

std::string initializer_text(const Initializer& init) {
  switch (init.kind) {
    case Initializer::Kind::Random:
      return "random (seed " + std::to_string(init.seed) + ") in [" + number(init.low) + ", " +
             number(init.high) + ")";
    case Initializer::Kind::Constant: return "constant " + number(init.value);
    case Initializer::Kind::Range:
      return "range from " + number(init.start) + " in steps of " + number(init.step);
    case Initializer::Kind::File: return "from " + init.path.string();
    case Initializer::Kind::Zero: return "zero";
  }
  return "";
}

// A path as the user wrote it where possible: relative to the spec's directory when inside it.
std::string shown_path(const std::filesystem::path& path, const KernelSpec& spec) {
  const std::filesystem::path dir = std::filesystem::absolute(spec.path).parent_path();
  const std::filesystem::path relative = path.lexically_relative(dir);
  if (!relative.empty() && *relative.begin() != "..") return relative.string();
  return path.string();
}

std::string dimensions_text(const KernelSpec& spec, const std::vector<std::string>& expressions,
                            const Config& config, const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    SpecLocation where = spec.launch.where;
    where.key = key + '[' + std::to_string(i) + ']';
    out += (i ? " x " : "") +
           evaluate_spec_expression(spec, expressions[i], config, where).to_string();
  }
  return out;
}

void print_row(const char* label, const std::string& text) {
  std::printf("%-13s%s\n", label, text.c_str());
}

}  // namespace

KernelSpec load_spec_with_overrides(const TuneSpecOptions& options) {
  KernelSpec spec = load_spec(options.spec_path);
  for (const std::string& set : options.sets) {
    const std::size_t eq = set.find('=');
    std::int64_t value = 0;
    const char* begin = set.data() + (eq == std::string::npos ? set.size() : eq + 1);
    const char* end = set.data() + set.size();
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (eq == std::string::npos || eq == 0 || ec != std::errc() || ptr != end) {
      throw Error(ErrorCode::InvalidArgument,
                  "--set " + set +
                      ": expected NAME=INTEGER, a problem size of the spec and its "
                      "new value, e.g. --set m=1024");
    }
    try {
      set_problem_size(spec, set.substr(0, eq), value);
    } catch (const Error& e) {
      throw Error(e.code(), "--set " + set + ": " + e.what());
    }
  }
  return spec;
}

int run_check_spec(const TuneSpecOptions& options) {
  const KernelSpec spec = load_spec_with_overrides(options);
  const SearchSpace space = spec.space();
  if (space.size() == 0) {
    throw Error(ErrorCode::InvalidArgument,
                spec.path.string() + ": no configuration of the " +
                    std::to_string(space.cartesian_size()) + " satisfies every restriction for " +
                    "the problem " + spec.problem_key().key() +
                    "; relax a restriction, add parameter values, or change the problem sizes");
  }
  const Config default_config = space.at(0);
  const std::vector<HostArgument> args = materialize_arguments(spec, default_config);

  print_row("spec", spec.path.string());
  print_row("kernel", spec.name + ": entry " + spec.entry + " in " + shown_path(spec.source, spec) +
                          ", backend " + spec.backend);
  std::string flags = spec.backend == "cpp" ? spec.compiler : std::string();
  for (const std::string& f : spec.flags) flags += (flags.empty() ? "" : " ") + f;
  print_row(spec.backend == "cpp" ? "compile" : "build", flags.empty() ? "(no options)" : flags);
  std::string problem;
  for (const auto& [name, value] : spec.problem) {
    problem += (problem.empty() ? "" : " ") + name + '=' + std::to_string(value);
  }
  print_row("problem", problem.empty() ? "(no sizes)" : problem);

  std::size_t width = 0;
  for (const Param& p : spec.params) width = std::max(width, p.name.size());
  for (const ArgumentSpec& a : spec.arguments) width = std::max(width, a.name.size());
  const int column = static_cast<int>(width) + 2;

  print_row("parameters", std::to_string(spec.params.size()));
  for (const Param& p : spec.params) {
    std::string values;
    for (const Value& v : p.values) values += (values.empty() ? "" : ", ") + v.to_string();
    std::printf("  %-*s%zu value%s: %s\n", column, p.name.c_str(), p.values.size(),
                p.values.size() == 1 ? "" : "s", values.c_str());
  }
  print_row("restrictions", std::to_string(spec.restrictions.size()));
  for (const std::string& r : spec.restrictions) std::printf("  %s\n", r.c_str());

  char share[64];
  std::snprintf(
      share, sizeof share, " (%.3g%%)",
      100.0 * static_cast<double>(space.size()) / static_cast<double>(space.cartesian_size()));
  print_row("space", std::to_string(space.size()) + " valid configurations of " +
                         std::to_string(space.cartesian_size()) + share);
  print_row("default", default_config.describe(true) + " (the first valid configuration)");

  print_row("arguments", std::to_string(args.size()) + ", at the default configuration");
  for (const HostArgument& arg : args) {
    const ArgumentSpec& a = *arg.spec;
    std::string text = std::string(to_string(a.type));
    if (a.kind == ArgumentSpec::Kind::Scalar) {
      text += " scalar = " + scalar_text(arg);
    } else {
      text += " buffer, " + std::to_string(arg.count) + " element" + (arg.count == 1 ? "" : "s") +
              " (" + format_bytes(static_cast<double>(arg.count * size_of(a.type))) + "), ";
      if (a.local) {
        text += "local memory";
      } else if (a.output) {
        text += a.init.kind == Initializer::Kind::Zero
                    ? "output"
                    : "output, initially " + initializer_text(a.init);
      } else {
        text += initializer_text(a.init);
      }
    }
    std::printf("  %-*s%s\n", column, a.name.c_str(), text.c_str());
  }

  if (spec.backend == "opencl") {
    std::string launch =
        "global " + dimensions_text(spec, spec.launch.global, default_config, "launch.global");
    launch +=
        spec.launch.local.empty()
            ? ", local chosen by the runtime"
            : ", local " + dimensions_text(spec, spec.launch.local, default_config, "launch.local");
    print_row("launch", launch);
  }

  std::string verify;
  const VerifySpec& v = spec.verify;
  switch (v.kind) {
    case VerifySpec::Kind::Reference:
      verify = "reference kernel " + v.reference_entry + " in " +
               shown_path(v.reference_source.empty() ? spec.source : v.reference_source, spec);
      break;
    case VerifySpec::Kind::Answer:
      verify = "stored answers:";
      for (const auto& [name, file] : v.answers) {
        verify += ' ' + name + '=' + shown_path(file, spec);
      }
      break;
    case VerifySpec::Kind::FirstValid: verify = "against the first configuration that runs"; break;
    case VerifySpec::Kind::None: verify = "none: outputs are not checked"; break;
  }
  if (v.kind != VerifySpec::Kind::None) {
    verify += "; tolerance rel_l2 " + number(v.tolerance.rel_l2) + ", max_abs " +
              number(v.tolerance.max_abs);
  }
  print_row("verify", verify);

  switch (spec.objective.kind) {
    case ObjectiveSpec::Kind::Time: print_row("objective", "time per call"); break;
    case ObjectiveSpec::Kind::GFlops:
      print_row("objective", "GFLOP/s, from " + spec.objective.work + " = " +
                                 number(*spec.work_per_call()) + " FLOP per call");
      break;
    case ObjectiveSpec::Kind::GBytes:
      print_row("objective", "GB/s, from " + spec.objective.work + " = " +
                                 number(*spec.work_per_call()) + " bytes per call");
      break;
  }

  const TuningSettings& t = spec.tuning;
  std::string tuning =
      "strategy " + (t.strategy.empty() ? std::string(kDefaultStrategy) : t.strategy);
  if (t.budget) tuning += ", budget " + std::to_string(*t.budget);
  if (t.seconds) tuning += ", at most " + number(*t.seconds) + " s";
  tuning += ", seed " + std::to_string(t.seed) + ", timeout " + number(t.timeout_s) + " s per call";
  if (spec.memory_limit_bytes > 0) {
    tuning += ", worker memory limit " + format_bytes(static_cast<double>(spec.memory_limit_bytes));
  }
  print_row("tuning", tuning);
  std::printf("ok: %s is a valid spec (nothing was compiled or run)\n",
              options.spec_path.string().c_str());
  return 0;
}

TuneFlags merged_flags(const CLI::App& tune, const TuneSpecOptions& options,
                       const KernelSpec& spec) {
  const auto given = [&tune](const char* flag) { return tune.get_option(flag)->count() > 0; };
  TuneFlags flags = options.flags;
  const TuningSettings& settings = spec.tuning;
  if (!given("--strategy") && !settings.strategy.empty()) flags.strategy = settings.strategy;
  // A budget is the evaluations and the time together: either on the command line replaces both.
  if (!given("--budget") && !given("--time")) {
    flags.budget = settings.budget;
    flags.seconds = settings.seconds;
  }
  if (!given("--seed")) flags.seed = settings.seed;
  return flags;
}

void add_tune_spec(CLI::App& tune) {
  auto options = std::make_shared<TuneSpecOptions>();
  tune.add_option("spec", options->spec_path,
                  "Spec file of a kernel to tune (FILE.toml; the format is in docs/spec-files.md)");
  tune.add_flag("--check", options->check,
                "Validate the spec file and print its space, arguments and settings; compile and "
                "run nothing");
  tune.add_option("--set", options->sets,
                  "Override a problem size of the spec file, NAME=VALUE (repeatable)");
  add_tune_flags(tune, options->flags, "Seed of the strategy");
  tune.callback([options, &tune] {
    if (!tune.get_subcommands().empty()) return;  // a subcommand such as `tune gemm` ran instead
    if (options->spec_path.empty()) {
      throw Error(ErrorCode::InvalidArgument,
                  "tune needs a spec file (attune tune FILE.toml) or a subcommand (attune tune "
                  "gemm); see attune tune --help");
    }
    if (options->spec_path.extension() != ".toml") {
      throw Error(ErrorCode::InvalidArgument,
                  "`" + options->spec_path.string() +
                      "` is neither a spec file (FILE.toml) nor a subcommand of tune (gemm)");
    }
    if (options->check) {
      run_check_spec(*options);
      return;
    }
    record_argv(tune, {"tune", options->spec_path.string()}, options->flags);
    const KernelSpec spec = load_spec_with_overrides(*options);
    const int code = run_tune_spec(spec, merged_flags(tune, *options, spec));
    if (code != 0) {
      std::fflush(stdout);
      std::exit(code);
    }
  });
}

}  // namespace attune::cli
