// The C++ JIT backend on the kernels in tests/data/jit: a correct kernel verifies against its
// reference and a planted bug does not; kernels planted to crash, abort, hang, leak, throw, exit
// or fail to load are each recorded with their status while the configurations after them run;
// compiled objects are cached on disk; prepare() works from several threads; and no child
// process outlives the backend.

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "attune/backends/jit.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "support/temp_dir.hpp"

namespace attune {
namespace {

namespace fs = std::filesystem;

fs::path kernel_file(const char* name) { return fs::path(ATTUNE_TEST_DATA_DIR) / "jit" / name; }

using test_support::TempDir;

ArgumentSpec buffer(std::string name, std::string size, Initializer init, bool output = false) {
  ArgumentSpec a;
  a.name = std::move(name);
  a.kind = ArgumentSpec::Kind::Buffer;
  a.type = ElementType::Float32;
  a.size = std::move(size);
  a.init = init;
  a.output = output;
  return a;
}

ArgumentSpec scalar(std::string name, ElementType type, std::string value) {
  ArgumentSpec a;
  a.name = std::move(name);
  a.kind = ArgumentSpec::Kind::Scalar;
  a.type = type;
  a.value = std::move(value);
  return a;
}

Initializer random_init(std::uint64_t seed) {
  Initializer init;
  init.kind = Initializer::Kind::Random;
  init.seed = seed;
  init.low = -1.0;
  init.high = 1.0;
  return init;
}

std::vector<Value> ints(std::initializer_list<int> values) {
  return std::vector<Value>(values.begin(), values.end());
}

KernelSpec base_spec(const char* file, std::string entry) {
  KernelSpec spec;
  spec.name = entry;
  spec.backend = "cpp";
  spec.source = kernel_file(file);
  spec.entry = std::move(entry);
  spec.flags = {"-O1"};  // quick to compile; the tests are about behaviour, not speed
  spec.tuning.timeout_s = 2.0;
  return spec;
}

// out = a * x + y over n = 1001 (not a multiple of 8, so UNROLL = 8's planted bug shows).
KernelSpec saxpy_spec() {
  KernelSpec spec = base_spec("saxpy.cpp", "saxpy");
  spec.params = {{"UNROLL", ints({1, 2, 4, 8})}};
  spec.problem = {{"n", 1001}};
  spec.arguments = {buffer("out", "n", {}, true), buffer("x", "n", random_init(1)),
                    buffer("y", "n", random_init(2)), scalar("a", ElementType::Float32, "3"),
                    scalar("n", ElementType::Int32, "n")};
  spec.verify.kind = VerifySpec::Kind::Reference;
  spec.verify.reference_entry = "saxpy_reference";
  return spec;
}

// FAULT 0, 10, 20, ... compute out = 2 * in; every other value fails in its own way.
KernelSpec faults_spec() {
  KernelSpec spec = base_spec("faults.cpp", "faults");
  spec.params = {{"FAULT", ints({0, 1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60, 7, 70, 8, 80})}};
  spec.problem = {{"n", 333}};
  spec.arguments = {buffer("out", "n", {}, true), buffer("in", "n", random_init(3)),
                    scalar("n", ElementType::Int32, "n")};
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  spec.tuning.timeout_s = 0.5;
  spec.memory_limit_bytes = std::size_t{512} << 20;
  return spec;
}

// out = 3 * in over n + PAD elements; in[0] is incremented by every call.
KernelSpec scale_spec(std::vector<Value> pads, std::vector<Value> variants) {
  KernelSpec spec = base_spec("scale.cpp", "scale");
  spec.params = {{"PAD", std::move(pads)}, {"VARIANT", std::move(variants)}};
  spec.problem = {{"n", 37}};
  Initializer range;
  range.kind = Initializer::Kind::Range;
  range.start = 1.0;
  range.step = 1.0;
  spec.arguments = {buffer("out", "n + PAD", {}, true), buffer("in", "n + PAD", range),
                    scalar("n", ElementType::Int32, "n")};
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  return spec;
}

jit::JitOptions options_in(const TempDir& dir) {
  jit::JitOptions options;
  options.cache_dir = dir.path() / "cache";
  options.worker = ATTUNE_JIT_WORKER;
  return options;
}

HarnessOptions quick_harness() {
  HarnessOptions h;
  h.min_sample_s = 1e-4;
  h.min_samples = 3;
  h.max_measure_s = 0.02;
  return h;
}

Config config_of(const SearchSpace& space, const std::string& key) {
  const auto index = space.index_of_key(key);
  if (!index) throw Error(ErrorCode::InvalidArgument, "no configuration " + key);
  return space.at(*index);
}

std::map<std::string, Measurement> tune_everything(const KernelSpec& spec, Backend& backend) {
  const SearchSpace space = spec.space();
  Evaluator evaluator(backend, Harness(quick_harness()));
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  auto strategy = registry.create("brute_force");
  Tuner tuner(space, evaluator, *strategy, TuneOptions{});
  const TuneResult result = tuner.run();
  std::map<std::string, Measurement> out;
  for (const Evaluation& e : result.evaluations) out[space.at(e.index).key()] = e.measurement;
  return out;
}

std::size_t files_ending(const fs::path& dir, const std::string& suffix) {
  std::size_t n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() >= suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      ++n;
    }
  }
  return n;
}

