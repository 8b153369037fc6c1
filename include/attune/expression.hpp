#pragma once
/// \file
/// Constraint expressions in Kernel Tuner's restriction syntax (a subset of Python expressions),
/// parsed once and compiled to a flat stack program so a search space can test millions of
/// configurations quickly.
///
/// Supported: int, float, string ('..' or "..") and True/False literals; parameter names;
/// `+ - * / // % **` with Python semantics (`/` is true division giving a float, `//` floors,
/// `%` takes the sign of the divisor, `**` is right-associative and binds tighter than a unary
/// minus on its left); unary `-`, `+`; comparisons `== != < <= > >=`, chained as in Python
/// (`a <= b <= c` is `a <= b and b <= c` with b evaluated once); `and`, `or`, `not` with
/// short-circuit evaluation and Python's value semantics; parentheses; `min(...)` and `max(...)`
/// with two or more arguments; `x in [..]`, `x not in [..]` over a list or tuple literal; and the
/// truthiness of a non-bool result (a nonzero number, a non-empty string).
///
/// Integers are int64. An integer result that would overflow int64 (Python would grow the integer)
/// becomes a double. Arithmetic that Python rejects at run time (division or modulo by zero,
/// 0 ** negative, a negative number to a fractional power) makes test() return false for that
/// configuration: the configuration is ruled out, not an error. Mixing types that Python cannot
/// combine ('a' + 1, 'a' < 1) throws Error(InvalidArgument) from test() and evaluate().

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attune/value.hpp"

namespace attune {

namespace detail {

struct Program;

/// One value on the evaluator's stack: a tagged scalar that never owns memory (a string points
/// at a Value that outlives the evaluation). Search spaces keep one per parameter value so that
/// binding a parameter during enumeration is a copy of 16 bytes. Trivial on purpose: a
/// default-constructed Operand is uninitialized, so an evaluation stack costs nothing to set up.
struct Operand {
  enum class Kind : std::uint8_t { Int, Bool, Float, Str };
  Kind kind;
  union {
    std::int64_t i;  // Int, and Bool as 0 or 1
    double d;
    const std::string* s;
  };
  /// Assumes `v` outlives every use of the operand when `v` is a string.
  static Operand of(const Value& v) noexcept;
};

}  // namespace detail

class Expression {
 public:
  /// Parses `text` against the parameter names of a space. Parameters are resolved to their
  /// position in `param_names` here, so evaluation does no name lookup. Throws
  /// Error(ParseError) for a syntax error, with the expression, the 1-based column, a caret line
  /// and what was expected; throws Error(UnknownName) for a name that is not a parameter (the
  /// message lists the parameters) or a function other than min and max.
  static Expression parse(std::string_view text, std::span<const std::string> param_names);

  /// The text as given to parse().
  const std::string& text() const noexcept;
  /// Positions (into the param_names given to parse) of the parameters the expression reads,
  /// ascending, without duplicates.
  const std::vector<std::size_t>& params_used() const noexcept;

  /// Whether the constraint holds for `values`, indexed like the param_names given to parse
  /// (only the positions in params_used() are read). False where the arithmetic is undefined
  /// (division by zero). Does not allocate. Throws Error(InvalidArgument) for a type mismatch.
  bool test(std::span<const Value> values) const;
  /// The same as test() over operands prepared with detail::Operand::of; the fast path that
  /// search-space enumeration uses.
  bool test(std::span<const detail::Operand> operands) const;
  /// The value of the expression, as Python would compute it. Throws Error(InvalidArgument) where
  /// Python would raise (division by zero, mismatched types).
  Value evaluate(std::span<const Value> values) const;

 private:
  explicit Expression(std::shared_ptr<const detail::Program> program)
      : program_(std::move(program)) {}

  // Shared and immutable: copies are cheap and string operands pointing into the program's
  // constant pool stay valid in every copy.
  std::shared_ptr<const detail::Program> program_;
};

}  // namespace attune
