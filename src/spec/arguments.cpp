// A spec's arguments made concrete for one configuration: sizes and scalar values evaluated, and
// buffers filled from their initializers with bytes that depend only on the initializer and the
// size, so every process (a replaced worker included) builds identical inputs. Also the
// element-type-aware comparison and poisoning of outputs that the backends share.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>

#include "attune/error.hpp"
#include "attune/expression.hpp"
#include "attune/kernel_spec.hpp"
#include "npy.hpp"

namespace attune {
namespace {

static_assert(std::endian::native == std::endian::little,
              "spec buffers are little-endian, as .npy files and OpenCL devices here are");

// Stores `v` as one element of an integer type at `out`, wrapped to the type's width.
void store_integer(ElementType type, std::int64_t v, std::byte* out) noexcept {
  const auto put = [out](auto x) { std::memcpy(out, &x, sizeof x); };
  switch (type) {
    case ElementType::Int32: put(static_cast<std::int32_t>(static_cast<std::uint32_t>(v))); break;
    case ElementType::Int64: put(v); break;
    case ElementType::UInt8: put(static_cast<std::uint8_t>(v)); break;
    case ElementType::UInt32: put(static_cast<std::uint32_t>(v)); break;
    case ElementType::Float32: put(static_cast<float>(v)); break;
    case ElementType::Float64: put(static_cast<double>(v)); break;
  }
}

// Stores `v` as one element of `type` at `out`. Integer types take the value rounded down and
// wrapped to the type's width (as numpy's astype does), so a range initializer over a uint8 buffer
// cycles through 0..255 instead of failing.
void store(ElementType type, double v, std::byte* out) noexcept {
  if (type == ElementType::Float32) {
    const auto f = static_cast<float>(v);
    std::memcpy(out, &f, sizeof f);
    return;
  }
  if (type == ElementType::Float64) {
    std::memcpy(out, &v, sizeof v);
    return;
  }
  const double f = std::floor(v);
  // NaN, infinities and values beyond int64 have no integer to wrap; they store 0.
  store_integer(type, std::abs(f) < 9.2e18 ? static_cast<std::int64_t>(f) : 0, out);
}

double load(ElementType type, const std::byte* in) noexcept {
  const auto get = [in](auto x) {
    std::memcpy(&x, in, sizeof x);
    return static_cast<double>(x);
  };
  switch (type) {
    case ElementType::Float32: return get(float{});
    case ElementType::Float64: return get(double{});
    case ElementType::Int32: return get(std::int32_t{});
    case ElementType::Int64: return get(std::int64_t{});
    case ElementType::UInt8: return get(std::uint8_t{});
    case ElementType::UInt32: return get(std::uint32_t{});
  }
  return 0.0;
}

bool is_float(ElementType type) noexcept {
  return type == ElementType::Float32 || type == ElementType::Float64;
}

// Uniform in [low, high): the top 53 bits of each mt19937_64 draw as a double in [0, 1), scaled.
// Written out rather than using std::uniform_real_distribution, whose output differs between
// standard libraries, so a seed gives the same bytes with any compiler. A float32 that rounds up
// to `high` is stepped back below it; integer types round down, giving [low, high) too.
void fill_random(const Initializer& init, ElementType type, std::size_t count, std::byte* out) {
  std::mt19937_64 rng(init.seed);
  const std::size_t width = size_of(type);
  const double span = init.high - init.low;
  for (std::size_t i = 0; i < count; ++i) {
    const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
    double v = init.low + span * unit;
    if (type == ElementType::Float32) {
      auto f = static_cast<float>(v);
      if (f >= static_cast<float>(init.high) && init.high > init.low) {
        f = std::nextafter(static_cast<float>(init.high), static_cast<float>(init.low));
      }
      std::memcpy(out + i * width, &f, sizeof f);
      continue;
    }
    if (v >= init.high && init.high > init.low) v = std::nextafter(init.high, init.low);
    store(type, v, out + i * width);
  }
}

std::vector<std::byte> initial_bytes(const ArgumentSpec& arg, std::size_t count) {
  const Initializer& init = arg.init;
  const std::size_t width = size_of(arg.type);
  if (init.kind == Initializer::Kind::File) {
    return detail::read_array_file(init.path, arg.type, count);
  }
  std::vector<std::byte> bytes(count * width);
  switch (init.kind) {
    case Initializer::Kind::Random: fill_random(init, arg.type, count, bytes.data()); break;
    case Initializer::Kind::Constant:
      for (std::size_t i = 0; i < count; ++i) store(arg.type, init.value, &bytes[i * width]);
      break;
    case Initializer::Kind::Range:
      for (std::size_t i = 0; i < count; ++i) {
        store(arg.type, init.start + static_cast<double>(i) * init.step, &bytes[i * width]);
      }
      break;
    case Initializer::Kind::Zero:
    case Initializer::Kind::File: break;
  }
  return bytes;
}

std::size_t evaluate_size(const KernelSpec& spec, const ArgumentSpec& arg, const Config& config) {
  SpecLocation where = arg.where;
  if (where.key.empty()) where.key = "arguments." + arg.name + ".size";
  const Value v = evaluate_spec_expression(spec, arg.size, config, where);
  if (!v.is_int() || v.as_int() < 0) {
    throw Error(ErrorCode::InvalidArgument,
                where.describe() + ": the size `" + arg.size + "` of argument `" + arg.name +
                    "` is " + v.to_string() + " for " + config.describe() +
                    "; a size must be a whole number >= 0 (use // for integer division)");
  }
  return static_cast<std::size_t>(v.as_int());
}

std::vector<std::byte> scalar_bytes(const KernelSpec& spec, const ArgumentSpec& arg,
                                    const Config& config) {
  SpecLocation where = arg.where;
  if (where.key.empty()) where.key = "arguments." + arg.name + ".value";
  const Value v = evaluate_spec_expression(spec, arg.value, config, where);
  if (v.is_string()) {
    throw Error(ErrorCode::InvalidArgument, where.describe() + ": the value `" + arg.value +
                                                "` of scalar `" + arg.name + "` is the string '" +
                                                v.as_string() + "'; a scalar must be a number");
  }
  std::vector<std::byte> bytes(size_of(arg.type));
  if (is_float(arg.type)) {
    store(arg.type, v.as_double(), bytes.data());
    return bytes;
  }
  if (!v.is_int() && !v.is_bool()) {
    throw Error(ErrorCode::InvalidArgument,
                where.describe() + ": the value `" + arg.value + "` of " +
                    std::string(to_string(arg.type)) + " scalar `" + arg.name + "` is " +
                    v.to_string() + " for " + config.describe() +
                    ", not a whole number (use // for integer division)");
  }
  const std::int64_t i = v.as_int();
  const auto [low, high] = [&]() -> std::pair<std::int64_t, std::int64_t> {
    switch (arg.type) {
      case ElementType::Int32: return {INT32_MIN, INT32_MAX};
      case ElementType::UInt8: return {0, UINT8_MAX};
      case ElementType::UInt32: return {0, UINT32_MAX};
      default: return {INT64_MIN, INT64_MAX};
    }
  }();
  if (i < low || i > high) {
    throw Error(ErrorCode::InvalidArgument,
                where.describe() + ": the value " + std::to_string(i) + " of scalar `" + arg.name +
                    "` does not fit its type " + std::string(to_string(arg.type)));
  }
  store_integer(arg.type, i, bytes.data());
  return bytes;
}

template <typename T>
std::vector<T> elements_of(std::span<const std::byte> bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

// Integers compare exactly; the errors are still reported as the float comparison reports them.
VerifyResult compare_integers(ElementType type, std::span<const std::byte> got,
                              std::span<const std::byte> expected) {
  const std::size_t width = size_of(type);
  const std::size_t n = got.size() / width;
  VerifyResult r;
  std::size_t mismatches = 0;
  double error_sq = 0.0, expected_sq = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double g = load(type, &got[i * width]);
    const double e = load(type, &expected[i * width]);
    expected_sq += e * e;
    if (std::memcmp(&got[i * width], &expected[i * width], width) == 0) continue;
    ++mismatches;
    if (r.first_bad_index == VerifyResult::kNoIndex) r.first_bad_index = i;
    r.max_abs_error = std::max(r.max_abs_error, std::abs(g - e));
    error_sq += (g - e) * (g - e);
  }
  r.rel_l2_error =
      std::sqrt(error_sq) / std::max(std::sqrt(expected_sq), std::numeric_limits<double>::min());
  r.ok = mismatches == 0;
  if (!r.ok) {
    const std::size_t i = r.first_bad_index;
    std::ostringstream out;
    out << "element " << i << ": got " << load(type, &got[i * width]) << ", expected "
        << load(type, &expected[i * width]) << "; " << mismatches << " of " << n << " "
        << to_string(type) << " elements differ (integers must match exactly); max abs error "
        << r.max_abs_error;
    r.message = out.str();
  }
  return r;
}

}  // namespace

Value evaluate_spec_expression(const KernelSpec& spec, const std::string& expression,
                               const Config& config, const SpecLocation& where) {
  std::vector<std::string> names;
  std::vector<Value> values;
  for (const auto& [name, value] : spec.problem) {
    names.push_back(name);
    values.emplace_back(value);
  }
  const std::vector<Param>& params = config.space().params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    names.push_back(params[i].name);
    values.push_back(config.value(i));
  }
  try {
    return Expression::parse(expression, names).evaluate(values);
  } catch (const Error& e) {
    const std::string prefix = where.describe();
    throw Error(e.code(), prefix.empty() ? std::string(e.what()) : prefix + ": " + e.what());
  }
}

