// The C++ JIT backend: prepare() compiles a configuration (or finds it in the disk cache) on the
// caller's thread; verify() and run() send it to the worker process, which holds the kernel's
// arguments and runs the compiled object. Everything that must survive a worker's death (the
// arguments, the reference outputs) lives here in the parent, so a replaced worker is given the
// same inputs and nothing measured is lost.

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <system_error>

#include "attune/backends/jit.hpp"
#include "attune/error.hpp"
#include "core/subprocess.hpp"
#include "kernel_compiler.hpp"
#include "spec/npy.hpp"
#include "worker_process.hpp"

namespace attune::jit {
namespace {

// Added to every deadline: starting to run, scheduling noise on a loaded machine.
constexpr double kMarginS = 1.0;
// Loading runs the kernel's static initializers, which get this long beyond the per-call timeout.
constexpr double kLoadExtraS = 10.0;
// Argument sets kept ready beyond those that prepared kernels hold: enough for a space whose
// sizes do not depend on the parameters, and for alternating between two that do.
constexpr std::size_t kRecentArgumentSets = 2;

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << seconds;
  return out.str();
}

std::filesystem::path default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return std::filesystem::path(xdg) / "attune" / "jit";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::filesystem::path(home) / ".cache" / "attune" / "jit";
  std::error_code ignored;
  return std::filesystem::temp_directory_path(ignored) / "attune-cache" / "jit";
}

constexpr const char* kWorkerName = "attune-jit-worker";

std::filesystem::path find_worker(const std::filesystem::path& given) {
  attune::detail::CompanionProgram worker;
  worker.name = kWorkerName;
  worker.given = given;
  worker.given_by = "JitOptions::worker";
  worker.variable = "ATTUNE_JIT_WORKER";
#ifdef ATTUNE_JIT_WORKER_BUILD_PATH
  worker.places.emplace_back(ATTUNE_JIT_WORKER_BUILD_PATH);
#endif
#ifdef ATTUNE_JIT_WORKER_INSTALL_PATH
  worker.places.emplace_back(ATTUNE_JIT_WORKER_INSTALL_PATH);
#endif
  std::string looked;
  std::filesystem::path found = attune::detail::find_companion(worker, &looked);
  if (found.empty()) {
    throw Error(ErrorCode::NotFound, std::string(kWorkerName) + " not found (looked in " + looked +
                                         "); build it with attune, or set ATTUNE_JIT_WORKER");
  }
  return found;
}

bool plausible_entry(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  }
  return !std::isdigit(static_cast<unsigned char>(name[0]));
}

// "file:line: key `k`: text", or just the text for a spec written in C++.
std::string located(const SpecLocation& where, const std::string& text) {
  const std::string prefix = where.describe();
  return prefix.empty() ? text : prefix + ": " + text;
}

// The generated unit #includes the source by path, which a double quote or a line break would
// end early.
void check_includable(const std::filesystem::path& source) {
  if (source.string().find_first_of("\"\n") != std::string::npos) {
    throw Error(ErrorCode::InvalidArgument,
                "the kernel source path " + source.string() +
                    " holds a double quote or a line break, which an #include cannot name; "
                    "rename it");
  }
}

std::filesystem::path resolve(const KernelSpec& spec, const std::filesystem::path& file) {
  if (file.is_absolute() || spec.path.empty()) return std::filesystem::absolute(file);
  return std::filesystem::absolute(spec.path.parent_path() / file);
}

// The kernel's arguments for the configurations that share them: materialized once, with the
// poisoned contents of each output for the verification run.
struct ArgumentSet {
  std::string key;
  std::vector<HostArgument> arguments;
  std::vector<std::vector<std::byte>> poisoned;  // per argument; empty but for outputs
  std::vector<std::size_t> outputs;              // positions of the output arguments
};

// Reference outputs for one argument set, or why there are none.
struct Reference {
  bool done = false;
  std::vector<std::vector<std::byte>> outputs;
  std::string error;
};

class JitBackend;

