// The OpenCL backend on whatever OpenCL device is present (PoCL on the CPU in CI): planted wrong
// and broken variants get the statuses they deserve, impossible launches are rejected without a
// build, outputs match a host reference on fresh random inputs at odd sizes, and the tuner runs
// over a tiled SGEMM end to end. Every test skips when no OpenCL device is present.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "attune/backends/opencl.hpp"
#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "support/temp_dir.hpp"

namespace attune {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(ATTUNE_TEST_DATA_DIR) / "opencl";

#define SKIP_WITHOUT_OPENCL()                                                       \
  do {                                                                              \
    if (opencl::list_devices().empty()) GTEST_SKIP() << "no OpenCL device present"; \
  } while (0)

std::vector<Value> ints(std::initializer_list<std::int64_t> values) {
  return std::vector<Value>(values.begin(), values.end());
}

ArgumentSpec buffer(std::string name, std::string size, bool output = false) {
  ArgumentSpec a;
  a.name = std::move(name);
  a.size = std::move(size);
  a.output = output;
  return a;
}

ArgumentSpec random_buffer(std::string name, std::string size, std::uint64_t seed) {
  ArgumentSpec a = buffer(std::move(name), std::move(size));
  a.init.kind = Initializer::Kind::Random;
  a.init.seed = seed;
  a.init.low = -1.0;
  a.init.high = 1.0;
  return a;
}

ArgumentSpec scalar(std::string name, std::string value) {
  ArgumentSpec a;
  a.name = std::move(name);
  a.kind = ArgumentSpec::Kind::Scalar;
  a.type = ElementType::Int32;
  a.value = std::move(value);
  return a;
}

ArgumentSpec local_buffer(std::string name, std::string size) {
  ArgumentSpec a = buffer(std::move(name), std::move(size));
  a.local = true;
  return a;
}

std::uint64_t fresh_seed() { return (std::uint64_t{std::random_device{}()} << 32) | 0x9e37u; }

// c = a + b over n elements, local size WG, VARIANT 0 right, 1 wrong, 2 not compiling.
KernelSpec vadd_spec(std::int64_t n, std::vector<Value> work_group_sizes,
                     std::vector<Value> variants = ints({0})) {
  KernelSpec spec;
  spec.name = "vadd";
  spec.backend = "opencl";
  spec.source = kData / "vadd.cl";
  spec.entry = "vadd";
  spec.params = {{"WG", std::move(work_group_sizes)}, {"VARIANT", std::move(variants)}};
  spec.problem = {{"n", n}};
  const std::uint64_t seed = fresh_seed();
  spec.arguments = {random_buffer("a", "n", seed), random_buffer("b", "n", seed + 1),
                    buffer("c", "n", true), scalar("n", "n")};
  spec.launch.global = {"(n + WG - 1) // WG * WG"};
  spec.launch.local = {"WG"};
  spec.verify.kind = VerifySpec::Kind::Reference;
  spec.verify.reference_entry = "vadd_reference";
  spec.verify.tolerance = {1e-6, 1e-6};
  return spec;
}

// C = A * B for M x K and K x N, TS x TS tiles through __local buffers.
KernelSpec sgemm_spec(std::int64_t m, std::int64_t n, std::int64_t k, std::vector<Value> tiles) {
  KernelSpec spec;
  spec.name = "sgemm";
  spec.backend = "opencl";
  spec.source = kData / "sgemm.cl";
  spec.entry = "sgemm";
  spec.params = {{"TS", std::move(tiles)}};
  spec.problem = {{"M", m}, {"N", n}, {"K", k}};
  const std::uint64_t seed = fresh_seed();
  spec.arguments = {scalar("M", "M"),
                    scalar("N", "N"),
                    scalar("K", "K"),
                    random_buffer("A", "M * K", seed),
                    random_buffer("B", "K * N", seed + 1),
                    buffer("C", "M * N", true),
                    local_buffer("As", "TS * TS"),
                    local_buffer("Bs", "TS * TS")};
  spec.launch.global = {"(M + TS - 1) // TS * TS", "(N + TS - 1) // TS * TS"};
  spec.launch.local = {"TS", "TS"};
  spec.verify.kind = VerifySpec::Kind::Reference;
  spec.verify.reference_entry = "sgemm_reference";
  spec.verify.tolerance = {1e-5, 1e-4};
  return spec;
}

// Fast measurements: these tests check statuses and values, not speed.
Harness quick_harness() {
  HarnessOptions h;
  h.min_sample_s = 1e-4;
  h.min_samples = 3;
  h.max_samples = 5;
  h.max_measure_s = 0.05;
  return Harness(h);
}

std::size_t index_of(const SearchSpace& space, const std::string& key) {
  const auto index = space.index_of_key(key);
  EXPECT_TRUE(index.has_value()) << key;
  return index.value_or(0);
}

std::vector<float> floats_of(const HostArgument& argument) {
  std::vector<float> out(argument.bytes.size() / sizeof(float));
  std::memcpy(out.data(), argument.bytes.data(), argument.bytes.size());
  return out;
}

// Writes `values` as a raw float32 answer file and makes it the spec's reference for `output`.
void answer_with(KernelSpec& spec, const std::string& output, const std::vector<float>& values) {
  const fs::path file = fs::path(testing::TempDir()) / ("opencl_answer_" + spec.name + "_" +
                                                        std::to_string(fresh_seed()) + ".f32");
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()),
            static_cast<std::streamsize>(values.size() * sizeof(float)));
  out.close();
  spec.verify.kind = VerifySpec::Kind::Answer;
  spec.verify.answers = {{output, file}};
}