// This process's children as (pid, state letter) from /proc, zombies included.
std::vector<std::pair<int, char>> children() {
  std::vector<std::pair<int, char>> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = '?';
    int ppid = 0;
    std::istringstream rest(line.substr(close + 2));
    rest >> state >> ppid;
    if (ppid == ::getpid()) out.emplace_back(std::stoi(name), state);
  }
  return out;
}

std::string describe(const Measurement& m) {
  return std::string(to_string(m.status)) + ": " + m.message;
}

TEST(JitBackend, CorrectVariantsVerifyAgainstTheReferenceAndThePlantedBugDoesNot) {
  TempDir dir;
  const KernelSpec spec = saxpy_spec();
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  EXPECT_EQ(backend->device().kind, "cpu");
  EXPECT_EQ(backend->kernel_id(), spec.kernel_id());
  EXPECT_TRUE(backend->concurrent_prepare());

  const auto results = tune_everything(spec, *backend);
  ASSERT_EQ(results.size(), 4u);
  for (const char* key : {"1", "2", "4"}) {
    const Measurement& m = results.at(key);
    EXPECT_EQ(m.status, Status::Ok) << key << ": " << describe(m);
    EXPECT_FALSE(m.samples_s.empty()) << key;
    EXPECT_GT(m.summary.median, 0.0) << key;
    EXPECT_GT(m.compile_s, 0.0) << key;
  }
  const Measurement& bug = results.at("8");
  EXPECT_EQ(bug.status, Status::VerifyFailed) << describe(bug);
  EXPECT_NE(bug.message.find("output `out`"), std::string::npos) << bug.message;
  EXPECT_TRUE(bug.samples_s.empty());
}

TEST(JitBackend, PreparedKernelsVerifyAndRunDirectly) {
  TempDir dir;
  const KernelSpec spec = saxpy_spec();
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const SearchSpace space = spec.space();
  Prepared four = backend->prepare(config_of(space, "4"));
  ASSERT_EQ(four.status, Status::Ok) << four.message;
  ASSERT_TRUE(four.kernel);
  const VerifyResult check = four.kernel->verify();
  EXPECT_TRUE(check.ok) << check.message;
  EXPECT_EQ(check.nan_count, 0u);
  for (std::size_t calls : {1u, 10u, 100u}) {
    const RunOutcome r = four.kernel->run(calls);
    EXPECT_EQ(r.status, Status::Ok) << r.message;
    EXPECT_GT(r.seconds, 0.0);
    EXPECT_LT(r.seconds, 10.0);
  }
  Prepared eight = backend->prepare(config_of(space, "8"));
  ASSERT_EQ(eight.status, Status::Ok) << eight.message;
  const VerifyResult bad = eight.kernel->verify();
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.nan_count, 1u) << "the one element after the last group of 8 stays poisoned";
  EXPECT_EQ(bad.first_bad_index, 1000u);
}

TEST(JitBackend, CrashesHangsLeaksAndLoadFailuresAreRecordedAndTheRunGoesOn) {
  TempDir dir;
  const KernelSpec spec = faults_spec();
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const auto results = tune_everything(spec, *backend);
  ASSERT_EQ(results.size(), 17u);
  for (const char* key : {"0", "10", "20", "30", "40", "50", "60", "70", "80"}) {
    EXPECT_EQ(results.at(key).status, Status::Ok)
        << "FAULT=" << key << " after a failure: " << describe(results.at(key));
  }
  const struct {
    const char* key;
    Status status;
    const char* says;
  } failures[] = {
      {"1", Status::RuntimeFailed, "the kernel crashed: SIGSEGV (segmentation fault)"},
      {"2", Status::RuntimeFailed, "the kernel crashed: SIGABRT (aborted)"},
      {"3", Status::Timeout, "did not finish the verification run"},
      {"4", Status::RuntimeFailed, "out of memory"},
      {"5", Status::RuntimeFailed, "attune_test_missing_function"},
      {"6", Status::RuntimeFailed, "the kernel refuses this input"},
      {"7", Status::RuntimeFailed, "exited with status 3"},
      {"8", Status::RuntimeFailed, "faults: giving up on this input"},
  };
  for (const auto& f : failures) {
    const Measurement& m = results.at(f.key);
    EXPECT_EQ(m.status, f.status) << "FAULT=" << f.key << ": " << describe(m);
    EXPECT_NE(m.message.find(f.says), std::string::npos) << "FAULT=" << f.key << ": " << m.message;
    EXPECT_TRUE(m.samples_s.empty()) << "FAULT=" << f.key;
  }
  for (const auto& [pid, state] : children()) {
    EXPECT_NE(state, 'Z') << "zombie child " << pid;
  }
}