class PreparedJit final : public PreparedKernel {
 public:
  PreparedJit(JitBackend& backend, std::filesystem::path library,
              std::shared_ptr<const ArgumentSet> arguments)
      : backend_(backend), library_(std::move(library)), arguments_(std::move(arguments)) {}

  VerifyResult verify() override;
  RunOutcome run(std::size_t calls) override;

  const std::filesystem::path& library() const { return library_; }
  const ArgumentSet& arguments() const { return *arguments_; }
  /// Set once the kernel failed (crashed, hung, could not load): every later run reports it.
  std::optional<RunOutcome> failure;

 private:
  JitBackend& backend_;
  std::filesystem::path library_;
  std::shared_ptr<const ArgumentSet> arguments_;
};

class JitBackend final : public Backend {
 public:
  JitBackend(KernelSpec spec, JitOptions options);

  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override { return kernel_id_; }
  Prepared prepare(const Config& config) override;
  bool concurrent_prepare() const override { return true; }

  VerifyResult verify(PreparedJit& kernel);
  RunOutcome run(PreparedJit& kernel, std::size_t calls);

 private:
  std::string argument_key(const Config& config) const;
  std::shared_ptr<const ArgumentSet> arguments_for(const Config& config);
  void prepare_reference();
  void load_answers();
  // Brings the worker to `set` and `library`, starting one if there is none.
  RunOutcome ready_worker(const ArgumentSet& set, const std::filesystem::path& library);
  RunOutcome check_run(const ArgumentSet& set, const std::filesystem::path& library,
                       std::vector<std::vector<std::byte>>& outputs);
  const Reference& reference_for(const ArgumentSet& set);
  VerifyResult compare_outputs(const ArgumentSet& set,
                               const std::vector<std::vector<std::byte>>& got,
                               const std::vector<std::vector<std::byte>>& expected) const;
  std::string per_call_timeout() const;

  KernelSpec spec_;
  JitOptions options_;
  DeviceInfo device_;
  std::string kernel_id_;
  std::filesystem::path worker_program_;
  std::optional<detail::KernelCompiler> compiler_;

  std::mutex arguments_mutex_;
  std::map<std::string, std::weak_ptr<const ArgumentSet>> argument_sets_;
  std::deque<std::shared_ptr<const ArgumentSet>> recent_sets_;

  // The measuring thread's state; the mutex only guards against a caller that breaks the
  // one-measuring-thread rule.
  std::mutex worker_mutex_;
  std::unique_ptr<detail::WorkerProcess> worker_;
  std::string worker_arguments_;          // key of the set the worker holds
  std::filesystem::path worker_library_;  // the library it calls
  std::filesystem::path reference_library_;
  std::vector<std::vector<std::byte>> answers_;  // VerifySpec::Answer, per output
  std::map<std::string, Reference> references_;  // per argument set
};

VerifyResult PreparedJit::verify() { return backend_.verify(*this); }
RunOutcome PreparedJit::run(std::size_t calls) { return backend_.run(*this, calls); }