TEST(OpenClBackend, DescribesTheDeviceItRunsOn) {
  SKIP_WITHOUT_OPENCL();
  const auto devices = opencl::list_devices();
  for (const auto& d : devices) {
    EXPECT_FALSE(d.platform.empty());
    EXPECT_FALSE(d.name.empty());
    EXPECT_TRUE(d.type == "gpu" || d.type == "cpu" || d.type == "accelerator" || d.type == "other")
        << d.type;
  }
  const auto backend = opencl::make_opencl_backend(vadd_spec(16, ints({16})));
  const DeviceInfo& info = backend->device();
  EXPECT_EQ(info.kind, "opencl");
  EXPECT_NE(info.name.find(": "), std::string::npos) << info.name;
  EXPECT_GE(info.cores, 1);
  EXPECT_TRUE(std::is_sorted(info.features.begin(), info.features.end()));
  const bool has_limit = std::any_of(info.features.begin(), info.features.end(),
                                     [](auto& f) { return f.rfind("max_work_group=", 0) == 0; });
  EXPECT_TRUE(has_limit);
  // The same device, asked for by name, gives the same fingerprint.
  opencl::OpenClOptions by_name;
  by_name.device = info.name.substr(info.name.find(": ") + 2);
  EXPECT_EQ(opencl::make_opencl_backend(vadd_spec(16, ints({16})), by_name)->device().fingerprint(),
            info.fingerprint());
}

TEST(OpenClBackend, AnUnknownDeviceNameListsTheDevices) {
  SKIP_WITHOUT_OPENCL();
  opencl::OpenClOptions options;
  options.device = "no device is called this";
  try {
    opencl::make_opencl_backend(vadd_spec(16, ints({16})), options);
    FAIL() << "expected Error(NotFound)";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find(opencl::list_devices()[0].name), std::string::npos)
        << e.what();
  }
}

TEST(OpenClBackend, TheEnvironmentChoosesTheDeviceWhenTheOptionsDoNot) {
  SKIP_WITHOUT_OPENCL();
  ASSERT_EQ(setenv("ATTUNE_OPENCL_DEVICE", "no device is called this", 1), 0);
  EXPECT_THROW(opencl::make_opencl_backend(vadd_spec(16, ints({16}))), Error);
  opencl::OpenClOptions options;
  options.device = opencl::list_devices()[0].name;
  EXPECT_NO_THROW(opencl::make_opencl_backend(vadd_spec(16, ints({16})), options));
  ASSERT_EQ(unsetenv("ATTUNE_OPENCL_DEVICE"), 0);
}

TEST(OpenClBackend, VectorAddMatchesTheHostOnFreshInputsAtAnOddSize) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(257, ints({1, 16, 64}), ints({0, 1}));
  const SearchSpace space = spec.space();
  const auto host = materialize_arguments(spec, space.at(0));
  const std::vector<float> a = floats_of(host[0]);
  const std::vector<float> b = floats_of(host[1]);
  std::vector<float> c(a.size());
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = a[i] + b[i];
  answer_with(spec, "c", c);

  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  for (const char* wg : {"1", "16", "64"}) {
    const Measurement right = evaluator.evaluate(space.at(index_of(space, std::string(wg) + ",0")));
    EXPECT_EQ(right.status, Status::Ok) << wg << ": " << right.message;
    EXPECT_GT(right.objective(), 0.0);
    EXPECT_GT(right.compile_s, 0.0);
    const Measurement wrong = evaluator.evaluate(space.at(index_of(space, std::string(wg) + ",1")));
    EXPECT_EQ(wrong.status, Status::VerifyFailed) << wg;
    EXPECT_NE(wrong.message.find("output `c`"), std::string::npos) << wrong.message;
  }
}