TEST(JitBackend, AFailedRunIsReportedAndTheNextKernelGetsAFreshWorker) {
  TempDir dir;
  KernelSpec spec = faults_spec();
  spec.verify.kind = VerifySpec::Kind::None;
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const SearchSpace space = spec.space();
  Prepared fine = backend->prepare(config_of(space, "0"));
  Prepared segv = backend->prepare(config_of(space, "1"));
  Prepared hang = backend->prepare(config_of(space, "3"));
  ASSERT_EQ(fine.status, Status::Ok) << fine.message;
  ASSERT_EQ(segv.status, Status::Ok) << segv.message;
  ASSERT_EQ(hang.status, Status::Ok) << hang.message;
  EXPECT_TRUE(segv.kernel->verify().ok) << "verification off: nothing is run";

  EXPECT_EQ(fine.kernel->run(3).status, Status::Ok);
  const RunOutcome crashed = segv.kernel->run(1);
  EXPECT_EQ(crashed.status, Status::RuntimeFailed);
  EXPECT_NE(crashed.message.find("SIGSEGV (segmentation fault)"), std::string::npos)
      << crashed.message;
  EXPECT_EQ(segv.kernel->run(1).status, Status::RuntimeFailed) << "a failure is not retried";
  const RunOutcome after_crash = fine.kernel->run(5);
  EXPECT_EQ(after_crash.status, Status::Ok) << after_crash.message;

  const RunOutcome hung = hang.kernel->run(2);
  EXPECT_EQ(hung.status, Status::Timeout);
  EXPECT_NE(hung.message.find("a batch of 2 calls"), std::string::npos) << hung.message;
  EXPECT_EQ(fine.kernel->run(1).status, Status::Ok);
  for (const auto& [pid, state] : children()) EXPECT_NE(state, 'Z') << "zombie child " << pid;
}

TEST(JitBackend, ArgumentsOverTheMemoryLimitAreRuntimeFailed) {
  TempDir dir;
  KernelSpec spec = faults_spec();
  spec.params = {{"FAULT", ints({0})}};
  spec.problem = {{"n", 8 << 20}};  // 32 MiB per buffer: the worker's copies need 160 MiB
  spec.arguments[1].init = {};
  spec.memory_limit_bytes = std::size_t{64} << 20;
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  Prepared p = backend->prepare(spec.space().at(0));
  ASSERT_EQ(p.status, Status::Ok) << p.message;
  try {
    p.kernel->verify();
    ADD_FAILURE() << "verify() of a kernel whose arguments do not fit did not throw";
  } catch (const KernelFailure& e) {
    EXPECT_EQ(e.status(), Status::RuntimeFailed);
    EXPECT_NE(std::string(e.what()).find("out of memory during the setup"), std::string::npos)
        << e.what();
  }
  // The failure stays with the configuration: timing it reports the same.
  const RunOutcome r = p.kernel->run(1);
  EXPECT_EQ(r.status, Status::RuntimeFailed);
}

TEST(JitBackend, AKernelThatDoesNotCompileIsCompileFailedWithTheCompilersError) {
  TempDir dir;
  const KernelSpec spec = scale_spec(ints({0}), ints({0, 1}));
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const SearchSpace space = spec.space();
  const Prepared broken = backend->prepare(config_of(space, "0,1"));
  EXPECT_EQ(broken.status, Status::CompileFailed);
  EXPECT_FALSE(broken.kernel);
  EXPECT_NE(broken.message.find("error:"), std::string::npos) << broken.message;
  EXPECT_NE(broken.message.find("undeclared_variable"), std::string::npos) << broken.message;
  EXPECT_NE(broken.message.find("scale.cpp:11"), std::string::npos) << broken.message;
  const Prepared fine = backend->prepare(config_of(space, "0,0"));
  EXPECT_EQ(fine.status, Status::Ok) << fine.message;
  EXPECT_EQ(files_ending(dir.path() / "cache", ".so"), 1u) << "a failed compile leaves no object";
}