JitBackend::JitBackend(KernelSpec spec, JitOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), device_(DeviceInfo::host_cpu()) {
  if (!spec_.backend.empty() && spec_.backend != "cpp") {
    throw Error(ErrorCode::InvalidArgument, "kernel `" + spec_.name + "` is for the `" +
                                                spec_.backend +
                                                "` backend; the JIT backend runs `cpp` kernels");
  }
  spec_.source = resolve(spec_, spec_.source);
  check_includable(spec_.source);
  if (!plausible_entry(spec_.entry)) {
    throw Error(ErrorCode::InvalidArgument,
                "kernel `" + spec_.name + "`: the entry `" + spec_.entry +
                    "` is not a C++ function name (letters, digits, _ and ::)");
  }
  for (const ArgumentSpec& arg : spec_.arguments) {
    if (arg.local) {
      throw Error(ErrorCode::InvalidArgument,
                  located(arg.where, "argument `" + arg.name +
                                         "` is a local buffer, which only OpenCL kernels have; "
                                         "remove `local`"));
    }
  }
  if (!(spec_.tuning.timeout_s > 0)) {
    throw Error(ErrorCode::InvalidArgument,
                "the per-call timeout must be > 0 s, got " + seconds_text(spec_.tuning.timeout_s));
  }
  kernel_id_ = spec_.kernel_id();
  if (options_.cache_dir.empty()) options_.cache_dir = default_cache_dir();
  std::vector<std::string> flags = spec_.flags;
  if (flags.empty()) flags = {"-O3", "-march=native"};
  compiler_.emplace(spec_.compiler.empty() ? "c++" : spec_.compiler, std::move(flags),
                    options_.cache_dir, options_.compile_timeout_s);
  worker_program_ = find_worker(options_.worker);
  // Started now so that a worker that cannot run (a missing program, a memory limit too small
  // for the worker itself) is an error at once rather than a failure of every configuration.
  worker_ = std::make_unique<detail::WorkerProcess>(worker_program_, spec_.memory_limit_bytes);
  if (spec_.verify.kind == VerifySpec::Kind::Reference) prepare_reference();
  if (spec_.verify.kind == VerifySpec::Kind::Answer) load_answers();
}

void JitBackend::prepare_reference() {
  const VerifySpec& verify = spec_.verify;
  if (!plausible_entry(verify.reference_entry)) {
    throw Error(ErrorCode::InvalidArgument,
                located(verify.where, "the reference entry `" + verify.reference_entry +
                                          "` is not a C++ function name"));
  }
  const std::filesystem::path source =
      verify.reference_source.empty() ? spec_.source : resolve(spec_, verify.reference_source);
  check_includable(source);
  // The default configuration's -D values (the space's first configuration, or every
  // parameter's first value when none is valid), so a source that reads the macros compiles.
  const SearchSpace space = spec_.space();
  const Config config = space.size() > 0
                            ? space.at(0)
                            : Config(&space, std::vector<std::uint32_t>(space.params().size(), 0));
  const detail::CompileResult compiled =
      compiler_->compile(source, verify.reference_entry, spec_.arguments, spec_.defines(config));
  if (compiled.status != Status::Ok) {
    throw Error(
        ErrorCode::InvalidArgument,
        located(verify.where, "the reference kernel `" + verify.reference_entry + "` in " +
                                  source.string() + " does not compile: " + compiled.message));
  }
  reference_library_ = compiled.library;
}

void JitBackend::load_answers() {
  const SearchSpace space = spec_.space();
  if (space.size() == 0) return;
  const Config config = space.at(0);
  for (const ArgumentSpec& arg : spec_.arguments) {
    if (!arg.output) continue;
    const auto answer = std::find_if(spec_.verify.answers.begin(), spec_.verify.answers.end(),
                                     [&](const auto& a) { return a.first == arg.name; });
    if (answer == spec_.verify.answers.end()) {
      throw Error(
          ErrorCode::InvalidArgument,
          located(spec_.verify.where,
                  "output `" + arg.name + "` has no answer file; give one for every output"));
    }
    const Value size = evaluate_spec_expression(spec_, arg.size, config, arg.where);
    answers_.push_back(attune::detail::read_array_file(resolve(spec_, answer->second), arg.type,
                                                       static_cast<std::size_t>(size.as_int())));
  }
}

std::string JitBackend::argument_key(const Config& config) const {
  // Initializers depend only on the element count, so the counts and scalar values identify the
  // bytes materialize_arguments would produce.
  std::string key;
  for (const ArgumentSpec& arg : spec_.arguments) {
    const std::string& expression = arg.kind == ArgumentSpec::Kind::Buffer ? arg.size : arg.value;
    key += evaluate_spec_expression(spec_, expression, config, arg.where).to_string();
    key += ';';
  }
  return key;
}