TEST(OpenClBackend, TiledSgemmMatchesTheHostAtOddSizes) {
  SKIP_WITHOUT_OPENCL();
  const std::int64_t m = 37, n = 53, k = 29;
  KernelSpec spec = sgemm_spec(m, n, k, ints({1, 4, 8, 16}));
  const SearchSpace space = spec.space();
  const auto host = materialize_arguments(spec, space.at(0));
  const std::vector<float> a = floats_of(host[3]);
  const std::vector<float> b = floats_of(host[4]);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (std::int64_t p = 0; p < k; ++p) sum += double(a[i * k + p]) * b[p * n + j];
      c[i * n + j] = static_cast<float>(sum);
    }
  }
  answer_with(spec, "C", c);
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  for (std::size_t i = 0; i < space.size(); ++i) {
    const Measurement result = evaluator.evaluate(space.at(i));
    EXPECT_EQ(result.status, Status::Ok) << space.at(i).describe() << ": " << result.message;
  }
}

TEST(OpenClBackend, AReferenceKernelCatchesThePlantedWrongVariant) {
  SKIP_WITHOUT_OPENCL();
  const KernelSpec spec = vadd_spec(1000, ints({8, 32}), ints({1, 0}));
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  // The wrong variant is evaluated first: with a reference kernel, being first does not make it
  // the reference.
  for (const char* key : {"8,1", "8,0", "32,1", "32,0"}) {
    Prepared prepared = backend->prepare(space.at(index_of(space, key)));
    ASSERT_EQ(prepared.status, Status::Ok) << key << ": " << prepared.message;
    const VerifyResult check = prepared.kernel->verify();
    EXPECT_EQ(check.ok, key[std::strlen(key) - 1] == '0') << key << ": " << check.message;
  }
}

TEST(OpenClBackend, FirstValidTakesTheFirstConfigurationThatRunsAsTheReference) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(300, ints({4, 12}), ints({0, 1}));
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  for (const char* key : {"4,0", "4,1", "12,0", "12,1"}) {
    Prepared prepared = backend->prepare(space.at(index_of(space, key)));
    ASSERT_EQ(prepared.status, Status::Ok) << key << ": " << prepared.message;
    EXPECT_EQ(prepared.kernel->verify().ok, key[std::strlen(key) - 1] == '0') << key;
  }
}

TEST(OpenClBackend, ConfigurationsWithOtherBufferSizesGetAReferenceOfTheirOwn) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(200, ints({8}), ints({0, 1}));
  spec.params.push_back({"PAD", ints({0, 3})});
  for (ArgumentSpec& a : spec.arguments)
    (a.kind == ArgumentSpec::Kind::Scalar ? a.value : a.size) = "n + PAD";
  spec.launch.global = {"(n + PAD + WG - 1) // WG * WG"};
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  // Each size has its first valid configuration; a wrong one is compared with its own size's.
  for (const char* key : {"8,0,0", "8,0,3", "8,1,3", "8,1,0"}) {
    const Measurement m = evaluator.evaluate(space.at(index_of(space, key)));
    EXPECT_EQ(m.status, key[2] == '0' ? Status::Ok : Status::VerifyFailed) << key << m.message;
  }
}

TEST(OpenClBackend, AWorkGroupOverTheDeviceMaximumIsOverLimitsWithoutABuild) {
  SKIP_WITHOUT_OPENCL();
  // broken.cl compiles under no parameters: a rejection other than compile_failed was decided
  // without building.
  KernelSpec spec;
  spec.name = "broken";
  spec.backend = "opencl";
  spec.source = kData / "broken.cl";
  spec.entry = "broken";
  spec.params = {{"WG", ints({16, std::int64_t{1} << 22})}};
  spec.problem = {{"n", 64}};
  spec.arguments = {buffer("out", "n * WG", true)};
  spec.launch.global = {"WG"};
  spec.launch.local = {"WG"};
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);

  const Prepared over = backend->prepare(space.at(index_of(space, "4194304")));
  EXPECT_EQ(over.status, Status::OverLimits);
  EXPECT_EQ(over.compile_s, 0.0);
  EXPECT_FALSE(over.kernel);
  EXPECT_NE(over.message.find("4194304"), std::string::npos) << over.message;
  EXPECT_NE(over.message.find("not built"), std::string::npos) << over.message;

  const Prepared built = backend->prepare(space.at(index_of(space, "16")));
  EXPECT_EQ(built.status, Status::CompileFailed);
  EXPECT_GT(built.compile_s, 0.0);
}