TEST(JitBackend, CompiledObjectsAreCachedOnDiskByDefinesAndSource) {
  TempDir dir;
  // A compiler that logs each compile, so a cache hit is seen to skip it.
  const fs::path compiler = dir.path() / "logging-c++";
  const fs::path log = dir.path() / "compiles.log";
  {
    std::ofstream script(compiler);
    script << "#!/bin/sh\ncase \"$*\" in *-shared*) echo compile >> '" << log.string()
           << "';; esac\nexec c++ \"$@\"\n";
  }
  fs::permissions(compiler, fs::perms::owner_all);
  const auto compiles = [&] {
    std::ifstream in(log);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  };
  KernelSpec spec = saxpy_spec();
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  spec.compiler = compiler.string();
  const fs::path cache = dir.path() / "cache";
  const SearchSpace space = spec.space();
  {
    auto backend = jit::make_jit_backend(spec, options_in(dir));
    const Prepared first = backend->prepare(config_of(space, "2"));
    ASSERT_EQ(first.status, Status::Ok) << first.message;
    EXPECT_EQ(compiles(), 1u);
    EXPECT_EQ(files_ending(cache, ".so"), 1u);
    const Prepared again = backend->prepare(config_of(space, "2"));
    ASSERT_EQ(again.status, Status::Ok) << again.message;
    EXPECT_EQ(compiles(), 1u) << "the second prepare of a configuration compiles nothing";
    EXPECT_EQ(files_ending(cache, ".so"), 1u);
    EXPECT_TRUE(again.kernel->verify().ok);
    EXPECT_EQ(again.kernel->run(2).status, Status::Ok);
    const Prepared other = backend->prepare(config_of(space, "4"));
    ASSERT_EQ(other.status, Status::Ok) << other.message;
    EXPECT_EQ(compiles(), 2u);
    EXPECT_EQ(files_ending(cache, ".so"), 2u) << "another -D value is another object";
  }
  // Another backend (as another process would) finds the same objects.
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  EXPECT_EQ(backend->prepare(config_of(space, "4")).status, Status::Ok);
  EXPECT_EQ(compiles(), 2u);
  // Other flags are other objects.
  spec.flags = {"-O2"};
  auto o2 = jit::make_jit_backend(spec, options_in(dir));
  EXPECT_EQ(o2->prepare(config_of(space, "4")).status, Status::Ok);
  EXPECT_EQ(compiles(), 3u);
  EXPECT_EQ(files_ending(cache, ".so"), 3u);
  EXPECT_EQ(files_ending(cache, ".tmp"), 0u);
}

TEST(JitBackend, PrepareWorksFromTwoThreadsAtOnce) {
  TempDir dir;
  KernelSpec spec = saxpy_spec();
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const SearchSpace space = spec.space();
  // Both threads build every configuration, in opposite orders, so the same object is compiled
  // by both at once at some point.
  std::vector<Prepared> forward(space.size()), backward(space.size());
  std::thread a([&] {
    for (std::size_t i = 0; i < space.size(); ++i) forward[i] = backend->prepare(space.at(i));
  });
  std::thread b([&] {
    for (std::size_t i = space.size(); i-- > 0;) backward[i] = backend->prepare(space.at(i));
  });
  a.join();
  b.join();
  for (std::size_t i = 0; i < space.size(); ++i) {
    ASSERT_EQ(forward[i].status, Status::Ok) << forward[i].message;
    ASSERT_EQ(backward[i].status, Status::Ok) << backward[i].message;
  }
  EXPECT_EQ(files_ending(dir.path() / "cache", ".so"), space.size());
  EXPECT_EQ(files_ending(dir.path() / "cache", ".tmp"), 0u);
  // UNROLL = 1 runs first and becomes the reference.
  for (std::vector<Prepared>* kernels : {&forward, &backward}) {
    for (std::size_t i = 0; i < space.size(); ++i) {
      const bool planted_bug = space.at(i).int_of("UNROLL") == 8;
      EXPECT_EQ((*kernels)[i].kernel->verify().ok, !planted_bug) << space.at(i).key();
      if (!planted_bug) EXPECT_EQ((*kernels)[i].kernel->run(4).status, Status::Ok);
    }
  }
}