std::shared_ptr<const ArgumentSet> JitBackend::arguments_for(const Config& config) {
  const std::string key = argument_key(config);
  {
    std::lock_guard lock(arguments_mutex_);
    if (auto it = argument_sets_.find(key); it != argument_sets_.end()) {
      if (auto set = it->second.lock()) return set;
    }
  }
  auto set = std::make_shared<ArgumentSet>();
  set->key = key;
  set->arguments = materialize_arguments(spec_, config);
  set->poisoned.resize(set->arguments.size());
  for (std::size_t i = 0; i < set->arguments.size(); ++i) {
    const HostArgument& arg = set->arguments[i];
    if (arg.spec->kind != ArgumentSpec::Kind::Buffer || !arg.spec->output) continue;
    set->outputs.push_back(i);
    set->poisoned[i] = arg.bytes;
    poison_output(arg.spec->type, set->poisoned[i]);
  }
  std::lock_guard lock(arguments_mutex_);
  // Another thread may have built the same set meanwhile; keep one, so the worker is set up once.
  if (auto it = argument_sets_.find(key); it != argument_sets_.end()) {
    if (auto existing = it->second.lock()) return existing;
  }
  std::shared_ptr<const ArgumentSet> shared = std::move(set);
  argument_sets_[key] = shared;
  recent_sets_.push_back(shared);
  if (recent_sets_.size() > kRecentArgumentSets) recent_sets_.pop_front();
  for (auto it = argument_sets_.begin(); it != argument_sets_.end();) {
    it = it->second.expired() ? argument_sets_.erase(it) : std::next(it);
  }
  return shared;
}

Prepared JitBackend::prepare(const Config& config) {
  const auto start = std::chrono::steady_clock::now();
  const auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Prepared out;
  std::shared_ptr<const ArgumentSet> arguments;
  try {
    arguments = arguments_for(config);
  } catch (const Error& e) {
    // A size or value this configuration makes impossible (negative, fractional).
    out.status = Status::Invalid;
    out.message = e.what();
    out.compile_s = elapsed();
    return out;
  }
  const detail::CompileResult compiled =
      compiler_->compile(spec_.source, spec_.entry, spec_.arguments, spec_.defines(config));
  out.compile_s = elapsed();
  if (compiled.status != Status::Ok) {
    out.status = compiled.status;
    out.message = compiled.message;
    return out;
  }
  out.kernel = std::make_unique<PreparedJit>(*this, compiled.library, std::move(arguments));
  return out;
}

std::string JitBackend::per_call_timeout() const {
  return "timeout " + seconds_text(spec_.tuning.timeout_s) + " s per call, plus " +
         seconds_text(kMarginS) + " s of margin";
}

RunOutcome JitBackend::ready_worker(const ArgumentSet& set, const std::filesystem::path& library) {
  if (!worker_ || worker_->dead()) {
    worker_ = std::make_unique<detail::WorkerProcess>(worker_program_, spec_.memory_limit_bytes);
    worker_arguments_.clear();
    worker_library_.clear();
  }
  if (worker_arguments_ != set.key) {
    std::vector<detail::WorkerArgument> arguments;
    for (std::size_t i = 0; i < set.arguments.size(); ++i) {
      const HostArgument& arg = set.arguments[i];
      detail::WorkerArgument a;
      a.is_buffer = arg.spec->kind == ArgumentSpec::Kind::Buffer;
      a.is_output = a.is_buffer && arg.spec->output;
      a.initial = arg.bytes;
      a.check = set.poisoned[i];
      arguments.push_back(a);
    }
    worker_arguments_.clear();
    RunOutcome r = worker_->setup(arguments);
    if (r.status != Status::Ok) return r;
    worker_arguments_ = set.key;
  }
  if (worker_library_ != library) {
    worker_library_.clear();
    RunOutcome r =
        worker_->load(library, detail::kEntrySymbol, spec_.tuning.timeout_s + kLoadExtraS);
    if (r.status != Status::Ok) return r;
    worker_library_ = library;
  }
  return {};
}

RunOutcome JitBackend::check_run(const ArgumentSet& set, const std::filesystem::path& library,
                                 std::vector<std::vector<std::byte>>& outputs) {
  RunOutcome r = ready_worker(set, library);
  if (r.status == Status::Ok) {
    r = worker_->check(spec_.tuning.timeout_s + kMarginS, "the verification run",
                       per_call_timeout(), outputs);
  }
  return r;
}

