#pragma once
/// \file
/// A user's kernel, described completely enough to compile, run, verify and tune it: what a spec
/// file (`attune tune my_kernel.toml`) holds once it is parsed, and what the run-time-compiled
/// backends (C++ JIT, OpenCL) consume. The TOML format itself is documented in docs/spec-files.md;
/// this header is the in-memory form, which C++ callers may also fill in directly.
///
/// Sizes, scalar values and launch geometry are expressions in the core's restriction syntax
/// (expression.hpp) over the problem sizes and the tunable parameters, so `m * k + pad` or
/// `(n + block_x - 1) // block_x * block_x` mean what they mean in Python.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attune/problem.hpp"
#include "attune/search_space.hpp"
#include "attune/value.hpp"
#include "attune/verifier.hpp"

namespace attune {

/// Where something was written in a spec file, for error messages ("gemm.toml:12: key
/// `arguments.a.size`: ..."). line is 0 when the value did not come from a file.
struct SpecLocation {
  std::filesystem::path file;
  int line = 0;
  std::string key;  ///< dotted path of the key, e.g. "arguments.a.size"
  /// "file:line: key `k`" (or just "key `k`" without a file), the prefix of every spec error.
  std::string describe() const;
};

/// Element types of buffers and scalars, named as in the spec: "float32", "float64", "int32",
/// "int64", "uint8", "uint32".
enum class ElementType { Float32, Float64, Int32, Int64, UInt8, UInt32 };
std::string_view to_string(ElementType type) noexcept;
std::optional<ElementType> element_type_from_string(std::string_view name) noexcept;
std::size_t size_of(ElementType type) noexcept;
/// The C/C++ and OpenCL C spelling: "float", "double", "int", "long", "uchar"/"uint8_t", ...
std::string_view cpp_type_name(ElementType type) noexcept;
std::string_view opencl_type_name(ElementType type) noexcept;

/// How a buffer's elements are set before every run of a configuration. Deterministic: the same
/// initializer and size give the same bytes in every process, so a worker process that is
/// replaced rebuilds exactly the inputs its predecessor had.
struct Initializer {
  enum class Kind {
    Random,    ///< uniform in [low, high) from `seed` (integers: [low, high) rounded down)
    Constant,  ///< every element `value`
    Range,     ///< element i is start + i * step
    File,      ///< read from `path`: a .npy file (dtype and element count checked) or raw bytes
    Zero,      ///< all zero; the default for outputs
  };
  Kind kind = Kind::Zero;
  std::uint64_t seed = 0;
  double low = 0.0, high = 1.0;    // Random
  double value = 0.0;              // Constant
  double start = 0.0, step = 1.0;  // Range
  std::filesystem::path path;      // File, resolved against the spec's directory
};

/// One argument of the kernel, in the order of the kernel's parameter list.
struct ArgumentSpec {
  enum class Kind { Buffer, Scalar };
  std::string name;
  Kind kind = Kind::Buffer;
  ElementType type = ElementType::Float32;
  /// Buffer: element count, an expression over problem sizes and parameters.
  std::string size;
  Initializer init;
  /// Buffer: written by the kernel and compared with the reference. Outputs are poisoned with NaN
  /// before the verification run (float types) or filled with a pattern (integer types).
  bool output = false;
  /// OpenCL only: a `__local` buffer of `size` elements allocated by the launch, no host data.
  bool local = false;
  /// Scalar: its value, an expression over problem sizes and parameters.
  std::string value;
  SpecLocation where;
};

/// OpenCL (later CUDA) launch geometry: one expression per dimension (1 to 3), over problem sizes
/// and parameters. `global` counts work-items, as clEnqueueNDRangeKernel does; `local` is the
/// work-group size, or empty to let the runtime choose.
struct LaunchSpec {
  std::vector<std::string> global;
  std::vector<std::string> local;
  SpecLocation where;
};

/// How a configuration's outputs are checked before it is timed.
struct VerifySpec {
  enum class Kind {
    Reference,   ///< a reference kernel, run once on the same inputs
    Answer,      ///< stored answers: one file per output argument
    FirstValid,  ///< the first configuration that runs is the reference (the default)
    None,        ///< not checked (the run says so)
  };
  Kind kind = Kind::FirstValid;
  /// Reference: its source (empty: the kernel's own source) and entry point. It is compiled with
  /// the same flags and the default configuration's -D values, so a source that reads the tunable
  /// macros still compiles.
  std::filesystem::path reference_source;
  std::string reference_entry;
  /// OpenCL: the reference kernel's launch geometry; empty global: the tuned kernel's geometry at
  /// the default configuration.
  LaunchSpec reference_launch;
  /// Answer: output argument name -> file (.npy or raw), resolved against the spec's directory.
  std::vector<std::pair<std::string, std::filesystem::path>> answers;
  Tolerance tolerance{1e-5, 1e-3};
  SpecLocation where;
};

/// What the tuner reports. The search always minimizes time; a throughput objective is computed
/// from the time and a work expression over the problem sizes (and parameters with a single
/// value) only, so it ranks configurations exactly as time does.
struct ObjectiveSpec {
  enum class Kind { Time, GFlops, GBytes };
  Kind kind = Kind::Time;
  /// GFlops: floating-point operations per call; GBytes: bytes moved per call.
  std::string work;
  SpecLocation where;
};

/// Tuning defaults a spec may set; the command line overrides them.
struct TuningSettings {
  std::string strategy;  ///< empty: attune's default strategy
  std::optional<std::size_t> budget;
  std::optional<double> seconds;
  std::uint64_t seed = 0;
  /// Per-call timeout of a configuration.
  double timeout_s = 10.0;
};

struct KernelSpec {
  std::filesystem::path path;  ///< the spec file; relative paths inside it resolve against its dir
  std::string name;            ///< kernel name, part of the kernel id in the tuning database
  std::string backend;         ///< "cpp" or "opencl"
  std::filesystem::path source;  ///< kernel source file (absolute after loading)
  std::string entry;             ///< entry point: C++ function or OpenCL kernel name