TEST(OpenClBackend, LocalArgumentsOverTheDeviceLocalMemoryAreOverLimitsWithoutABuild) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = sgemm_spec(8, 8, 8, ints({4}));
  spec.source = kData / "broken.cl";
  spec.verify.kind = VerifySpec::Kind::FirstValid;
  spec.arguments[6].size = "TS * TS * 1024 * 1024 * 64";  // 4 GiB of __local floats
  const auto backend = opencl::make_opencl_backend(spec);
  const SearchSpace space = spec.space();
  const Prepared over = backend->prepare(space.at(0));
  EXPECT_EQ(over.status, Status::OverLimits);
  EXPECT_EQ(over.compile_s, 0.0);
  EXPECT_NE(over.message.find("__local"), std::string::npos) << over.message;
}

TEST(OpenClBackend, AGlobalSizeThatIsNoMultipleOfTheLocalSizeIsInvalid) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(100, ints({16}));
  spec.launch.global = {"n"};  // 100 is not a multiple of 16
  const auto backend = opencl::make_opencl_backend(spec);
  const Prepared prepared = backend->prepare(spec.space().at(0));
  EXPECT_EQ(prepared.status, Status::Invalid);
  EXPECT_EQ(prepared.compile_s, 0.0);
  EXPECT_NE(prepared.message.find("multiple"), std::string::npos) << prepared.message;
}

TEST(OpenClBackend, ASyntaxErrorUnderOneValueIsCompileFailedWithTheBuildLog) {
  SKIP_WITHOUT_OPENCL();
  const KernelSpec spec = vadd_spec(64, ints({16}), ints({0, 2}));
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  const Measurement broken = evaluator.evaluate(space.at(index_of(space, "16,2")));
  EXPECT_EQ(broken.status, Status::CompileFailed);
  EXPECT_NE(broken.message.find("-DVARIANT=2"), std::string::npos) << broken.message;
  EXPECT_NE(broken.message.find("error"), std::string::npos) << broken.message;
  // The log points at the line of vadd.cl that breaks.
  EXPECT_NE(broken.message.find(":11:"), std::string::npos) << broken.message;
  EXPECT_EQ(evaluator.evaluate(space.at(index_of(space, "16,0"))).status, Status::Ok);
}

TEST(OpenClBackend, AKernelThatRequiresAnotherWorkGroupSizeIsInvalid) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(64, ints({16, 32}));
  spec.entry = "vadd16";
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  EXPECT_EQ(evaluator.evaluate(space.at(index_of(space, "16,0"))).status, Status::Ok);
  const Measurement other = evaluator.evaluate(space.at(index_of(space, "32,0")));
  EXPECT_EQ(other.status, Status::Invalid);
  EXPECT_NE(other.message.find("reqd_work_group_size"), std::string::npos) << other.message;
}

TEST(OpenClBackend, ASpecThatMissesAKernelArgumentIsCompileFailed) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(64, ints({16}));
  spec.arguments.pop_back();
  const auto backend = opencl::make_opencl_backend(spec);
  const Prepared prepared = backend->prepare(spec.space().at(0));
  EXPECT_EQ(prepared.status, Status::CompileFailed);
  EXPECT_NE(prepared.message.find("takes 4 arguments, the spec lists 3"), std::string::npos)
      << prepared.message;
}

// Whether the builder also launches each kernel once: on PoCL with its kernel cache on.
bool builder_launches() {
  const std::vector<opencl::OpenClDevice> devices = opencl::list_devices();
  const char* cache = std::getenv("POCL_KERNEL_CACHE");
  return !devices.empty() && devices.front().platform == "Portable Computing Language" &&
         (cache == nullptr || std::string(cache) != "0");
}

#define SKIP_UNLESS_THE_BUILDER_LAUNCHES()                                                   \
  do {                                                                                       \
    if (!builder_launches()) GTEST_SKIP() << "the device is not PoCL with its kernel cache"; \
  } while (0)

opencl::OpenClOptions build_in(opencl::BuildPlace place) {
  opencl::OpenClOptions options;
  options.build_place = place;
  return options;
}

