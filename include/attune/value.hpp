#pragma once
/// \file
/// A tunable parameter's value: an integer, a float, a bool or a string, as Kernel Tuner allows in
/// `tune_params`. Its text form matches Python's `str()`, so keys built from it are the keys of
/// Kernel Tuner cache files.

#include <concepts>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>

namespace attune {

class Value {
 public:
  /// An integer 0.
  Value() = default;
  /// Any integral type other than bool is stored as int64. A value beyond int64 throws
  /// Error(InvalidArgument).
  template <std::integral T>
  requires(!std::same_as<T, bool>) Value(T v)
      : data_(checked_int(v)) {}  // NOLINT(google-explicit-constructor): values read as literals
  Value(double v) : data_(v) {}   // NOLINT(google-explicit-constructor)
  Value(bool v) : data_(v) {}     // NOLINT(google-explicit-constructor)
  Value(std::string v) : data_(std::move(v)) {}    // NOLINT(google-explicit-constructor)
  Value(const char* v) : data_(std::string(v)) {}  // NOLINT(google-explicit-constructor)

  bool is_int() const noexcept { return std::holds_alternative<std::int64_t>(data_); }
  bool is_double() const noexcept { return std::holds_alternative<double>(data_); }
  bool is_bool() const noexcept { return std::holds_alternative<bool>(data_); }
  bool is_string() const noexcept { return std::holds_alternative<std::string>(data_); }
  /// int, double or bool (bool counts as a number, as in Python).
  bool is_numeric() const noexcept { return !is_string(); }

  /// The integer; a bool gives 0 or 1. Throws Error(InvalidArgument) for a double or a string.
  std::int64_t as_int() const;
  /// The number as a double (int and bool convert). Throws Error(InvalidArgument) for a string.
  double as_double() const;
  /// The string. Throws Error(InvalidArgument) for a number or bool; use to_string() for text.
  const std::string& as_string() const;

  /// Python's `str()`: ints "32", bools "True"/"False", floats as Python's shortest round-trip
  /// repr ("1.0", "0.5", "1e-05", "2.5e+20", "inf", "nan"), strings unchanged.
  std::string to_string() const;

  /// A JSON number, bool or string of the same type.
  nlohmann::json to_json() const;
  /// The inverse of to_json. Integers that do not fit int64 and non-scalar JSON (null, arrays,
  /// objects) throw Error(InvalidArgument).
  static Value from_json(const nlohmann::json& j);

  /// Python's `==`: numbers compare by value across int, double and bool (1 == 1.0 == True);
  /// a string equals only the same string.
  friend bool operator==(const Value& a, const Value& b) noexcept;

  using Storage = std::variant<std::int64_t, double, bool, std::string>;
  const Storage& storage() const noexcept { return data_; }

 private:
  template <std::integral T>
  static std::int64_t checked_int(T v) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(std::int64_t)) {
      if (v > static_cast<T>(INT64_MAX)) throw_out_of_range();
    }
    return static_cast<std::int64_t>(v);
  }
  [[noreturn]] static void throw_out_of_range();

  Storage data_{std::int64_t{0}};
};

}  // namespace attune