TEST(JitBackend, ArgumentsThatDependOnParametersAreSetUpPerConfiguration) {
  TempDir dir;
  const KernelSpec spec = scale_spec(ints({0, 3}), ints({0}));
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  const SearchSpace space = spec.space();
  Prepared pad0 = backend->prepare(config_of(space, "0,0"));
  Prepared pad3 = backend->prepare(config_of(space, "3,0"));
  ASSERT_EQ(pad0.status, Status::Ok) << pad0.message;
  ASSERT_EQ(pad3.status, Status::Ok) << pad3.message;
  EXPECT_TRUE(pad0.kernel->verify().ok);
  EXPECT_TRUE(pad3.kernel->verify().ok);
  // The kernel increments in[0] on every call; each verification starts from the initial inputs
  // again, so a second one matches the reference the first one recorded.
  EXPECT_EQ(pad0.kernel->run(50).status, Status::Ok);
  EXPECT_EQ(pad3.kernel->run(50).status, Status::Ok);
  const VerifyResult again = pad0.kernel->verify();
  EXPECT_TRUE(again.ok) << again.message;
  EXPECT_EQ(again.max_abs_error, 0.0);
  EXPECT_TRUE(pad3.kernel->verify().ok);
}

TEST(JitBackend, StoredAnswersAreCompared) {
  TempDir dir;
  KernelSpec spec = scale_spec(ints({0}), ints({0}));
  // in[i] = 1 + i, and the kernel adds 1 to in[0] before scaling by 3.
  std::vector<float> expected(37);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = 3.0f * (1.0f + float(i));
  expected[0] = 6.0f;
  const auto write = [&](const fs::path& file, const std::vector<float>& values) {
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(values.data()),
              static_cast<std::streamsize>(values.size() * sizeof(float)));
  };
  spec.verify.kind = VerifySpec::Kind::Answer;
  spec.verify.answers = {{"out", dir.path() / "right.f32"}};
  write(dir.path() / "right.f32", expected);
  {
    auto backend = jit::make_jit_backend(spec, options_in(dir));
    Prepared p = backend->prepare(spec.space().at(0));
    ASSERT_EQ(p.status, Status::Ok) << p.message;
    const VerifyResult r = p.kernel->verify();
    EXPECT_TRUE(r.ok) << r.message;
  }
  expected[5] += 1.0f;
  spec.verify.answers = {{"out", dir.path() / "wrong.f32"}};
  write(dir.path() / "wrong.f32", expected);
  auto backend = jit::make_jit_backend(spec, options_in(dir));
  Prepared p = backend->prepare(spec.space().at(0));
  ASSERT_EQ(p.status, Status::Ok) << p.message;
  const VerifyResult r = p.kernel->verify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 5u) << r.message;
}

TEST(JitBackend, SpecErrorsAreReportedWhenTheBackendIsMade) {
  TempDir dir;
  KernelSpec no_reference = saxpy_spec();
  no_reference.verify.reference_entry = "no_such_reference";
  try {
    jit::make_jit_backend(no_reference, options_in(dir));
    ADD_FAILURE() << "a reference that does not compile must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_reference"), std::string::npos) << e.what();
  }

  jit::JitOptions missing = options_in(dir);
  missing.worker = dir.path() / "no-such-worker";
  try {
    jit::make_jit_backend(saxpy_spec(), missing);
    ADD_FAILURE() << "a missing worker must be an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
  }

  KernelSpec no_compiler = saxpy_spec();
  no_compiler.compiler = "attune-no-such-compiler";
  EXPECT_THROW(jit::make_jit_backend(no_compiler, options_in(dir)), Error);

  KernelSpec opencl = saxpy_spec();
  opencl.backend = "opencl";
  EXPECT_THROW(jit::make_jit_backend(opencl, options_in(dir)), Error);
}

TEST(JitBackend, NoChildProcessOutlivesTheBackend) {
  {
    TempDir dir;
    KernelSpec spec = faults_spec();
    spec.verify.kind = VerifySpec::Kind::None;
    auto backend = jit::make_jit_backend(spec, options_in(dir));
    const SearchSpace space = spec.space();
    Prepared segv = backend->prepare(config_of(space, "1"));
    Prepared fine = backend->prepare(config_of(space, "0"));
    ASSERT_EQ(segv.status, Status::Ok);
    ASSERT_EQ(fine.status, Status::Ok);
    EXPECT_EQ(segv.kernel->run(1).status, Status::RuntimeFailed);
    EXPECT_EQ(fine.kernel->run(1).status, Status::Ok);
    EXPECT_EQ(children().size(), 1u) << "one live worker, the crashed one reaped";
  }
  EXPECT_TRUE(children().empty());
  int status = 0;
  errno = 0;
  EXPECT_EQ(::waitpid(-1, &status, WNOHANG), -1) << "a child was left to reap";
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace attune