TEST(OpenClBackend, AKernelThatCrashesInItsFirstLaunchIsRuntimeFailedAndTheRunGoesOn) {
  SKIP_UNLESS_THE_BUILDER_LAUNCHES();
  const KernelSpec spec = vadd_spec(64, ints({16}), ints({0, 3}));
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec, build_in(opencl::BuildPlace::Builder));
  Evaluator evaluator(*backend, quick_harness());
  const Measurement crashed = evaluator.evaluate(space.at(index_of(space, "16,3")));
  EXPECT_EQ(crashed.status, Status::RuntimeFailed);
  EXPECT_NE(crashed.message.find("SIGSEGV"), std::string::npos) << crashed.message;
  const Measurement fine = evaluator.evaluate(space.at(index_of(space, "16,0")));
  EXPECT_EQ(fine.status, Status::Ok) << fine.message;
}

TEST(OpenClBackend, AKernelThatHangsInItsFirstLaunchIsTimeoutAndTheRunGoesOn) {
  SKIP_UNLESS_THE_BUILDER_LAUNCHES();
  const KernelSpec spec = vadd_spec(64, ints({16}), ints({0, 4}));
  const SearchSpace space = spec.space();
  opencl::OpenClOptions options = build_in(opencl::BuildPlace::Builder);
  options.build_timeout_s = 5.0;
  const auto backend = opencl::make_opencl_backend(spec, options);
  Evaluator evaluator(*backend, quick_harness());
  const auto start = std::chrono::steady_clock::now();
  const Measurement hung = evaluator.evaluate(space.at(index_of(space, "16,4")));
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(hung.status, Status::Timeout);
  EXPECT_NE(hung.message.find("build_timeout_s"), std::string::npos) << hung.message;
  EXPECT_GE(waited, 5.0);
  EXPECT_LT(waited, 60.0);
  const Measurement fine = evaluator.evaluate(space.at(index_of(space, "16,0")));
  EXPECT_EQ(fine.status, Status::Ok) << fine.message;
}

TEST(OpenClBackend, TheBuilderAndAnInProcessBuildGiveEveryConfigurationTheSameStatus) {
  SKIP_UNLESS_THE_BUILDER_LAUNCHES();
  // Right, wrong and not compiling, at a fitting and an oversized work-group.
  const KernelSpec spec = vadd_spec(1000, ints({8, 100000}), ints({0, 1, 2}));
  const SearchSpace space = spec.space();
  std::vector<Measurement> by_place[2];
  const opencl::BuildPlace places[2] = {opencl::BuildPlace::InProcess, opencl::BuildPlace::Builder};
  for (int p = 0; p < 2; ++p) {
    const auto backend = opencl::make_opencl_backend(spec, build_in(places[p]));
    Evaluator evaluator(*backend, quick_harness());
    for (std::size_t i = 0; i < space.size(); ++i) {
      by_place[p].push_back(evaluator.evaluate(space.at(i)));
    }
  }
  std::size_t ok = 0;
  for (std::size_t i = 0; i < space.size(); ++i) {
    EXPECT_EQ(by_place[0][i].status, by_place[1][i].status)
        << space.at(i).describe() << ": " << by_place[0][i].message << " | "
        << by_place[1][i].message;
    ok += by_place[1][i].ok();
  }
  EXPECT_EQ(ok, 1u);  // WG 8, the right variant
}

TEST(OpenClBackend, AskingForTheBuilderWithPoclsCacheOffSaysHowToFixIt) {
  SKIP_UNLESS_THE_BUILDER_LAUNCHES();
  const KernelSpec spec = vadd_spec(64, ints({16}));
  ::setenv("POCL_KERNEL_CACHE", "0", 1);
  try {
    opencl::make_opencl_backend(spec, build_in(opencl::BuildPlace::Builder));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("POCL_KERNEL_CACHE"), std::string::npos) << e.what();
  }
  ::unsetenv("POCL_KERNEL_CACHE");
}

TEST(OpenClBackend, ABuilderThatDoesNotStartIsAnErrorThatSaysHowToBuildWithoutIt) {
  SKIP_UNLESS_THE_BUILDER_LAUNCHES();
  const KernelSpec spec = vadd_spec(64, ints({16}));
  opencl::OpenClOptions options = build_in(opencl::BuildPlace::Builder);
  options.builder = "/bin/true";  // exits at once, without a word
  // The backend makes its scratch directory under $TMPDIR before it starts the builder; the
  // failed start must not leave it behind.
  const test_support::TempDir tmp;
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  ::setenv("TMPDIR", tmp.path().c_str(), 1);
  try {
    opencl::make_opencl_backend(spec, options);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("did not start"), std::string::npos) << message;
    EXPECT_NE(message.find("POCL_KERNEL_CACHE=0"), std::string::npos) << message;
  }
  if (old_tmpdir != nullptr) {
    ::setenv("TMPDIR", saved.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path())) << "left in " << tmp.path();
}