  /// cpp: the compiler command (default "c++") and flags (default {"-O3", "-march=native"});
  /// opencl: extra build options. Both get one "-DNAME=value" per parameter.
  std::string compiler = "c++";
  std::vector<std::string> flags;

  std::vector<Param> params;
  /// Restriction expressions over the parameters; they may also read problem sizes
  /// ("MWG <= m"), which are constants of the space.
  std::vector<std::string> restrictions;
  /// Where each restriction was written, parallel to `restrictions` (empty when filled in by C++).
  std::vector<SpecLocation> restriction_locations;
  /// Named problem sizes, in the order written.
  std::vector<std::pair<std::string, std::int64_t>> problem;
  std::vector<ArgumentSpec> arguments;
  LaunchSpec launch;
  VerifySpec verify;
  ObjectiveSpec objective;
  TuningSettings tuning;
  /// cpp: address-space limit of the worker process that runs the kernel, in bytes (0: none).
  std::size_t memory_limit_bytes = 0;

  /// The search space of the parameters under the restrictions. Throws Error(ParseError) with the
  /// restriction's location for a restriction that does not parse.
  SearchSpace space() const;
  /// The problem key ("m=1024,n=1024;spec") used by the tuning database.
  Problem problem_key() const;
  /// "-DNAME=value" for every parameter of `config`, in declaration order. String values are
  /// passed as they are (the kernel sees the token); booleans as 1 and 0, so `#if NAME` works.
  std::vector<std::string> defines(const Config& config) const;
  /// A stable id for the tuning database: name, backend, and a hash of the source text, entry
  /// and flags, so an edited kernel never reuses stale measurements.
  std::string kernel_id() const;
  /// Work per call from the objective's expression (flops or bytes); nullopt for Kind::Time.
  std::optional<double> work_per_call() const;
};

/// Reads and checks a spec file (format: docs/spec-files.md): every key known, every value of the
/// expected type, every expression parsed against the names it may read, every file it names
/// present. Throws Error(ParseError, InvalidArgument, UnknownName or NotFound) whose message
/// begins with SpecLocation::describe() (a TOML syntax error: "file:line:column") and says what
/// was expected.
KernelSpec load_spec(const std::filesystem::path& file);

/// Problem sizes overridden from the command line ("m=2048"): replaces the value of a known size;
/// an unknown name throws Error(UnknownName) listing the sizes.
void set_problem_size(KernelSpec& spec, const std::string& name, std::int64_t value);

/// The arguments of one configuration, materialized on the host: buffers with their initial
/// bytes and scalars with their value, in argument order.
struct HostArgument {
  const ArgumentSpec* spec = nullptr;
  /// Buffer: the initial contents (for a local buffer: empty, with `count` elements to allocate).
  /// Scalar: exactly size_of(type) bytes.
  std::vector<std::byte> bytes;
  std::size_t count = 0;  ///< elements
};

/// Evaluates sizes and values for `config` and fills every buffer from its initializer. Throws
/// Error(InvalidArgument) naming the argument's location for a negative or non-integer size, a
/// file whose dtype or size does not match, or an expression that fails.
std::vector<HostArgument> materialize_arguments(const KernelSpec& spec, const Config& config);

/// Evaluates an expression of the spec (a size, a launch dimension) for `config`: the names are
/// the problem sizes and the parameters. Throws Error naming `where`.
Value evaluate_spec_expression(const KernelSpec& spec, const std::string& expression,
                               const Config& config, const SpecLocation& where);

/// Compares an output buffer with the reference, element type aware (floats by tolerance,
/// integers exactly).
VerifyResult compare_output(ElementType type, std::span<const std::byte> got,
                            std::span<const std::byte> expected, Tolerance tolerance);
/// One output of a verification run beside its reference.
struct OutputComparison {
  const ArgumentSpec* spec = nullptr;
  std::span<const std::byte> got;
  std::span<const std::byte> expected;
};
/// Compares every output as compare_output() does. The first that fails is the result, its
/// message naming the output ("output `c`: ..."), as is one whose size differs from its
/// reference's; otherwise ok, with the largest errors over all outputs.
VerifyResult compare_outputs(std::span<const OutputComparison> outputs, Tolerance tolerance);
/// Poisons an output before a verification run: NaN for floats, 0xA5 bytes for integers.
void poison_output(ElementType type, std::span<std::byte> bytes) noexcept;

}  // namespace attune
