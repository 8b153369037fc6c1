#pragma once
/// \file
/// The space a tuner searches: parameters with ordered value lists, constraints that rule
/// combinations out, and the valid configurations, enumerated once and stored compactly.
///
/// Enumeration is constraint-aware: a constraint is checked as soon as every parameter it reads is
/// bound, so whole sub-trees of the Cartesian product are skipped and the product is never
/// materialized. Valid configurations are kept in Kernel Tuner's order (lexicographic over value
/// positions, parameters in declaration order), so index i here is configuration i of a Kernel
/// Tuner brute-force run over the same space.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attune/expression.hpp"
#include "attune/value.hpp"

namespace attune {

/// A tunable parameter. The order of `values` is meaningful: it defines Kernel Tuner's ordering
/// and which values are adjacent.
struct Param {
  std::string name;
  std::vector<Value> values;
};

/// A rule a valid configuration must satisfy: a Kernel Tuner restriction string (see
/// expression.hpp for the syntax), or a C++ predicate over named parameters.
class Constraint {
 public:
  /// A restriction expression such as "block_size_x * block_size_y <= 1024". Implicit so that a
  /// list of constraints reads like Kernel Tuner's `restrictions` list.
  Constraint(std::string expression);  // NOLINT(google-explicit-constructor)
  Constraint(const char* expression);  // NOLINT(google-explicit-constructor)

  /// A C++ predicate. `fn` receives the values of `params_used`, in that order, and must be a
  /// pure function of them (enumeration may call it in any order, any number of times). `id`
  /// stands for the predicate in the space's signature: change it when the predicate's meaning
  /// changes. Throws Error(InvalidArgument) for an empty id, an empty `params_used` or a null fn.
  static Constraint predicate(std::vector<std::string> params_used,
                              std::function<bool(std::span<const Value>)> fn, std::string id);

  bool is_predicate() const noexcept { return static_cast<bool>(fn_); }
  /// The expression text, or the predicate's id.
  const std::string& text() const noexcept { return text_; }
  /// The parameter names a predicate reads; empty for an expression.
  const std::vector<std::string>& predicate_params() const noexcept { return params_; }
  const std::function<bool(std::span<const Value>)>& predicate_fn() const noexcept { return fn_; }

 private:
  Constraint() = default;
  std::string text_;
  std::vector<std::string> params_;
  std::function<bool(std::span<const Value>)> fn_;
};

enum class Neighbourhood {
  Hamming,   ///< valid configurations that differ in exactly one parameter, by any value
  Adjacent,  ///< valid configurations that differ in exactly one parameter, by one list position
};

class SearchSpace;

/// A point of a SearchSpace: one value position per parameter. It refers to its space by pointer:
/// it is valid while that space lives and is not moved. A Config need not satisfy the
/// constraints (SearchSpace::index_of tells whether it does).
class Config {
 public:
  /// Assumes `indices` has one in-range position per parameter of `space`; use
  /// SearchSpace::at or SearchSpace::config_from_json to get a checked one.
  Config(const SearchSpace* space, std::vector<std::uint32_t> indices)
      : space_(space), indices_(std::move(indices)) {}

  const SearchSpace& space() const noexcept { return *space_; }
  /// Value positions, one per parameter in declaration order.
  std::span<const std::uint32_t> indices() const noexcept { return indices_; }

  /// The value of parameter `param` (declaration position). Throws Error(InvalidArgument) when
  /// out of range.
  const Value& value(std::size_t param) const;
  /// The value of the named parameter. Throws Error(UnknownName) listing the parameters.
  const Value& operator[](std::string_view name) const;
  /// Shorthands for operator[](name).as_int() / as_double() / as_string(); they throw as those do.
  std::int64_t int_of(std::string_view name) const;
  double double_of(std::string_view name) const;
  const std::string& string_of(std::string_view name) const;

  /// Kernel Tuner's cache key: the values' Python str() joined by ',', e.g. "16,1,4,True".
  std::string key() const;
  /// For people: "name=value name=value ...". Parameters with a single value say nothing about
  /// the configuration and are left out when `skip_fixed` is set.
  std::string describe(bool skip_fixed = false) const;
  /// {name: value, ...} with the names in declaration order (hence ordered_json).
  nlohmann::ordered_json to_json() const;

  /// Same space object and same value positions.
  friend bool operator==(const Config& a, const Config& b) noexcept {
    return a.space_ == b.space_ && a.indices_ == b.indices_;
  }