std::vector<HostArgument> materialize_arguments(const KernelSpec& spec, const Config& config) {
  std::vector<HostArgument> out;
  out.reserve(spec.arguments.size());
  for (const ArgumentSpec& arg : spec.arguments) {
    HostArgument host;
    host.spec = &arg;
    if (arg.kind == ArgumentSpec::Kind::Scalar) {
      host.bytes = scalar_bytes(spec, arg, config);
      host.count = 1;
    } else {
      host.count = evaluate_size(spec, arg, config);
      if (!arg.local) {
        try {
          host.bytes = initial_bytes(arg, host.count);
        } catch (const Error& e) {
          throw Error(e.code(), (arg.where.describe().empty() ? "" : arg.where.describe() + ": ") +
                                    "argument `" + arg.name + "`: " + e.what());
        }
      }
    }
    out.push_back(std::move(host));
  }
  return out;
}

VerifyResult compare_output(ElementType type, std::span<const std::byte> got,
                            std::span<const std::byte> expected, Tolerance tolerance) {
  const std::size_t width = size_of(type);
  if (got.size() != expected.size() || got.size() % width != 0) {
    throw Error(ErrorCode::InvalidArgument,
                "compare_output: the output has " + std::to_string(got.size()) +
                    " bytes and the reference " + std::to_string(expected.size()) +
                    "; both must be the same whole number of " + std::string(to_string(type)) +
                    " elements");
  }
  if (type == ElementType::Float32 || type == ElementType::Float64) {
    std::vector<double> reference(got.size() / width);
    for (std::size_t i = 0; i < reference.size(); ++i) {
      reference[i] = load(type, &expected[i * width]);
    }
    if (type == ElementType::Float32) return compare(elements_of<float>(got), reference, tolerance);
    return compare(elements_of<double>(got), reference, tolerance);
  }
  return compare_integers(type, got, expected);
}