const Reference& JitBackend::reference_for(const ArgumentSet& set) {
  Reference& reference = references_[set.key];
  if (reference.done) return reference;
  std::vector<std::vector<std::byte>> outputs;
  const RunOutcome r = check_run(set, reference_library_, outputs);
  reference.done = true;
  if (r.status == Status::Ok) {
    reference.outputs = std::move(outputs);
  } else {
    reference.error =
        located(spec_.verify.where, "the reference kernel `" + spec_.verify.reference_entry +
                                        "` failed on the check inputs: " + r.message);
  }
  return reference;
}

VerifyResult JitBackend::compare_outputs(
    const ArgumentSet& set, const std::vector<std::vector<std::byte>>& got,
    const std::vector<std::vector<std::byte>>& expected) const {
  std::vector<OutputComparison> outputs;
  for (std::size_t k = 0; k < set.outputs.size(); ++k) {
    const std::span<const std::byte> none;
    outputs.push_back({set.arguments[set.outputs[k]].spec, k < got.size() ? got[k] : none,
                       k < expected.size() ? expected[k] : none});
  }
  return attune::compare_outputs(outputs, spec_.verify.tolerance);
}

VerifyResult JitBackend::verify(PreparedJit& kernel) {
  VerifyResult passed;
  passed.ok = true;
  if (spec_.verify.kind == VerifySpec::Kind::None) return passed;
  std::lock_guard lock(worker_mutex_);
  const ArgumentSet& set = kernel.arguments();
  const std::vector<std::vector<std::byte>>* expected = nullptr;
  switch (spec_.verify.kind) {
    case VerifySpec::Kind::Reference: {
      const Reference& reference = reference_for(set);
      if (!reference.error.empty()) throw Error(ErrorCode::InvalidArgument, reference.error);
      expected = &reference.outputs;
      break;
    }
    case VerifySpec::Kind::Answer: expected = &answers_; break;
    case VerifySpec::Kind::FirstValid:
      if (auto it = references_.find(set.key); it != references_.end()) {
        expected = &it->second.outputs;
      }
      break;
    case VerifySpec::Kind::None: break;
  }
  std::vector<std::vector<std::byte>> outputs;
  const RunOutcome r = check_run(set, kernel.library(), outputs);
  if (r.status != Status::Ok) {
    // There is no output to judge: the kernel crashed or hung, and its own status
    // (runtime_failed, timeout) is what the measurement records, not verify_failed.
    kernel.failure = r;
    throw KernelFailure(r.status, r.message);
  }
  if (expected) return compare_outputs(set, outputs, *expected);
  // FirstValid: this configuration is the first to run, and becomes the reference if every
  // element it wrote is finite (a poisoned element it left unwritten is NaN).
  VerifyResult self = compare_outputs(set, outputs, outputs);
  if (!self.ok) {
    self.message = "cannot be the reference (the first configuration that runs): " + self.message;
    return self;
  }
  Reference& reference = references_[set.key];
  reference.done = true;
  reference.outputs = std::move(outputs);
  return self;
}

RunOutcome JitBackend::run(PreparedJit& kernel, std::size_t calls) {
  if (kernel.failure) return *kernel.failure;
  std::lock_guard lock(worker_mutex_);
  RunOutcome r = ready_worker(kernel.arguments(), kernel.library());
  if (r.status == Status::Ok) {
    const std::string what =
        "a batch of " + std::to_string(calls) + (calls == 1 ? " call" : " calls");
    r = worker_->run(calls, spec_.tuning.timeout_s * static_cast<double>(calls) + kMarginS, what,
                     per_call_timeout());
  }
  if (r.status != Status::Ok) kernel.failure = r;
  return r;
}

}  // namespace

std::unique_ptr<Backend> make_jit_backend(const KernelSpec& spec, JitOptions options) {
  return std::make_unique<JitBackend>(spec, std::move(options));
}

}  // namespace attune::jit