 private:
  const SearchSpace* space_;
  std::vector<std::uint32_t> indices_;
};

class SearchSpace {
 public:
  /// Enumerates the valid configurations. Throws Error(InvalidArgument) for no parameters, a
  /// duplicate name, an empty value list, duplicate values in one list, or a Cartesian product
  /// that does not fit in 64 bits; Error(ParseError) or Error(UnknownName) for a constraint that
  /// does not parse or names an unknown parameter. A space in which nothing is valid is allowed
  /// (size() == 0). Type errors inside a constraint (comparing a string with a number) throw
  /// Error(InvalidArgument) while enumerating.
  SearchSpace(std::vector<Param> params, std::vector<Constraint> constraints = {});

  /// A space whose valid configurations are listed instead of described by constraints, such as
  /// the configurations a recorded space holds. Each entry of `valid` has one value position per
  /// parameter; duplicates count once and the order does not matter (indices follow Kernel
  /// Tuner's order as for any space). `id` identifies the list in signature() (a file name and
  /// content hash, say). Throws Error(InvalidArgument) as the constructor does for bad
  /// parameters, and for an entry of the wrong length or with a position out of range.
  static SearchSpace from_configurations(std::vector<Param> params,
                                         std::span<const std::vector<std::uint32_t>> valid,
                                         std::string_view id);

  /// Number of valid configurations.
  std::size_t size() const noexcept { return codes_.size(); }
  const std::vector<Param>& params() const noexcept { return params_; }
  const std::vector<Constraint>& constraints() const noexcept { return constraints_; }
  /// Declaration position of the named parameter. Throws Error(UnknownName) listing the names.
  std::size_t param_index(std::string_view name) const;
  /// Product of the value-list sizes (valid or not).
  std::uint64_t cartesian_size() const noexcept { return cartesian_size_; }

  /// The i-th valid configuration in Kernel Tuner order. Throws Error(InvalidArgument) when
  /// i >= size().
  Config at(std::size_t i) const;
  /// Position of `config` among the valid configurations; nullopt when it violates a constraint.
  /// Throws Error(InvalidArgument) when `config` belongs to another SearchSpace object.
  std::optional<std::size_t> index_of(const Config& config) const;
  /// Position of the configuration whose Kernel Tuner key is `kt_key` ("v1,v2,..."); nullopt
  /// when the key has the wrong arity, names a value not in a list, or is not valid.
  std::optional<std::size_t> index_of_key(std::string_view kt_key) const;

  /// Indices of the valid neighbours of configuration i, ascending. Throws for i >= size().
  std::vector<std::size_t> neighbours(std::size_t i, Neighbourhood kind) const;

  /// min(n, size()) distinct indices drawn uniformly without replacement, in the order drawn.
  /// Deterministic for a given rng state on every platform (no std distributions).
  std::vector<std::size_t> sample(std::mt19937_64& rng, std::size_t n) const;

  /// XXH3-64 over a domain tag, the parameter names and value strings, and the constraint texts
  /// (predicate ids) in order. Equal for spaces built from equal definitions; any change to a
  /// name, a value, the order, or a constraint's text changes it.
  std::uint64_t signature() const noexcept { return signature_; }

  /// A configuration from {name: value, ...}. Every parameter must be present and each value
  /// must be in its list (numbers compare as in Python, so 1 matches 1.0). Throws
  /// Error(UnknownName) for a name that is not a parameter, Error(InvalidArgument) for a missing
  /// parameter, a value not in the list, or a non-object. The result need not be valid.
  /// (An nlohmann::ordered_json, such as Config::to_json() returns, converts implicitly.)
  Config config_from_json(const nlohmann::json& object) const;

 private:
  struct Listed {};
  SearchSpace(Listed, std::vector<Param> params);
  void check_params();
  std::uint64_t encode(std::span<const std::uint32_t> indices) const noexcept;
  std::vector<std::uint32_t> decode(std::uint64_t code) const;
  std::optional<std::size_t> find_code(std::uint64_t code) const noexcept;
  void enumerate();
  void compute_signature();

  std::vector<Param> params_;
  std::vector<Constraint> constraints_;
  std::vector<std::uint64_t> strides_;  // mixed radix, last parameter varies fastest
  std::uint64_t cartesian_size_ = 1;
  std::vector<std::uint64_t> codes_;                     // valid configurations, ascending
  std::vector<std::vector<std::string>> value_strings_;  // Value::to_string per value
  std::uint64_t signature_ = 0;
};

}  // namespace attune