VerifyResult compare_outputs(std::span<const OutputComparison> outputs, Tolerance tolerance) {
  VerifyResult worst;
  worst.ok = true;
  for (const OutputComparison& output : outputs) {
    const std::string& name = output.spec->name;
    if (output.got.size() != output.expected.size()) {
      VerifyResult bad;
      bad.message = "output `" + name + "` has " + std::to_string(output.got.size()) +
                    " bytes and its reference " + std::to_string(output.expected.size());
      return bad;
    }
    VerifyResult r = compare_output(output.spec->type, output.got, output.expected, tolerance);
    if (!r.ok) {
      r.message = "output `" + name + "`: " + r.message;
      return r;
    }
    worst.rel_l2_error = std::max(worst.rel_l2_error, r.rel_l2_error);
    worst.max_abs_error = std::max(worst.max_abs_error, r.max_abs_error);
  }
  return worst;
}

void poison_output(ElementType type, std::span<std::byte> bytes) noexcept {
  const std::size_t width = size_of(type);
  const std::size_t n = is_float(type) ? bytes.size() / width : 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (type == ElementType::Float32) {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(&bytes[i * width], &nan, sizeof nan);
    } else {
      const double nan = std::numeric_limits<double>::quiet_NaN();
      std::memcpy(&bytes[i * width], &nan, sizeof nan);
    }
  }
  // Integers, and any bytes after the last whole float element.
  for (std::size_t i = n * width; i < bytes.size(); ++i) bytes[i] = std::byte{0xA5};
}

}  // namespace attune