TEST(OpenClBackend, WithoutALocalSizeTheRuntimeChooses) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = vadd_spec(1000, ints({1}));
  spec.launch.global = {"n"};
  spec.launch.local.clear();
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  const Measurement m = evaluator.evaluate(spec.space().at(0));
  EXPECT_EQ(m.status, Status::Ok) << m.message;
}

TEST(OpenClBackend, EventTimeIsPositiveAndGrowsWithTheCalls) {
  SKIP_WITHOUT_OPENCL();
  const KernelSpec spec = sgemm_spec(64, 64, 64, ints({8}));
  const auto backend = opencl::make_opencl_backend(spec);
  Prepared prepared = backend->prepare(spec.space().at(0));
  ASSERT_EQ(prepared.status, Status::Ok) << prepared.message;
  ASSERT_TRUE(prepared.kernel->verify().ok);
  double one = 1e9;
  for (int i = 0; i < 5; ++i) {
    const RunOutcome r = prepared.kernel->run(1);
    ASSERT_EQ(r.status, Status::Ok) << r.message;
    EXPECT_GT(r.seconds, 0.0);
    one = std::min(one, r.seconds);
  }
  // A sum of 32 launches' device times against the fastest single launch: 4x leaves room for any
  // noise, and a clock that counted one launch per batch would fail it.
  const RunOutcome many = prepared.kernel->run(32);
  ASSERT_EQ(many.status, Status::Ok) << many.message;
  EXPECT_GT(many.seconds, 4.0 * one);
}

TEST(OpenClBackend, ConcurrentPreparesShareTheArgumentsSafely) {
  SKIP_WITHOUT_OPENCL();
  KernelSpec spec = sgemm_spec(45, 31, 20, ints({1, 2, 4, 8}));
  ASSERT_TRUE(opencl::make_opencl_backend(spec)->concurrent_prepare());
  const auto backend = opencl::make_opencl_backend(spec);
  const SearchSpace space = spec.space();
  std::vector<Prepared> prepared(space.size());
  std::vector<std::thread> workers;
  for (std::size_t t = 0; t < 2; ++t) {
    workers.emplace_back([&, t] {
      for (std::size_t i = t; i < space.size(); i += 2) prepared[i] = backend->prepare(space.at(i));
    });
  }
  for (auto& w : workers) w.join();
  for (std::size_t i = 0; i < space.size(); ++i) {
    ASSERT_EQ(prepared[i].status, Status::Ok) << space.at(i).describe() << prepared[i].message;
    const VerifyResult check = prepared[i].kernel->verify();
    EXPECT_TRUE(check.ok) << space.at(i).describe() << ": " << check.message;
  }
}

TEST(OpenClBackend, BruteForceTunesTheTiledSgemmEndToEnd) {
  SKIP_WITHOUT_OPENCL();
  // TS = 128 asks for 16384 work-items per group, over any device's maximum.
  const KernelSpec spec = sgemm_spec(96, 80, 70, ints({2, 4, 8, 16, 128}));
  const SearchSpace space = spec.space();
  const auto backend = opencl::make_opencl_backend(spec);
  Evaluator evaluator(*backend, quick_harness());
  StrategyRegistry strategies;
  register_builtin_strategies(strategies);
  auto strategy = strategies.create("brute_force");
  TuneResult result = Tuner(space, evaluator, *strategy, TuneOptions{}).run();
  ASSERT_EQ(result.evaluations.size(), space.size());
  std::size_t ok = 0;
  for (const Evaluation& e : result.evaluations) {
    const Config config = space.at(e.index);
    if (config.int_of("TS") == 128) {
      EXPECT_EQ(e.measurement.status, Status::OverLimits) << e.measurement.message;
    } else {
      EXPECT_EQ(e.measurement.status, Status::Ok) << config.describe() << e.measurement.message;
      ok += e.measurement.ok();
    }
  }
  EXPECT_EQ(ok, 4u);
  ASSERT_NE(result.best_evaluation(), nullptr);
  EXPECT_NE(space.at(result.best_evaluation()->index).int_of("TS"), 128);
}

}  // namespace
}  // namespace attune
