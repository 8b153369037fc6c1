// attune::Value: a parameter value (int64, double, bool or string) with Python's semantics for
// equality and Python's str() for its text form, because Kernel Tuner's cache keys and restriction
// expressions are Python, and a key written here must match one written there byte for byte.

#include "attune/value.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "attune/error.hpp"

namespace attune {

void Value::throw_out_of_range() {
  throw Error(ErrorCode::InvalidArgument,
              "integer parameter value does not fit in int64; use a smaller value");
}

std::int64_t Value::as_int() const {
  if (const auto* i = std::get_if<std::int64_t>(&data_)) return *i;
  if (const auto* b = std::get_if<bool>(&data_)) return *b ? 1 : 0;
  throw Error(
      ErrorCode::InvalidArgument,
      "value " + to_string() + " is not an integer; read it with as_double() or as_string()");
}

double Value::as_double() const {
  if (const auto* d = std::get_if<double>(&data_)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&data_)) return static_cast<double>(*i);
  if (const auto* b = std::get_if<bool>(&data_)) return *b ? 1.0 : 0.0;
  throw Error(ErrorCode::InvalidArgument,
              "value '" + std::get<std::string>(data_) + "' is a string, not a number");
}

const std::string& Value::as_string() const {
  if (const auto* s = std::get_if<std::string>(&data_)) return *s;
  throw Error(ErrorCode::InvalidArgument,
              "value " + to_string() + " is not a string; use to_string() for its text form");
}

namespace {

// Python's float repr: the shortest digits that round-trip (which std::to_chars also produces),
// laid out in fixed notation when the decimal exponent is in [-5, 16), else in exponent notation
// with a sign and at least two exponent digits. See CPython's format_float_short, mode 'r'.
std::string python_float_repr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::string out;
  if (!sci.empty() && sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  const std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exp10 = 0;
  std::string_view exp_text = sci.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp10);
  const int decpt = exp10 + 1;  // value = 0.digits * 10^decpt
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (n > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += exp10 < 0 ? '-' : '+';
    const int a = exp10 < 0 ? -exp10 : exp10;
    if (a < 10) out += '0';
    out += std::to_string(a);
  } else if (decpt <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-decpt), '0');
    out += digits;
  } else if (decpt >= n) {
    out += digits;
    out.append(static_cast<std::size_t>(decpt - n), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<std::size_t>(decpt));
    out += '.';
    out.append(digits, static_cast<std::size_t>(decpt));
  }
  return out;
}

}  // namespace

std::string Value::to_string() const {
  struct Visitor {
    std::string operator()(std::int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return python_float_repr(d); }
    std::string operator()(bool b) const { return b ? "True" : "False"; }
    std::string operator()(const std::string& s) const { return s; }
  };
  return std::visit(Visitor{}, data_);
}

nlohmann::json Value::to_json() const {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, data_);
}

Value Value::from_json(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      throw Error(ErrorCode::InvalidArgument,
                  "parameter value " + j.dump() + " does not fit in int64; use a smaller value");
    }
    return Value(static_cast<std::int64_t>(u));
  }
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_number_float()) return Value(j.get<double>());
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_string()) return Value(j.get<std::string>());
  throw Error(ErrorCode::InvalidArgument,
              "a parameter value must be a number, a bool or a string, not " + j.dump());
}

bool operator==(const Value& a, const Value& b) noexcept {
  const auto* sa = std::get_if<std::string>(&a.data_);
  const auto* sb = std::get_if<std::string>(&b.data_);
  if (sa != nullptr || sb != nullptr) return sa != nullptr && sb != nullptr && *sa == *sb;
  if (!a.is_double() && !b.is_double()) return a.as_int() == b.as_int();  // cannot throw here
  return a.as_double() == b.as_double();
}

}  // namespace attune
