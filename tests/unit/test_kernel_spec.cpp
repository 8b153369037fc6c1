// Spec files and the in-memory KernelSpec: a full spec parses into the values written, the search
// space and -D options follow from it, arguments materialize deterministically (random bytes
// pinned to the documented mapping of mt19937_64), .npy and raw files load with their checks, every
// kind of malformed spec is reported at the right line and key, and outputs compare by type.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attune/error.hpp"
#include "attune/kernel_spec.hpp"
#include "spec/npy.hpp"
#include "support/error_text.hpp"
#include "support/temp_dir.hpp"

namespace attune {
namespace {

namespace fs = std::filesystem;

using test_support::error_of;
using test_support::TempDir;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

void write_bytes(const fs::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

template <typename T>
std::vector<T> as_elements(const std::vector<std::byte>& bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

template <typename T>
std::vector<std::byte> as_bytes(const std::vector<T>& values) {
  std::vector<std::byte> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// A .npy file as NumPy writes it: magic, version, little-endian header length, the dict literal
// padded with spaces to a multiple of 64 bytes and ended by a newline, then the data.
std::vector<std::byte> npy_file(int major, const std::string& dict,
                                const std::vector<std::byte>& data) {
  const std::size_t length_width = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((10 + (length_width - 2) + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  for (std::size_t i = 0; i < length_width; ++i) {
    out += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  out += header;
  std::vector<std::byte> bytes(out.size());
  std::memcpy(bytes.data(), out.data(), out.size());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

constexpr const char* kFullSpec = R"(# a full spec
[kernel]
name = "sgemm_test"
source = "k.cl"
entry = "sgemm"
backend = "opencl"
flags = ["-cl-mad-enable"]

[problem]
m = 64
n = 32
k = 16

[params]
ZB = [16, 32]
AA = { range = [1, 4], step = 2 }
POW = { powers = [1, 8] }
FLAG = [true, false]
NAME = "fast"
restrictions = ["ZB % (AA * POW) == 0", "POW <= k"]

[[arguments]]
name = "a"
type = "float32"
size = "m * k"
init = { random = { seed = 7, low = -1, high = 1 } }

[[arguments]]
name = "c"
type = "float32"
size = "m * n"
output = true

[[arguments]]
name = "tile"
type = "float32"
size = "ZB * ZB"
local = true

[[arguments]]
name = "m"
type = "int32"
value = "m"

[launch]
global = ["m", "n // AA"]
local = ["ZB", 1]

[verify]
reference = { entry = "sgemm_ref" }
tolerance = { rel_l2 = 1e-4, max_abs = 0.5 }

[objective]
flops = "2 * m * n * k"

[tuning]
strategy = "random"
budget = 40
seed = 3
time_s = 60
timeout_s = 2.5
)";

struct SpecFixture : ::testing::Test {
  TempDir dir;
  fs::path spec_path = dir / "spec.toml";
  SpecFixture() {
    write_file(dir / "k.cl", "__kernel void sgemm() {}\n");
    write_file(dir / "k.cpp", "extern \"C\" void stencil(float* out) { out[0] = 1; }\n");
  }
  KernelSpec load(const std::string& text) {
    write_file(spec_path, text);
    return load_spec(spec_path);
  }
};

TEST_F(SpecFixture, FullSpecParsesIntoTheValuesWritten) {
  const KernelSpec spec = load(kFullSpec);
  EXPECT_EQ(spec.name, "sgemm_test");
  EXPECT_EQ(spec.backend, "opencl");
  EXPECT_EQ(spec.entry, "sgemm");
  EXPECT_TRUE(spec.source.is_absolute());
  EXPECT_EQ(fs::canonical(spec.source), fs::canonical(dir / "k.cl"));
  EXPECT_EQ(spec.flags, std::vector<std::string>{"-cl-mad-enable"});

  ASSERT_EQ(spec.problem.size(), 3u);
  EXPECT_EQ(spec.problem[0], (std::pair<std::string, std::int64_t>{"m", 64}));
  EXPECT_EQ(spec.problem[2], (std::pair<std::string, std::int64_t>{"k", 16}));

  // Declaration order, not alphabetical: ZB before AA.
  ASSERT_EQ(spec.params.size(), 5u);
  EXPECT_EQ(spec.params[0].name, "ZB");
  EXPECT_EQ(spec.params[1].name, "AA");
  EXPECT_EQ(spec.params[1].values, (std::vector<Value>{1, 3}));
  EXPECT_EQ(spec.params[2].name, "POW");
  EXPECT_EQ(spec.params[2].values, (std::vector<Value>{1, 2, 4, 8}));
  EXPECT_EQ(spec.params[3].values, (std::vector<Value>{true, false}));
  EXPECT_EQ(spec.params[4].values, (std::vector<Value>{"fast"}));
  ASSERT_EQ(spec.restrictions.size(), 2u);
  EXPECT_EQ(spec.restrictions[1], "POW <= k");
  ASSERT_EQ(spec.restriction_locations.size(), 2u);
  EXPECT_EQ(spec.restriction_locations[0].line, 20);

  ASSERT_EQ(spec.arguments.size(), 4u);
  const ArgumentSpec& a = spec.arguments[0];
  EXPECT_EQ(a.kind, ArgumentSpec::Kind::Buffer);
  EXPECT_EQ(a.size, "m * k");
  EXPECT_EQ(a.init.kind, Initializer::Kind::Random);
  EXPECT_EQ(a.init.seed, 7u);
  EXPECT_EQ(a.init.low, -1.0);
  EXPECT_EQ(a.init.high, 1.0);
  EXPECT_EQ(a.where.line, 25);
  EXPECT_TRUE(spec.arguments[1].output);
  EXPECT_EQ(spec.arguments[1].init.kind, Initializer::Kind::Zero);
  EXPECT_TRUE(spec.arguments[2].local);
  EXPECT_EQ(spec.arguments[3].kind, ArgumentSpec::Kind::Scalar);
  EXPECT_EQ(spec.arguments[3].type, ElementType::Int32);
  EXPECT_EQ(spec.arguments[3].value, "m");

  EXPECT_EQ(spec.launch.global, (std::vector<std::string>{"m", "n // AA"}));
  EXPECT_EQ(spec.launch.local, (std::vector<std::string>{"ZB", "1"}));
  EXPECT_EQ(spec.verify.kind, VerifySpec::Kind::Reference);
  EXPECT_EQ(spec.verify.reference_entry, "sgemm_ref");
  EXPECT_TRUE(spec.verify.reference_source.empty());
  EXPECT_EQ(spec.verify.tolerance.rel_l2, 1e-4);
  EXPECT_EQ(spec.verify.tolerance.max_abs, 0.5);
  EXPECT_EQ(spec.objective.kind, ObjectiveSpec::Kind::GFlops);
  EXPECT_EQ(spec.work_per_call(), 2.0 * 64 * 32 * 16);
  EXPECT_EQ(spec.tuning.strategy, "random");
  EXPECT_EQ(spec.tuning.budget, 40u);
  EXPECT_EQ(spec.tuning.seed, 3u);
  EXPECT_EQ(spec.tuning.seconds, 60.0);
  EXPECT_EQ(spec.tuning.timeout_s, 2.5);
  EXPECT_EQ(spec.problem_key().key(), "m=64,n=32,k=16;spec");
}

TEST_F(SpecFixture, CppDefaultsAndMemoryLimit) {
  const KernelSpec spec = load(R"(
[kernel]
source = "k.cpp"
entry = "stencil"
backend = "cpp"
[params]
B = [1, 2]
[[arguments]]
name = "out"
type = "float64"
size = 4
output = true
[tuning]
memory_limit = "1.5 GiB"
)");
  EXPECT_EQ(spec.name, "stencil");
  EXPECT_EQ(spec.compiler, "c++");
  EXPECT_EQ(spec.flags, (std::vector<std::string>{"-O3", "-march=native"}));
  EXPECT_EQ(spec.memory_limit_bytes, std::size_t{3} << 29);
  EXPECT_EQ(spec.verify.kind, VerifySpec::Kind::FirstValid);
  EXPECT_EQ(spec.objective.kind, ObjectiveSpec::Kind::Time);
  EXPECT_EQ(spec.work_per_call(), std::nullopt);
  EXPECT_EQ(spec.arguments[0].size, "4");
}

TEST_F(SpecFixture, WorkPerCallMayReadSingleValuedParameters) {
  const KernelSpec spec = load(R"(
[kernel]
source = "k.cpp"
entry = "stencil"
backend = "cpp"
[problem]
n = 100
[params]
F = 3
B = [1, 2]
[[arguments]]
name = "out"
type = "float32"
size = "n"
output = true
[objective]
bytes = "4 * n * F"
)");
  EXPECT_EQ(spec.objective.kind, ObjectiveSpec::Kind::GBytes);
  EXPECT_EQ(spec.work_per_call(), 1200.0);
}

TEST_F(SpecFixture, SpaceSizeMatchesAHandCountUnderRestrictions) {
  KernelSpec spec = load(kFullSpec);
  // ZB in {16, 32}, AA in {1, 3}, POW in {1, 2, 4, 8} (POW <= k = 16 rules nothing out), FLAG 2,
  // NAME 1. ZB % (AA * POW) == 0: AA = 1 allows every POW (4 each), AA = 3 none (3 does not
  // divide 16 or 32): 2 * 4 = 8 combinations of (ZB, AA, POW), times 2 for FLAG.
  {
    const SearchSpace space = spec.space();
    EXPECT_EQ(space.cartesian_size(), 2u * 2 * 4 * 2 * 1);
    EXPECT_EQ(space.size(), 16u);
  }
  // The restriction reading a problem size follows it: with k = 2, POW is 1 or 2.
  set_problem_size(spec, "k", 2);
  EXPECT_EQ(spec.space().size(), 8u);
  EXPECT_NE(spec.space().signature(), load(kFullSpec).space().signature());
}

TEST_F(SpecFixture, SetProblemSizeRejectsUnknownNamesListingTheSizes) {
  KernelSpec spec = load(kFullSpec);
  const std::string message = error_of([&] { set_problem_size(spec, "q", 3); });
  EXPECT_NE(message.find("`q`"), std::string::npos) << message;
  EXPECT_NE(message.find("m, n, k"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { set_problem_size(spec, "m", -1); }), "(no error)");
}

TEST_F(SpecFixture, DefinesGiveOneMacroPerParameterWithBooleansAsIntegers) {
  const KernelSpec spec = load(kFullSpec);
  const SearchSpace space = spec.space();
  const Config config =
      space.config_from_json({{"ZB", 32}, {"AA", 1}, {"POW", 4}, {"FLAG", true}, {"NAME", "fast"}});
  EXPECT_EQ(spec.defines(config),
            (std::vector<std::string>{"-DZB=32", "-DAA=1", "-DPOW=4", "-DFLAG=1", "-DNAME=fast"}));
}

TEST_F(SpecFixture, KernelIdFollowsSourceAndFlags) {
  KernelSpec spec = load(kFullSpec);
  const std::string id = spec.kernel_id();
  EXPECT_EQ(id.rfind("sgemm_test/opencl/", 0), 0u) << id;
  EXPECT_EQ(spec.kernel_id(), id);
  spec.flags.push_back("-DEXTRA");
  EXPECT_NE(spec.kernel_id(), id);
  spec.flags.pop_back();
  write_file(dir / "k.cl", "__kernel void sgemm() { }\n");
  EXPECT_NE(spec.kernel_id(), id);
}

TEST(SpecLocation, DescribeNamesFileLineAndKey) {
  EXPECT_EQ((SpecLocation{"a/b.toml", 12, "arguments.a.size"}).describe(),
            "a/b.toml:12: key `arguments.a.size`");
  EXPECT_EQ((SpecLocation{"", 0, "params.X"}).describe(), "key `params.X`");
}

// A spec built in C++ for the argument tests: odd sizes, every initializer kind.
KernelSpec argument_spec(std::int64_t m, std::int64_t n) {
  KernelSpec spec;
  spec.name = "args";
  spec.backend = "cpp";
  spec.problem = {{"m", m}, {"n", n}};
  spec.params = {Param{"B", {4, 8}}};
  auto buffer = [](std::string name, ElementType type, std::string size, Initializer init) {
    ArgumentSpec a;
    a.name = std::move(name);
    a.type = type;
    a.size = std::move(size);
    a.init = init;
    return a;
  };
  Initializer range;
  range.kind = Initializer::Kind::Range;
  range.start = 250;
  range.step = 1;
  Initializer constant;
  constant.kind = Initializer::Kind::Constant;
  constant.value = -2.5;
  spec.arguments.push_back(buffer("grid", ElementType::Float32, "m * n", constant));
  spec.arguments.push_back(buffer("padded", ElementType::Float64, "(m + B - 1) // B * B", {}));
  spec.arguments.push_back(buffer("bytes", ElementType::UInt8, "n // 2", range));
  spec.arguments.push_back(buffer("ints", ElementType::Int32, "m", constant));
  ArgumentSpec scalar;
  scalar.name = "count";
  scalar.kind = ArgumentSpec::Kind::Scalar;
  scalar.type = ElementType::Int64;
  scalar.value = "m * n + B";
  spec.arguments.push_back(scalar);
  return spec;
}

TEST(MaterializeArguments, OddSizesEvaluateAndFillEveryInitializer) {
  const KernelSpec spec = argument_spec(7, 13);
  const SearchSpace space = spec.space();
  const Config config = space.at(1);  // B = 8
  const std::vector<HostArgument> args = materialize_arguments(spec, config);
  ASSERT_EQ(args.size(), 5u);

  EXPECT_EQ(args[0].count, 91u);
  ASSERT_EQ(args[0].bytes.size(), 91u * 4);
  for (float v : as_elements<float>(args[0].bytes)) ASSERT_EQ(v, -2.5f);

  EXPECT_EQ(args[1].count, 8u);  // 7 rounded up to a multiple of 8
  for (double v : as_elements<double>(args[1].bytes)) ASSERT_EQ(v, 0.0);

  // 250, 251, ... wrapped to uint8 as numpy's astype does.
  EXPECT_EQ(args[2].count, 6u);
  EXPECT_EQ(as_elements<std::uint8_t>(args[2].bytes),
            (std::vector<std::uint8_t>{250, 251, 252, 253, 254, 255}));
  // -2.5 rounds down to -3 for an integer buffer.
  EXPECT_EQ(as_elements<std::int32_t>(args[3].bytes), std::vector<std::int32_t>(7, -3));

  ASSERT_EQ(args[4].bytes.size(), 8u);
  EXPECT_EQ(as_elements<std::int64_t>(args[4].bytes)[0], 7 * 13 + 8);
  EXPECT_EQ(args[4].spec, &spec.arguments[4]);
}

TEST(MaterializeArguments, BadSizesAndValuesNameTheArgument) {
  KernelSpec spec = argument_spec(7, 13);
  spec.arguments[0].size = "m / 2";  // a float
  spec.arguments[0].where = SpecLocation{"s.toml", 9, "arguments.grid.size"};
  const SearchSpace space = spec.space();
  std::string message = error_of([&] { materialize_arguments(spec, space.at(0)); });
  EXPECT_NE(message.find("s.toml:9: key `arguments.grid.size`"), std::string::npos) << message;
  EXPECT_NE(message.find("3.5"), std::string::npos) << message;

  spec.arguments[0].size = "m - 10";
  message = error_of([&] { materialize_arguments(spec, space.at(0)); });
  EXPECT_NE(message.find("-3"), std::string::npos) << message;

  spec = argument_spec(7, 13);
  spec.arguments[4].type = ElementType::UInt8;
  spec.arguments[4].value = "m * 100";
  message = error_of([&] { materialize_arguments(spec, space.at(0)); });
  EXPECT_NE(message.find("does not fit"), std::string::npos) << message;
}

KernelSpec random_spec(std::uint64_t seed, ElementType type, double low, double high) {
  KernelSpec spec;
  spec.problem = {{"n", 1000}};
  spec.params = {Param{"B", {1}}};
  ArgumentSpec a;
  a.name = "x";
  a.type = type;
  a.size = "n";
  a.init.kind = Initializer::Kind::Random;
  a.init.seed = seed;
  a.init.low = low;
  a.init.high = high;
  spec.arguments.push_back(a);
  return spec;
}

std::vector<std::byte> random_bytes(std::uint64_t seed, ElementType type, double low, double high) {
  const KernelSpec spec = random_spec(seed, type, low, high);
  const SearchSpace space = spec.space();
  return materialize_arguments(spec, space.at(0))[0].bytes;
}

TEST(MaterializeArguments, RandomIsTheDocumentedMappingOfMt19937_64) {
  const std::vector<double> got =
      as_elements<double>(random_bytes(42, ElementType::Float64, -1.0, 3.0));
  std::mt19937_64 rng(42);  // fully specified by the standard, unlike its distributions
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    ASSERT_EQ(got[i], -1.0 + 4.0 * unit) << i;
  }
}

TEST(MaterializeArguments, RandomIsTheSameForASeedAndDiffersForAnother) {
  const auto a = random_bytes(1, ElementType::Float32, -1.0, 1.0);
  EXPECT_EQ(a, random_bytes(1, ElementType::Float32, -1.0, 1.0));
  const auto b = random_bytes(2, ElementType::Float32, -1.0, 1.0);
  EXPECT_NE(a, b);
  const std::vector<float> values = as_elements<float>(a);
  float lowest = 1, highest = -1;
  for (float v : values) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LT(v, 1.0f);
    lowest = std::min(lowest, v);
    highest = std::max(highest, v);
  }
  // 1000 uniform draws spread over the range.
  EXPECT_LT(lowest, -0.9f);
  EXPECT_GT(highest, 0.9f);
}

TEST(MaterializeArguments, RandomIntegersAreWholeNumbersInLowToHigh) {
  const std::vector<std::int32_t> values =
      as_elements<std::int32_t>(random_bytes(5, ElementType::Int32, -3.0, 4.0));
  std::vector<int> seen(7, 0);
  for (std::int32_t v : values) {
    ASSERT_GE(v, -3);
    ASSERT_LT(v, 4);
    ++seen[static_cast<std::size_t>(v + 3)];
  }
  for (int count : seen) EXPECT_GT(count, 0);  // each of the 7 values in 1000 draws
}

TEST(Npy, Version1RoundTripsThroughAFileInitializer) {
  TempDir dir;
  const std::vector<float> data{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -8.5f};
  write_bytes(
      dir / "a.npy",
      npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", as_bytes(data)));
  KernelSpec spec;
  spec.problem = {{"n", 6}};
  spec.params = {Param{"B", {1}}};
  ArgumentSpec a;
  a.name = "a";
  a.size = "n";
  a.init.kind = Initializer::Kind::File;
  a.init.path = dir / "a.npy";
  spec.arguments.push_back(a);
  const SearchSpace space = spec.space();
  EXPECT_EQ(as_elements<float>(materialize_arguments(spec, space.at(0))[0].bytes), data);

  // The same file for a buffer of another count: named, with both counts.
  spec.problem[0].second = 5;
  const std::string message = error_of([&] { materialize_arguments(spec, space.at(0)); });
  EXPECT_NE(message.find("(2, 3)"), std::string::npos) << message;
  EXPECT_NE(message.find("argument has 5"), std::string::npos) << message;
}

TEST(Npy, Version2HeaderAndOtherTypes) {
  TempDir dir;
  const std::vector<std::int64_t> data{1, -2, 1LL << 40};
  write_bytes(
      dir / "b.npy",
      npy_file(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", as_bytes(data)));
  EXPECT_EQ(
      as_elements<std::int64_t>(detail::read_array_file(dir / "b.npy", ElementType::Int64, 3)),
      data);
  const std::vector<std::uint8_t> small{9, 8, 7, 6};
  write_bytes(dir / "c.npy", npy_file(3, "{'descr': '|u1', 'fortran_order': True, 'shape': (4,), }",
                                      as_bytes(small)));
  EXPECT_EQ(
      as_elements<std::uint8_t>(detail::read_array_file(dir / "c.npy", ElementType::UInt8, 4)),
      small);
  const detail::NpyHeader header = detail::parse_npy_header(
      npy_file(2, "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 1, 2), }", {}));
  EXPECT_EQ(header.major_version, 2);
  EXPECT_EQ(header.descr, "<f8");
  EXPECT_EQ(header.shape, (std::vector<std::uint64_t>{5, 1, 2}));
  EXPECT_EQ(header.element_count(), 10u);
  EXPECT_EQ(header.data_offset % 64, 0u);
}

TEST(Npy, WrongDtypeOrderOrLengthIsExplained) {
  TempDir dir;
  write_bytes(dir / "d.npy",
              npy_file(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
                       as_bytes(std::vector<double>{1, 2})));
  std::string message =
      error_of([&] { detail::read_array_file(dir / "d.npy", ElementType::Float32, 2); });
  EXPECT_NE(message.find("'<f8'"), std::string::npos) << message;
  EXPECT_NE(message.find("float32"), std::string::npos) << message;
  EXPECT_NE(message.find("'<f4'"), std::string::npos) << message;

  write_bytes(dir / "f.npy",
              npy_file(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                       as_bytes(std::vector<float>{1, 2, 3, 4})));
  message = error_of([&] { detail::read_array_file(dir / "f.npy", ElementType::Float32, 4); });
  EXPECT_NE(message.find("Fortran order"), std::string::npos) << message;

  std::vector<std::byte> truncated =
      npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
               as_bytes(std::vector<float>{1, 2, 3, 4}));
  truncated.resize(truncated.size() - 2);
  write_bytes(dir / "t.npy", truncated);
  message = error_of([&] { detail::read_array_file(dir / "t.npy", ElementType::Float32, 4); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;

  std::vector<std::byte> bad_version =
      npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0,), }", {});
  bad_version[6] = std::byte{4};
  write_bytes(dir / "v.npy", bad_version);
  message = error_of([&] { detail::read_array_file(dir / "v.npy", ElementType::Float32, 0); });
  EXPECT_NE(message.find("version 4.0"), std::string::npos) << message;
}

TEST(Npy, RawFilesMustHoldExactlyTheElements) {
  TempDir dir;
  const std::vector<std::uint32_t> data{1, 2, 3};
  write_bytes(dir / "r.bin", as_bytes(data));
  EXPECT_EQ(
      as_elements<std::uint32_t>(detail::read_array_file(dir / "r.bin", ElementType::UInt32, 3)),
      data);
  const std::string message =
      error_of([&] { detail::read_array_file(dir / "r.bin", ElementType::UInt32, 4); });
  EXPECT_NE(message.find("12 bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("16 bytes"), std::string::npos) << message;
  EXPECT_NE(error_of([&] {
              detail::read_array_file(dir / "none.bin", ElementType::UInt32, 3);
            }).find("cannot read"),
            std::string::npos);
}

// One malformed spec per case: the error must name the line and the key, and say what is wrong.
struct Malformed {
  const char* name;
  const char* text;
  int line;
  const char* key;       // the key as the message quotes it; "" for TOML syntax errors
  const char* fragment;  // part of the explanation
};

constexpr const char* kHead = R"([kernel]
source = "k.cpp"
entry = "stencil"
backend = "cpp"
[problem]
m = 8
)";  // 6 lines; the cases' own lines start at 7

const Malformed kMalformed[] = {
    {"UnknownTable", "[kernal]\nx = 1\n", 7, "kernal", "did you mean `kernel`"},
    {"UnknownKeyInArgument",
     "[params]\nB = [1]\n[[arguments]]\nname = \"o\"\ntype = \"float32\"\nsize = \"m\"\n"
     "outptu = true\n",
     13, "arguments.o.outptu", "did you mean `output`"},
    {"EmptyValueList", "[params]\nB = []\n", 8, "params.B", "empty value list"},
    {"DuplicateValue", "[params]\nB = [1, 2, 1]\n", 8, "params.B[2]", "listed twice"},
    {"ParamNamedLikeAProblemSize", "[params]\nm = [1, 2]\n", 8, "params.m", "also a problem size"},
    {"RangeBackwards", "[params]\nB = { range = [8, 1] }\n", 8, "params.B.range", "first <= last"},
    {"WrongParamType", "[params]\nB = { values = 3 }\n", 8, "params.B.values", "got the integer 3"},
    {"SizeNamesUnknownName",
     "[params]\nB = [1]\n[[arguments]]\nname = \"o\"\ntype = \"float32\"\nsize = \"m * q\"\n"
     "output = true\n",
     12, "arguments.o.size", "unknown name 'q'"},
    {"ArgumentWithoutSizeOrValue",
     "[params]\nB = [1]\n[[arguments]]\nname = \"n\"\ntype = \"int32\"\n", 9, "arguments.n",
     "missing `size` or `value`"},
    {"UnknownElementType",
     "[params]\nB = [1]\n[[arguments]]\nname = \"o\"\ntype = \"float\"\nsize = \"m\"\n", 11,
     "arguments.o.type", "expected one of \"float32\", \"float64\""},
    {"DuplicateArgument",
     "[params]\nB = [1]\n[[arguments]]\nname = \"o\"\ntype = \"int32\"\nvalue = 1\n"
     "[[arguments]]\nname = \"o\"\ntype = \"int32\"\nvalue = 2\n",
     14, "arguments[1].name", "already defined at line 9"},
    {"ScalarWithInit",
     "[params]\nB = [1]\n[[arguments]]\nname = \"s\"\ntype = \"int32\"\nvalue = 1\n"
     "init = \"random\"\n",
     13, "arguments.s.init", "only buffers"},
    {"LocalBufferOnCpp",
     "[params]\nB = [1]\n[[arguments]]\nname = \"t\"\ntype = \"float32\"\nsize = 4\n"
     "local = true\n",
     13, "arguments.t.local", "OpenCL's __local"},
    {"NoOutputs", "[params]\nB = [1]\n[[arguments]]\nname = \"t\"\ntype = \"float32\"\nsize = 4\n",
     9, "arguments", "no argument has output = true"},
    {"RestrictionUnknownName", "[params]\nB = [1, 2]\nrestrictions = [\"B < 4\", \"B < C\"]\n", 9,
     "params.restrictions[1]", "unknown name 'C'"},
    {"RestrictionSyntax", "[params]\nB = [1, 2]\nrestrictions = [\"B <\"]\n", 9,
     "params.restrictions[0]", "column"},
    {"LaunchForCpp", "[params]\nB = [1]\n[launch]\nglobal = [\"m\"]\n", 9, "launch",
     "for OpenCL kernels"},
    {"ReferenceLaunchForCpp",
     "[params]\nB = [1]\n[[arguments]]\nname = \"o\"\ntype = \"float32\"\nsize = \"m\"\n"
     "output = true\n[verify]\nreference = { entry = \"r\", global = [\"m\"] }\n",
     15, "verify.reference.global", "for OpenCL reference kernels"},
    {"ObjectiveReadsAParameter", "[params]\nB = [1, 2]\n[objective]\nflops = \"2 * m * B\"\n", 10,
     "objective.flops", "reads parameter `B`"},
    {"AnswerForAnInput",
     "[params]\nB = [1]\n[[arguments]]\nname = \"a\"\ntype = \"float32\"\nsize = \"m\"\n"
     "[[arguments]]\nname = \"o\"\ntype = \"float32\"\nsize = \"m\"\noutput = true\n"
     "[verify]\nanswer = { a = \"k.cpp\" }\n",
     19, "verify.answer.a", "not an output"},
    {"NegativeTolerance",
     "[params]\nB = [1]\n[verify]\nreference = \"none\"\n"
     "tolerance = { rel_l2 = -1 }\n",
     11, "verify.tolerance.rel_l2", ">= 0"},
    {"UnknownStrategy",
     "[params]\nB = [1]\n[verify]\nreference = \"none\"\n[tuning]\n"
     "strategy = \"ensembel\"\n",
     12, "tuning.strategy", "did you mean `ensemble`"},
    {"BadMemoryLimit",
     "[params]\nB = [1]\n[verify]\nreference = \"none\"\n[tuning]\n"
     "memory_limit = \"2 GB of RAM\"\n",
     12, "tuning.memory_limit", "\"512 MiB\""},
    {"TomlSyntax", "[params]\nB = [1, 2\n", 8, "", "TOML syntax error"},
    {"TomlDuplicateParameter", "[params]\nB = [1]\nB = [2]\n", 9, "", "TOML syntax error"},
};

void PrintTo(const Malformed& c, std::ostream* out) { *out << c.name; }

class MalformedSpec : public SpecFixture, public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedSpec, NamesTheLineAndTheKey) {
  const Malformed& c = GetParam();
  const std::string message = error_of([&] { load(std::string(kHead) + c.text); });
  const std::string location = spec_path.string() + ':' + std::to_string(c.line) + ':';
  EXPECT_NE(message.find(location), std::string::npos) << "want " << location << "\n" << message;
  if (*c.key) {
    EXPECT_NE(message.find(std::string("key `") + c.key + '`'), std::string::npos) << message;
  }
  EXPECT_NE(message.find(c.fragment), std::string::npos) << message;
}

INSTANTIATE_TEST_SUITE_P(Specs, MalformedSpec, ::testing::ValuesIn(kMalformed),
                         [](const auto& info) { return std::string(info.param.name); });

// Errors about the [kernel] table, which kHead cannot carry.
TEST_F(SpecFixture, KernelTableErrors) {
  std::string message = error_of([&] {
    load("[kernel]\nsource = \"k.cl\"\nentry = \"e\"\nbackend = \"cuda\"\n[params]\nB = [1]\n");
  });
  EXPECT_NE(message.find(":4: key `kernel.backend`: expected \"cpp\" or \"opencl\""),
            std::string::npos)
      << message;

  message = error_of([&] { load("[kernel]\nsource = \"k.cl\"\nbackend = \"opencl\"\n"); });
  EXPECT_NE(message.find(":1: key `kernel.entry`: missing"), std::string::npos) << message;

  message = error_of([&] {
    load(
        "[kernel]\nsource = \"gone.cl\"\nentry = \"e\"\nbackend = \"opencl\"\n[params]\nB = [1]\n");
  });
  EXPECT_NE(message.find(":2: key `kernel.source`: source file \"gone.cl\" not found"),
            std::string::npos)
      << message;

  // OpenCL without [launch]: reported at the backend line.
  message = error_of([&] {
    load(
        "[kernel]\nsource = \"k.cl\"\nentry = \"e\"\nbackend = \"opencl\"\n[params]\nB = [1]\n"
        "[verify]\nreference = \"none\"\n");
  });
  EXPECT_NE(message.find(":4: key `launch`: missing"), std::string::npos) << message;

  message = error_of([&] { load_spec(dir / "absent.toml"); });
  EXPECT_NE(message.find("absent.toml not found"), std::string::npos) << message;
}

TEST(CompareOutput, IntegersCompareExactly) {
  const std::vector<std::int32_t> expected{1, 2, 3, 4};
  std::vector<std::int32_t> got = expected;
  const Tolerance loose{1e9, 1e9};
  VerifyResult r = compare_output(ElementType::Int32, as_bytes(got), as_bytes(expected), loose);
  EXPECT_TRUE(r.ok) << r.message;
  got[2] = 4;
  r = compare_output(ElementType::Int32, as_bytes(got), as_bytes(expected), loose);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_index, 2u);
  EXPECT_EQ(r.max_abs_error, 1.0);
  EXPECT_NE(r.message.find("element 2: got 4, expected 3"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("1 of 4"), std::string::npos) << r.message;

  const std::vector<std::uint8_t> a{0, 255}, b{0, 254};
  EXPECT_FALSE(compare_output(ElementType::UInt8, as_bytes(a), as_bytes(b), loose).ok);
  EXPECT_NE(
      error_of([&] { compare_output(ElementType::Int32, as_bytes(got), as_bytes(a), loose); }),
      "(no error)");
}

TEST(CompareOutput, FloatsCompareWithinTolerance) {
  const std::vector<float> expected{1.0f, 2.0f, 3.0f, 4.0f};
  std::vector<float> got{1.0f, 2.0f, 3.001f, 4.0f};
  const Tolerance tight{1e-6, 1e-6}, loose{1e-3, 1e-2};
  EXPECT_FALSE(compare_output(ElementType::Float32, as_bytes(got), as_bytes(expected), tight).ok);
  const VerifyResult r =
      compare_output(ElementType::Float32, as_bytes(got), as_bytes(expected), loose);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_NEAR(r.max_abs_error, 0.001, 1e-6);

  std::vector<double> d_expected{0.5, 0.25}, d_got{0.5, std::nan("")};
  const VerifyResult n =
      compare_output(ElementType::Float64, as_bytes(d_got), as_bytes(d_expected), loose);
  EXPECT_FALSE(n.ok);
  EXPECT_EQ(n.nan_count, 1u);
  EXPECT_EQ(n.first_bad_index, 1u);
}

TEST(PoisonOutput, FloatsBecomeNanAndIntegersAPattern) {
  std::vector<float> f{1.0f, 2.0f};
  std::vector<std::byte> fb = as_bytes(f);
  poison_output(ElementType::Float32, fb);
  for (float v : as_elements<float>(fb)) EXPECT_TRUE(std::isnan(v));
  std::vector<std::byte> ib = as_bytes(std::vector<std::int32_t>{0, 0, 0});
  poison_output(ElementType::Int32, ib);
  for (std::byte b : ib) EXPECT_EQ(b, std::byte{0xA5});
  std::vector<std::byte> db = as_bytes(std::vector<double>{3.0});
  poison_output(ElementType::Float64, db);
  EXPECT_TRUE(std::isnan(as_elements<double>(db)[0]));
}

TEST(ElementTypes, NamesSizesAndSpellings) {
  EXPECT_EQ(element_type_from_string("uint32"), ElementType::UInt32);
  EXPECT_EQ(element_type_from_string("float"), std::nullopt);
  EXPECT_EQ(size_of(ElementType::Int64), 8u);
  EXPECT_EQ(size_of(ElementType::UInt8), 1u);
  EXPECT_EQ(opencl_type_name(ElementType::Int64), "long");
  EXPECT_EQ(opencl_type_name(ElementType::UInt8), "uchar");
  EXPECT_EQ(cpp_type_name(ElementType::Int32), "int32_t");
  EXPECT_EQ(to_string(ElementType::Float64), "float64");
}

TEST(EvaluateSpecExpression, ReadsProblemSizesThenParameters) {
  const KernelSpec spec = argument_spec(10, 3);
  const SearchSpace space = spec.space();
  EXPECT_EQ(evaluate_spec_expression(spec, "(m + B - 1) // B", space.at(0), {}), Value(3));
  const std::string message = error_of([&] {
    evaluate_spec_expression(spec, "m // 0 + z", space.at(0),
                             SpecLocation{"x.toml", 4, "launch.global[0]"});
  });
  EXPECT_NE(message.find("x.toml:4: key `launch.global[0]`"), std::string::npos) << message;
}

}  // namespace
}  // namespace attune
