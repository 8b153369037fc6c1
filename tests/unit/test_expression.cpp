// Constraint expressions must agree with Python on every operator Kernel Tuner users write, and
// must say clearly where and why a constraint does not parse.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attune/error.hpp"
#include "attune/expression.hpp"
#include "attune/value.hpp"

namespace attune {
namespace {

const std::vector<std::string> kNames = {"a", "b", "c", "s", "f"};

// a = 7, b = -3, c = 0, s = "fast", f = 2.5
const std::vector<Value> kValues = {Value(7), Value(-3), Value(0), Value("fast"), Value(2.5)};

Value eval(const std::string& text) { return Expression::parse(text, kNames).evaluate(kValues); }
bool test(const std::string& text) { return Expression::parse(text, kNames).test(kValues); }

void expect_int(const std::string& text, std::int64_t expected) {
  const Value v = eval(text);
  ASSERT_TRUE(v.is_int()) << text << " gave " << v.to_string();
  EXPECT_EQ(v.as_int(), expected) << text;
}
void expect_double(const std::string& text, double expected) {
  const Value v = eval(text);
  ASSERT_TRUE(v.is_double()) << text << " gave " << v.to_string();
  EXPECT_EQ(v.as_double(), expected) << text;
}
void expect_bool(const std::string& text, bool expected) {
  const Value v = eval(text);
  ASSERT_TRUE(v.is_bool()) << text << " gave " << v.to_string();
  EXPECT_EQ(v.as_int() != 0, expected) << text;
}

Error parse_error(const std::string& text) {
  try {
    Expression::parse(text, kNames);
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "'" << text << "' parsed but should not";
  return Error(ErrorCode::Internal, "");
}

TEST(Expression, TrueDivisionGivesFloat) {
  expect_double("7/2", 3.5);
  expect_double("a/2", 3.5);
  expect_double("6/3", 2.0);
  expect_double("-7/2", -3.5);
  expect_double("f/2", 1.25);
}

TEST(Expression, FloorDivisionRoundsTowardNegativeInfinity) {
  expect_int("7//2", 3);
  expect_int("-7//2", -4);
  expect_int("7//-2", -4);
  expect_int("-7//-2", 3);
  expect_int("a//b", -3);  // 7 // -3
  expect_double("-7.5//2", -4.0);
  expect_double("7.5//-2", -4.0);
}

TEST(Expression, ModuloTakesTheSignOfTheDivisor) {
  expect_int("7%3", 1);
  expect_int("-7%3", 2);
  expect_int("7%-3", -2);
  expect_int("-7%-3", -1);
  expect_int("a%b", -2);  // 7 % -3
  expect_double("-7.5%2", 0.5);
  expect_double("7.5%-2", -0.5);
}

TEST(Expression, Power) {
  expect_int("2**10", 1024);
  expect_double("2**-1", 0.5);
  expect_int("2**3**2", 512);  // right-associative: 2**(3**2)
  expect_int("(-2)**3", -8);
  expect_int("0**0", 1);
  expect_double("f**2", 6.25);
  // Beyond int64 Python grows the integer; we fall back to a double of the same magnitude.
  expect_double("2**64", 18446744073709551616.0);
}

TEST(Expression, PrecedenceMatchesPython) {
  expect_int("2+3*4**2", 50);
  expect_int("-2**2", -4);
  expect_int("(2+3)*4", 20);
  expect_int("2*3%4", 2);  // left to right: (2*3)%4
  expect_int("10-4-3", 3);
  expect_int("-a+b*2", -13);
  expect_int("- - 5", 5);
  expect_int("+True", 1);
  expect_bool("not 1 == 2", true);      // not binds looser than ==
  expect_bool("1 < 2 == True", false);  // chained: 1 < 2 and 2 == True
}

TEST(Expression, ChainedComparisons) {
  EXPECT_TRUE(test("1 <= a <= 7"));
  EXPECT_FALSE(test("1 <= a < 7"));
  EXPECT_TRUE(test("b < c < a"));
  EXPECT_FALSE(test("c < b < a"));
  EXPECT_TRUE(test("32 <= a * 8 <= 1024"));
  EXPECT_TRUE(test("a == 7 != 8 > 3"));
  // The middle operand is evaluated once and a false link stops the chain before the rest, which
  // here would divide by zero.
  EXPECT_FALSE(test("a < b < 1/c"));
}

TEST(Expression, AndOrShortCircuitWithPythonValues) {
  EXPECT_TRUE(test("c == 0 or a / c > 1"));
  EXPECT_FALSE(test("c != 0 and a / c > 1"));
  EXPECT_TRUE(test("c == 0 or a % c == 0"));
  expect_int("a and b", -3);
  expect_int("c and b", 0);
  expect_int("c or b", -3);
  expect_int("a or b", 7);
  expect_bool("not c", true);
  expect_bool("not a", false);
  EXPECT_TRUE(test("not (a < 3 and b < 0) or c"));
  EXPECT_TRUE(test("a > 3 and b < 0 and not c"));
  // and binds tighter than or.
  EXPECT_TRUE(test("True or False and False"));
}

TEST(Expression, DivisionByZeroMakesTheConstraintFalse) {
  EXPECT_FALSE(test("a / c > 1"));
  EXPECT_FALSE(test("a % c == 0"));
  EXPECT_FALSE(test("a // c == 0"));
  EXPECT_FALSE(test("not (a % c == 0)"));
  EXPECT_FALSE(test("c ** -1 > 0"));
  EXPECT_THROW(eval("a / c"), Error);
}

TEST(Expression, MinMax) {
  expect_int("min(a, b)", -3);
  expect_int("max(a, b, c)", 7);
  expect_int("max(a, f)", 7);  // the argument itself, keeping its type
  expect_double("min(a, f)", 2.5);
  expect_int("min(4, 2, 3) * max(1, 5)", 10);
  expect_int("min(a + b, 2 * c)", 0);
}

TEST(Expression, MembershipInListsAndTuples) {
  EXPECT_TRUE(test("a in [1, 2, 7]"));
  EXPECT_FALSE(test("a in [1, 2, 4]"));
  EXPECT_TRUE(test("a not in [1, 2, 4]"));
  EXPECT_TRUE(test("a in (7, 8)"));
  EXPECT_TRUE(test("a in (7,)"));
  EXPECT_FALSE(test("a in []"));
  EXPECT_TRUE(test("s in ['fast', 'slow']"));
  EXPECT_FALSE(test("s in [\"slow\"]"));
  EXPECT_TRUE(test("f in [2.5]"));
  EXPECT_TRUE(test("a in [b + 10, 1]"));  // elements may be expressions
  EXPECT_TRUE(test("not a in [1, 2]"));
  EXPECT_TRUE(test("7.0 in [a]"));  // numbers compare by value
  // A chain may end in a membership test: b < a and a in [..].
  EXPECT_TRUE(test("b < a in [7, 8]"));
  EXPECT_FALSE(test("a < b in [-3]"));
  EXPECT_FALSE(test("b < a not in [7]"));
}

TEST(Expression, TruthinessOfNonBoolResults) {
  EXPECT_TRUE(test("a"));
  EXPECT_FALSE(test("c"));
  EXPECT_TRUE(test("a % 2"));
  EXPECT_FALSE(test("a % 7"));
  EXPECT_TRUE(test("f - 2"));
  EXPECT_TRUE(test("s"));
  EXPECT_FALSE(test("''"));
}

TEST(Expression, StringsCompareWithStrings) {
  EXPECT_TRUE(test("s == 'fast'"));
  EXPECT_TRUE(test("s != 'slow'"));
  EXPECT_TRUE(test("s < 'slow'"));
  EXPECT_FALSE(test("s == 1"));  // different types are unequal, as in Python
  EXPECT_THROW(test("s < 1"), Error);
  EXPECT_THROW(test("s + 1 > 0"), Error);
}

TEST(Expression, Literals) {
  expect_int("0x10 + 0b11 + 0o7", 26);
  expect_int("1_000", 1000);
  expect_double("1e3", 1000.0);
  expect_double(".5 + 5.", 5.5);
  expect_bool("True", true);
  EXPECT_EQ(eval("'a\\'b'").as_string(), "a'b");
}

TEST(Expression, ParamsUsedAreResolvedAtParseTime) {
  const Expression e = Expression::parse("c * a <= 1024 or a > 2", kNames);
  EXPECT_EQ(e.params_used(), (std::vector<std::size_t>{0, 2}));
  EXPECT_EQ(e.text(), "c * a <= 1024 or a > 2");
  // Only the used positions are read.
  const std::vector<Value> values = {Value(3), Value("unused"), Value(4), Value(), Value()};
  EXPECT_TRUE(e.test(values));
}

TEST(Expression, OperandFastPathAgreesWithValues) {
  const Expression e = Expression::parse("(a * 3 + b) % 4 == 2 and f < 3", kNames);
  std::vector<detail::Operand> operands;
  for (const Value& v : kValues) operands.push_back(detail::Operand::of(v));
  EXPECT_EQ(e.test(operands), e.test(kValues));
  EXPECT_TRUE(e.test(operands));  // (21 - 3) % 4 == 2
}

TEST(ExpressionErrors, SyntaxErrorsNameTheColumnAndTheExpectedToken) {
  const Error e = parse_error("(a + b * (c - 1) + 2");
  EXPECT_EQ(e.code(), ErrorCode::ParseError);
  const std::string m = e.what();
  EXPECT_NE(m.find("\"(a + b * (c - 1) + 2\""), std::string::npos) << m;
  EXPECT_NE(m.find("expected ')' at column 21"), std::string::npos) << m;
  EXPECT_NE(m.find("\n  (a + b * (c - 1) + 2\n                      ^"), std::string::npos) << m;

  const std::string m2 = parse_error("a * (b + c) d").what();
  EXPECT_NE(m2.find("expected an operator or the end of the constraint at column 13"),
            std::string::npos)
      << m2;
  EXPECT_NE(m2.find("found 'd'"), std::string::npos) << m2;

  const std::string m3 = parse_error("a <= ").what();
  EXPECT_NE(m3.find("at column 6"), std::string::npos) << m3;
  EXPECT_NE(m3.find("found the end of the constraint"), std::string::npos) << m3;

  const std::string m4 = parse_error("a & 1").what();
  EXPECT_NE(m4.find("unexpected character '&' at column 3"), std::string::npos) << m4;

  const std::string m5 = parse_error("a in 3").what();
  EXPECT_NE(m5.find("expected a list '[...]' or tuple '(...)' after 'in' at column 6"),
            std::string::npos)
      << m5;

  const std::string m6 = parse_error("a in [1, 2").what();
  EXPECT_NE(m6.find("expected ',' or ']' at column 11"), std::string::npos) << m6;

  const std::string m7 = parse_error("s == 'fast").what();
  EXPECT_NE(m7.find("string starting at column 6 is not closed"), std::string::npos) << m7;

  const std::string m8 = parse_error("min(a)").what();
  EXPECT_NE(m8.find("min() at column 1 needs at least two arguments"), std::string::npos) << m8;

  EXPECT_EQ(parse_error("").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("a in [1] < b").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("a + [1]").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("a is 1").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("99999999999999999999 > a").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("1.2.3").code(), ErrorCode::ParseError);
  EXPECT_EQ(parse_error("a in (1)").code(), ErrorCode::ParseError);
  // Deep nesting is an error, not a stack overflow; moderate nesting is fine.
  EXPECT_EQ(parse_error(std::string(5000, '(') + "a" + std::string(5000, ')')).code(),
            ErrorCode::ParseError);
  EXPECT_EQ(parse_error(std::string(5000, '-') + "a").code(), ErrorCode::ParseError);
  expect_int(std::string(40, '(') + "a" + std::string(40, ')'), 7);
}

TEST(ExpressionErrors, UnknownNamesListTheParameters) {
  const Error e = parse_error("a * block_size_x <= 1024");
  EXPECT_EQ(e.code(), ErrorCode::UnknownName);
  const std::string m = e.what();
  EXPECT_NE(m.find("unknown name 'block_size_x' at column 5"), std::string::npos) << m;
  EXPECT_NE(m.find("the parameters are: a, b, c, s, f"), std::string::npos) << m;

  const Error f = parse_error("abs(a) > 1");
  EXPECT_EQ(f.code(), ErrorCode::UnknownName);
  EXPECT_NE(std::string(f.what()).find("unknown function 'abs'"), std::string::npos) << f.what();
}

TEST(Value, PythonStrForm) {
  EXPECT_EQ(Value(32).to_string(), "32");
  EXPECT_EQ(Value(-5).to_string(), "-5");
  EXPECT_EQ(Value(true).to_string(), "True");
  EXPECT_EQ(Value(false).to_string(), "False");
  EXPECT_EQ(Value("abc").to_string(), "abc");
  EXPECT_EQ(Value(1.0).to_string(), "1.0");
  EXPECT_EQ(Value(0.5).to_string(), "0.5");
  EXPECT_EQ(Value(0.1).to_string(), "0.1");
  EXPECT_EQ(Value(1e-05).to_string(), "1e-05");
  EXPECT_EQ(Value(0.0001).to_string(), "0.0001");
  EXPECT_EQ(Value(0.00012).to_string(), "0.00012");
  EXPECT_EQ(Value(1.5e-7).to_string(), "1.5e-07");
  EXPECT_EQ(Value(2.5e20).to_string(), "2.5e+20");
  EXPECT_EQ(Value(1e16).to_string(), "1e+16");
  EXPECT_EQ(Value(1e15).to_string(), "1000000000000000.0");
  EXPECT_EQ(Value(123456789012345678.0).to_string(), "1.2345678901234568e+17");
  EXPECT_EQ(Value(1e100).to_string(), "1e+100");
  EXPECT_EQ(Value(-0.0).to_string(), "-0.0");
  EXPECT_EQ(Value(0.0).to_string(), "0.0");
  EXPECT_EQ(Value(123.456).to_string(), "123.456");
  EXPECT_EQ(Value(1.0 / 3).to_string(), "0.3333333333333333");
  EXPECT_EQ(Value(INFINITY).to_string(), "inf");
  EXPECT_EQ(Value(-INFINITY).to_string(), "-inf");
  EXPECT_EQ(Value(NAN).to_string(), "nan");
}

TEST(Value, TypesConversionsAndEquality) {
  EXPECT_TRUE(Value(3).is_int());
  EXPECT_TRUE(Value(std::int64_t{3}).is_int());
  EXPECT_TRUE(Value(3u).is_int());
  EXPECT_TRUE(Value(3.0).is_double());
  EXPECT_TRUE(Value(true).is_bool());
  EXPECT_TRUE(Value("x").is_string());
  EXPECT_TRUE(Value(true).is_numeric());
  EXPECT_FALSE(Value("1").is_numeric());
  EXPECT_EQ(Value(true).as_int(), 1);
  EXPECT_EQ(Value(4).as_double(), 4.0);
  EXPECT_THROW(Value(4.5).as_int(), Error);
  EXPECT_THROW(Value("x").as_double(), Error);
  EXPECT_THROW(Value(1).as_string(), Error);
  EXPECT_THROW(Value(std::uint64_t{1} << 63), Error);
  EXPECT_EQ(Value(1), Value(1.0));
  EXPECT_EQ(Value(1), Value(true));
  EXPECT_NE(Value(1), Value("1"));
  EXPECT_EQ(Value("x"), Value(std::string("x")));
  EXPECT_NE(Value(2), Value(2.5));
}

TEST(Value, JsonRoundTrip) {
  for (const Value& v : {Value(7), Value(2.5), Value(false), Value("xy")}) {
    const Value back = Value::from_json(v.to_json());
    EXPECT_EQ(back.storage().index(), v.storage().index());
    EXPECT_EQ(back, v);
  }
  EXPECT_EQ(Value(7).to_json().dump(), "7");
  EXPECT_EQ(Value(true).to_json().dump(), "true");
  EXPECT_TRUE(Value::from_json(nlohmann::json::parse("1.0")).is_double());
  EXPECT_THROW(Value::from_json(nlohmann::json::array()), Error);
  EXPECT_THROW(Value::from_json(nlohmann::json(std::uint64_t{1} << 63)), Error);
}

}  // namespace
}  // namespace attune
