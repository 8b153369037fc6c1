// Kernel Tuner restrictions are Python expressions. This file tokenizes and parses them into a
// small AST, folds constant sub-expressions, and emits a flat postfix program with parameter
// positions resolved, so one evaluation is a tight loop over 8-byte instructions with an int64
// fast path, no allocation and no name lookup.

#include "attune/expression.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "attune/error.hpp"

namespace attune {

namespace detail {

using Kind = Operand::Kind;

Operand Operand::of(const Value& v) noexcept {
  Operand o;
  const Value::Storage& data = v.storage();
  if (const auto* i = std::get_if<std::int64_t>(&data)) {
    o.kind = Kind::Int;
    o.i = *i;
  } else if (const auto* d = std::get_if<double>(&data)) {
    o.kind = Kind::Float;
    o.d = *d;
  } else if (const auto* b = std::get_if<bool>(&data)) {
    o.kind = Kind::Bool;
    o.i = *b ? 1 : 0;
  } else {
    o.kind = Kind::Str;
    o.s = std::get_if<std::string>(&data);
  }
  return o;
}

enum class Op : std::uint8_t {
  PushParam,
  PushConst,
  Neg,
  Pos,
  Not,
  Add,
  Sub,
  Mul,
  TrueDiv,
  FloorDiv,
  Mod,
  Pow,
  Eq,
  Ne,
  Lt,
  Le,
  Gt,
  Ge,
  ChainCmp,          // [x y] -> x cmp y ? [y] : [False] and jump to arg
  JumpIfFalseOrPop,  // `and`: keep a falsy left operand as the result
  JumpIfTrueOrPop,   // `or`: keep a truthy left operand as the result
  In,                // [x e1..en] -> x in (e1..en), n = arg
  NotIn,
  InList,  // [x] -> x in lists[arg]
  NotInList,
  Min,  // [e1..en] -> min, n = arg
  Max,
};

// Where a binary operation's right operand comes from. Fusing a parameter or constant operand
// into the operation saves a dispatch and a stack round trip, and most constraints are of the
// form `x % y == 0` or `a * b <= 1024`.
enum class Src : std::uint8_t { Stack, Param, Const };

struct Instr {
  Op op;
  Op cmp;  // the comparison of a ChainCmp
  Src src = Src::Stack;
  std::uint32_t arg;  // jump target, count, parameter position or constant index
};

// Immutable once built. `consts` and `lists` hold operands pointing into `strings`, which is
// filled completely before they are made and never changes again.
struct Program {
  std::string text;
  std::vector<std::size_t> params_used;
  std::vector<Instr> code;
  std::vector<std::string> strings;
  std::vector<Operand> consts;
  std::vector<std::vector<Operand>> lists;
  std::vector<std::size_t> positions;  // column of each instruction's source, for messages
  std::size_t stack_size = 0;
};

namespace {

// Big enough for any expression a person writes; parse() rejects deeper ones so that the
// evaluation stack can live in a fixed array.
constexpr std::size_t kMaxStack = 128;

enum class Status : std::uint8_t { Ok, Arithmetic, Type };

inline bool intlike(Kind k) { return k == Kind::Int || k == Kind::Bool; }
inline double as_d(const Operand& o) {
  return o.kind == Kind::Float ? o.d : static_cast<double>(o.i);
}

inline Operand make_int(std::int64_t v) {
  Operand o;
  o.kind = Kind::Int;
  o.i = v;
  return o;
}
inline Operand make_float(double v) {
  Operand o;
  o.kind = Kind::Float;
  o.d = v;
  return o;
}
inline Operand make_bool(bool v) {
  Operand o;
  o.kind = Kind::Bool;
  o.i = v ? 1 : 0;
  return o;
}

inline bool truthy(const Operand& o) {
  switch (o.kind) {
    case Kind::Float: return o.d != 0.0;  // NaN is truthy in Python too
    case Kind::Str: return !o.s->empty();
    default: return o.i != 0;
  }
}

// CPython's float_divmod, so that -7.5 // 2 and -7.5 % 2 match Python bit for bit.
inline void float_divmod(double vx, double wx, double& floordiv, double& mod) {
  mod = std::fmod(vx, wx);
  double div = (vx - mod) / wx;
  if (mod != 0.0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0.0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, vx / wx);
  }
}

inline Status int_pow(std::int64_t base, std::int64_t exp, Operand& out) {
  std::int64_t result = 1;
  std::int64_t b = base;
  std::int64_t e = exp;
  bool overflow = false;
  while (e > 0 && !overflow) {
    if (e & 1) overflow = __builtin_mul_overflow(result, b, &result);
    e >>= 1;
    if (e > 0 && !overflow) overflow = __builtin_mul_overflow(b, b, &b);
  }
  out = overflow ? make_float(std::pow(static_cast<double>(base), static_cast<double>(exp)))
                 : make_int(result);
  return Status::Ok;
}

inline Status arith(Op op, const Operand& a, const Operand& b, Operand& out) {
  if (intlike(a.kind) && intlike(b.kind)) {
    const std::int64_t x = a.i;
    const std::int64_t y = b.i;
    std::int64_t r;
    switch (op) {
      case Op::Add:
        out =
            __builtin_add_overflow(x, y, &r) ? make_float(static_cast<double>(x) + y) : make_int(r);
        return Status::Ok;
      case Op::Sub:
        out =
            __builtin_sub_overflow(x, y, &r) ? make_float(static_cast<double>(x) - y) : make_int(r);
        return Status::Ok;
      case Op::Mul:
        out =
            __builtin_mul_overflow(x, y, &r) ? make_float(static_cast<double>(x) * y) : make_int(r);
        return Status::Ok;
      case Op::TrueDiv:
        if (y == 0) return Status::Arithmetic;
        out = make_float(static_cast<double>(x) / static_cast<double>(y));
        return Status::Ok;
      case Op::FloorDiv: {
        if (y == 0) return Status::Arithmetic;
        if (y == -1) {
          out = x == std::numeric_limits<std::int64_t>::min() ? make_float(-static_cast<double>(x))
                                                              : make_int(-x);
          return Status::Ok;
        }
        std::int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        out = make_int(q);
        return Status::Ok;
      }
      case Op::Mod: {
        if (y == 0) return Status::Arithmetic;
        if (y == -1) {
          out = make_int(0);
          return Status::Ok;
        }
        std::int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        out = make_int(m);
        return Status::Ok;
      }
      case Op::Pow:
        if (y < 0) {
          if (x == 0) return Status::Arithmetic;
          out = make_float(std::pow(static_cast<double>(x), static_cast<double>(y)));
          return Status::Ok;
        }
        return int_pow(x, y, out);
      default: return Status::Type;
    }
  }
  if (a.kind == Kind::Str || b.kind == Kind::Str) return Status::Type;
  const double x = as_d(a);
  const double y = as_d(b);
  switch (op) {
    case Op::Add: out = make_float(x + y); return Status::Ok;
    case Op::Sub: out = make_float(x - y); return Status::Ok;
    case Op::Mul: out = make_float(x * y); return Status::Ok;
    case Op::TrueDiv:
      if (y == 0.0) return Status::Arithmetic;
      out = make_float(x / y);
      return Status::Ok;
    case Op::FloorDiv:
    case Op::Mod: {
      if (y == 0.0) return Status::Arithmetic;
      double q;
      double m;
      float_divmod(x, y, q, m);
      out = make_float(op == Op::FloorDiv ? q : m);
      return Status::Ok;
    }
    case Op::Pow:
      if (x == 0.0 && y < 0.0) return Status::Arithmetic;
      // Python gives a complex number here; a constraint cannot use one.
      if (x < 0.0 && std::isfinite(y) && y != std::floor(y)) return Status::Arithmetic;
      out = make_float(std::pow(x, y));
      return Status::Ok;
    default: return Status::Type;
  }
}

template <class T>
inline bool apply_cmp(Op op, const T& x, const T& y) {
  switch (op) {
    case Op::Eq: return x == y;
    case Op::Ne: return x != y;
    case Op::Lt: return x < y;
    case Op::Le: return x <= y;
    case Op::Gt: return x > y;
    default: return x >= y;
  }
}

inline Status compare(Op op, const Operand& a, const Operand& b, bool& r) {
  if (intlike(a.kind) && intlike(b.kind)) {
    r = apply_cmp(op, a.i, b.i);
  } else if (a.kind != Kind::Str && b.kind != Kind::Str) {
    r = apply_cmp(op, as_d(a), as_d(b));
  } else if (a.kind == Kind::Str && b.kind == Kind::Str) {
    r = apply_cmp(op, *a.s, *b.s);
  } else if (op == Op::Eq || op == Op::Ne) {
    r = op == Op::Ne;
  } else {
    return Status::Type;
  }
  return Status::Ok;
}

struct Fault {
  std::size_t pc = 0;
  Kind left = Kind::Int;
  Kind right = Kind::Int;
};

// The int64 fast path of one binary operation; false where Python's result is not a plain int64
// (overflow, division by zero, a negative power), which the general path then handles.
template <Op kOp>
[[gnu::always_inline]] inline bool int_fast(std::int64_t x, std::int64_t y, Operand& out) {
  std::int64_t r;
  if constexpr (kOp == Op::Add) {
    if (__builtin_add_overflow(x, y, &r)) return false;
  } else if constexpr (kOp == Op::Sub) {
    if (__builtin_sub_overflow(x, y, &r)) return false;
  } else if constexpr (kOp == Op::Mul) {
    if (__builtin_mul_overflow(x, y, &r)) return false;
  } else if constexpr (kOp == Op::FloorDiv) {
    if (y == 0 || y == -1) return false;
    r = x / y;
    if ((x % y != 0) && ((x ^ y) < 0)) --r;
  } else if constexpr (kOp == Op::Mod) {
    if (y == 0 || y == -1) return false;
    r = x % y;
    if (r != 0 && ((r ^ y) < 0)) r += y;
  } else if constexpr (kOp == Op::Eq || kOp == Op::Ne || kOp == Op::Lt || kOp == Op::Le ||
                       kOp == Op::Gt || kOp == Op::Ge) {
    out = make_bool(apply_cmp(kOp, x, y));
    return true;
  } else {
    return false;  // true division and powers take the general path
  }
  out = make_int(r);
  return true;
}

template <Op kOp, class Load>
[[gnu::always_inline]] inline Status binary(const Program& p, const Instr& in, const Load& load,
                                            Operand*& sp) {
  Operand fetched;
  const Operand* rhs;
  switch (in.src) {
    case Src::Stack: rhs = --sp; break;
    case Src::Param:
      fetched = load(in.arg);
      rhs = &fetched;
      break;
    default: rhs = &p.consts[in.arg]; break;
  }
  Operand& lhs = sp[-1];
  if (intlike(lhs.kind) && intlike(rhs->kind) && int_fast<kOp>(lhs.i, rhs->i, lhs)) {
    return Status::Ok;
  }
  if constexpr (kOp == Op::Eq || kOp == Op::Ne || kOp == Op::Lt || kOp == Op::Le || kOp == Op::Gt ||
                kOp == Op::Ge) {
    bool r;
    const Status s = compare(kOp, lhs, *rhs, r);
    if (s == Status::Ok) lhs = make_bool(r);
    return s;
  } else {
    return arith(kOp, lhs, *rhs, lhs);
  }
}

template <class Load>
Status execute(const Program& p, const Load& load, Operand& result, Fault& fault) {
  Operand stack[kMaxStack];
  Operand* sp = stack;
  const Instr* code = p.code.data();
  const std::size_t n = p.code.size();
  // A failed binary operation leaves its left operand in sp[-1]; its right one is re-read here
  // for the message, off the hot path.
  const auto fail = [&](std::size_t pc, Op op) {
    const Instr& in = code[pc];
    const Operand right = in.src == Src::Stack   ? sp[0]
                          : in.src == Src::Param ? load(in.arg)
                                                 : p.consts[in.arg];
    fault = {pc, sp[-1].kind, right.kind};
    const bool comparison = op == Op::Eq || op == Op::Ne || op == Op::Lt || op == Op::Le ||
                            op == Op::Gt || op == Op::Ge;
    Operand scratch;
    return comparison ? Status::Type : arith(op, sp[-1], right, scratch);
  };
  for (std::size_t pc = 0; pc < n; ++pc) {
    const Instr& in = code[pc];
    switch (in.op) {
      case Op::PushParam: *sp++ = load(in.arg); break;
      case Op::PushConst: *sp++ = p.consts[in.arg]; break;
      case Op::Add:
        if (binary<Op::Add>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Add);
        break;
      case Op::Sub:
        if (binary<Op::Sub>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Sub);
        break;
      case Op::Mul:
        if (binary<Op::Mul>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Mul);
        break;
      case Op::TrueDiv:
        if (binary<Op::TrueDiv>(p, in, load, sp) != Status::Ok) return fail(pc, Op::TrueDiv);
        break;
      case Op::FloorDiv:
        if (binary<Op::FloorDiv>(p, in, load, sp) != Status::Ok) return fail(pc, Op::FloorDiv);
        break;
      case Op::Mod:
        if (binary<Op::Mod>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Mod);
        break;
      case Op::Pow:
        if (binary<Op::Pow>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Pow);
        break;
      case Op::Eq:
        if (binary<Op::Eq>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Eq);
        break;
      case Op::Ne:
        if (binary<Op::Ne>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Ne);
        break;
      case Op::Lt:
        if (binary<Op::Lt>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Lt);
        break;
      case Op::Le:
        if (binary<Op::Le>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Le);
        break;
      case Op::Gt:
        if (binary<Op::Gt>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Gt);
        break;
      case Op::Ge:
        if (binary<Op::Ge>(p, in, load, sp) != Status::Ok) return fail(pc, Op::Ge);
        break;
      case Op::ChainCmp: {
        bool r;
        if (compare(in.cmp, sp[-2], sp[-1], r) != Status::Ok) {
          fault = {pc, sp[-2].kind, sp[-1].kind};
          return Status::Type;
        }
        if (r) {
          sp[-2] = sp[-1];
          --sp;
        } else {
          sp[-2] = make_bool(false);
          --sp;
          pc = in.arg - 1;
        }
        break;
      }
      case Op::JumpIfFalseOrPop:
        if (!truthy(sp[-1])) {
          pc = in.arg - 1;
        } else {
          --sp;
        }
        break;
      case Op::JumpIfTrueOrPop:
        if (truthy(sp[-1])) {
          pc = in.arg - 1;
        } else {
          --sp;
        }
        break;
      case Op::Neg:
        if (sp[-1].kind == Kind::Float) {
          sp[-1].d = -sp[-1].d;
        } else if (sp[-1].kind == Kind::Str) {
          fault = {pc, Kind::Str, Kind::Str};
          return Status::Type;
        } else {
          sp[-1] = sp[-1].i == std::numeric_limits<std::int64_t>::min()
                       ? make_float(-static_cast<double>(sp[-1].i))
                       : make_int(-sp[-1].i);
        }
        break;
      case Op::Pos:
        if (sp[-1].kind == Kind::Str) {
          fault = {pc, Kind::Str, Kind::Str};
          return Status::Type;
        }
        if (sp[-1].kind == Kind::Bool) sp[-1].kind = Kind::Int;
        break;
      case Op::Not: sp[-1] = make_bool(!truthy(sp[-1])); break;
      case Op::In:
      case Op::NotIn: {
        const Operand* elems = sp - in.arg;
        const Operand& x = elems[-1];
        bool found = false;
        for (std::uint32_t k = 0; k < in.arg && !found; ++k) {
          compare(Op::Eq, x, elems[k], found);  // == never fails
        }
        sp -= in.arg;
        sp[-1] = make_bool(found != (in.op == Op::NotIn));
        break;
      }
      case Op::InList:
      case Op::NotInList: {
        const Operand& x = sp[-1];
        bool found = false;
        for (const Operand& e : p.lists[in.arg]) {
          compare(Op::Eq, x, e, found);
          if (found) break;
        }
        sp[-1] = make_bool(found != (in.op == Op::NotInList));
        break;
      }
      case Op::Min:
      case Op::Max: {
        Operand* elems = sp - in.arg;
        Operand best = elems[0];
        const Op better = in.op == Op::Min ? Op::Lt : Op::Gt;
        for (std::uint32_t k = 1; k < in.arg; ++k) {
          bool r;
          if (compare(better, elems[k], best, r) != Status::Ok) {
            fault = {pc, elems[k].kind, best.kind};
            return Status::Type;
          }
          if (r) best = elems[k];
        }
        sp -= in.arg;
        *sp++ = best;
        break;
      }
    }
  }
  result = sp[-1];
  return Status::Ok;
}

const char* op_symbol(Op op) {
  switch (op) {
    case Op::Neg: return "unary -";
    case Op::Pos: return "unary +";
    case Op::Not: return "not";
    case Op::Add: return "+";
    case Op::Sub: return "-";
    case Op::Mul: return "*";
    case Op::TrueDiv: return "/";
    case Op::FloorDiv: return "//";
    case Op::Mod: return "%";
    case Op::Pow: return "**";
    case Op::Eq: return "==";
    case Op::Ne: return "!=";
    case Op::Lt: return "<";
    case Op::Le: return "<=";
    case Op::Gt: return ">";
    case Op::Ge: return ">=";
    case Op::Min: return "min";
    case Op::Max: return "max";
    default: return "?";
  }
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Int: return "int";
    case Kind::Bool: return "bool";
    case Kind::Float: return "float";
    default: return "str";
  }
}

// A message line that shows the expression with a caret under `pos` (0-based). Tabs are copied
// into the padding so the caret lines up in a terminal.
std::string caret_block(std::string_view text, std::size_t pos) {
  std::string out = "\n  ";
  out += text;
  out += "\n  ";
  for (std::size_t k = 0; k < pos && k < text.size(); ++k) out += text[k] == '\t' ? '\t' : ' ';
  out += '^';
  return out;
}

Value to_value(const Operand& o) {
  switch (o.kind) {
    case Kind::Int: return Value(o.i);
    case Kind::Bool: return Value(o.i != 0);
    case Kind::Float: return Value(o.d);
    default: return Value(*o.s);
  }
}

std::string quote_text(std::string_view text) { return "\"" + std::string(text) + "\""; }

[[noreturn]] void throw_runtime(const Program& p, Status s, const Fault& f) {
  const Instr& in = p.code[f.pc];
  const Op op = in.op == Op::ChainCmp ? in.cmp : in.op;
  const std::size_t pos = p.positions[f.pc];
  if (s == Status::Arithmetic) {
    throw Error(ErrorCode::InvalidArgument,
                "constraint " + quote_text(p.text) + " is undefined for these values: '" +
                    op_symbol(op) + "' at column " + std::to_string(pos + 1) +
                    " divides by zero or has no real result" + caret_block(p.text, pos));
  }
  std::string operands = kind_name(f.left);
  if (op != Op::Neg && op != Op::Pos) operands += std::string(" and ") + kind_name(f.right);
  throw Error(ErrorCode::InvalidArgument,
              "constraint " + quote_text(p.text) + " applies '" + op_symbol(op) + "' at column " +
                  std::to_string(pos + 1) + " to " + operands +
                  ", which Python rejects; compare strings only with strings" +
                  caret_block(p.text, pos));
}

// Tokenizer

enum class Tok : std::uint8_t { Int, Float, Str, Name, Punct, End };

struct Token {
  Tok kind = Tok::End;
  std::string_view text;  // the source text of the token
  std::size_t pos = 0;    // 0-based offset into the expression
  std::int64_t ival = 0;
  double fval = 0.0;
  std::string sval;
};

bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Parser {
 public:
  Parser(std::string_view text, std::span<const std::string> names) : text_(text), names_(names) {}

  std::shared_ptr<Program> run();

 private:
  struct Node {
    enum class Kind : std::uint8_t { Const, Param, Unary, Binary, And, Or, Compare, In, Call };
    Kind kind = Kind::Const;
    Op op = Op::Add;
    Value value;
    std::size_t param = 0;
    std::vector<int> kids;
    std::vector<Op> cmps;
    std::vector<int> in_elems;  // a Compare chain ending in `in [...]`: the list
    std::size_t pos = 0;
  };

  [[noreturn]] void fail(std::size_t pos, const std::string& what) const {
    throw Error(ErrorCode::ParseError, "cannot parse constraint " + quote_text(text_) + ": " +
                                           what + caret_block(text_, pos));
  }
  [[noreturn]] void expected(const std::string& what) const {
    const Token& t = toks_[at_];
    std::string found =
        t.kind == Tok::End ? "the end of the constraint" : "'" + std::string(t.text) + "'";
    fail(t.pos,
         "expected " + what + " at column " + std::to_string(t.pos + 1) + ", found " + found);
  }

  // Bounds the recursion of the descent so that a pathological constraint such as a thousand
  // nested parentheses is a ParseError rather than a stack overflow. Each parenthesis level
  // takes three steps, so this allows about 100 levels.
  static constexpr int kMaxNesting = 300;
  struct NestingGuard {
    explicit NestingGuard(Parser& parser) : p(parser) {
      if (++p.nesting_ > kMaxNesting) {
        p.fail(p.peek().pos, "the constraint nests too deeply at column " +
                                 std::to_string(p.peek().pos + 1) +
                                 "; simplify it or split it into several constraints");
      }
    }
    ~NestingGuard() { --p.nesting_; }
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;
    Parser& p;
  };

  void tokenize();
  void lex_number(std::size_t& k);
  void lex_string(std::size_t& k);

  const Token& peek() const { return toks_[at_]; }
  bool is_punct(std::string_view p) const {
    return toks_[at_].kind == Tok::Punct && toks_[at_].text == p;
  }
  bool is_keyword(std::string_view w) const {
    return toks_[at_].kind == Tok::Name && toks_[at_].text == w;
  }
  void expect_punct(std::string_view p) {
    if (!is_punct(p)) expected("'" + std::string(p) + "'");
    ++at_;
  }

  int add(Node n) {
    nodes_.push_back(std::move(n));
    return static_cast<int>(nodes_.size() - 1);
  }
  int parse_or();
  int parse_and();
  int parse_not();
  int parse_comparison();
  int parse_sum();
  int parse_term();
  int parse_unary();
  int parse_power();
  int parse_primary();
  std::vector<int> parse_sequence_after_in();

  int fold(int idx);
  static bool numeric_const(const Node& n) {
    return n.kind == Node::Kind::Const && n.value.is_numeric();
  }

  void emit(int idx);
  void emit_binary(Op op, int left, int right, std::size_t pos);
  void emit_membership(Op op, const std::vector<int>& elems, std::size_t pos);
  void push(Op op, std::uint32_t arg, std::size_t pos, int depth_change, Op cmp = Op::Eq,
            Src src = Src::Stack) {
    code_.push_back({op, cmp, src, arg});
    positions_.push_back(pos);
    depth_ += depth_change;
    max_depth_ = std::max(max_depth_, depth_);
  }
  std::uint32_t add_const(const Value& v) {
    consts_.push_back(v);
    return static_cast<std::uint32_t>(consts_.size() - 1);
  }

  std::string_view text_;
  std::span<const std::string> names_;
  std::vector<Token> toks_;
  std::size_t at_ = 0;
  int nesting_ = 0;
  std::vector<Node> nodes_;

  std::vector<Instr> code_;
  std::vector<std::size_t> positions_;
  std::vector<Value> consts_;
  std::vector<std::vector<Value>> lists_;
  std::vector<std::size_t> used_;
  int depth_ = 0;
  int max_depth_ = 0;
};

void Parser::tokenize() {
  std::size_t k = 0;
  while (true) {
    while (k < text_.size() &&
           (text_[k] == ' ' || text_[k] == '\t' || text_[k] == '\n' || text_[k] == '\r')) {
      ++k;
    }
    if (k >= text_.size()) break;
    const char c = text_[k];
    if (is_digit(c) || (c == '.' && k + 1 < text_.size() && is_digit(text_[k + 1]))) {
      lex_number(k);
    } else if (is_name_start(c)) {
      const std::size_t start = k;
      while (k < text_.size() && is_name_char(text_[k])) ++k;
      Token t;
      t.kind = Tok::Name;
      t.pos = start;
      t.text = text_.substr(start, k - start);
      toks_.push_back(std::move(t));
    } else if (c == '\'' || c == '"') {
      lex_string(k);
    } else {
      static constexpr std::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
      static constexpr std::string_view kOne = "+-*/%<>()[],";
      Token t;
      t.kind = Tok::Punct;
      t.pos = k;
      const std::string_view two = text_.substr(k, 2);
      if (std::find(std::begin(kTwo), std::end(kTwo), two) != std::end(kTwo)) {
        t.text = two;
      } else if (kOne.find(c) != std::string_view::npos) {
        t.text = text_.substr(k, 1);
      } else {
        fail(k, "unexpected character '" + std::string(1, c) + "' at column " +
                    std::to_string(k + 1) +
                    "; constraints use numbers, parameter names, + - * / // % **, comparisons, "
                    "and/or/not, min/max and 'in [...]'");
      }
      k += t.text.size();
      toks_.push_back(std::move(t));
    }
  }
  Token end;
  end.kind = Tok::End;
  end.pos = text_.size();
  toks_.push_back(std::move(end));
}

void Parser::lex_number(std::size_t& k) {
  const std::size_t start = k;
  Token t;
  t.pos = start;
  std::string clean;  // without Python's digit-group underscores
  int base = 10;
  bool is_float = false;
  if (text_[k] == '0' && k + 1 < text_.size() &&
      std::string_view("xXoObB").find(text_[k + 1]) != std::string_view::npos) {
    const char b = static_cast<char>(text_[k + 1] | 0x20);
    base = b == 'x' ? 16 : b == 'o' ? 8 : 2;
    k += 2;
    while (k < text_.size() &&
           (std::isxdigit(static_cast<unsigned char>(text_[k])) || text_[k] == '_')) {
      if (text_[k] != '_') clean += text_[k];
      ++k;
    }
  } else {
    while (k < text_.size() && (is_digit(text_[k]) || text_[k] == '_')) {
      if (text_[k] != '_') clean += text_[k];
      ++k;
    }
    if (k < text_.size() && text_[k] == '.') {
      is_float = true;
      clean += text_[k++];
      while (k < text_.size() && (is_digit(text_[k]) || text_[k] == '_')) {
        if (text_[k] != '_') clean += text_[k];
        ++k;
      }
    }
    if (k < text_.size() && (text_[k] == 'e' || text_[k] == 'E')) {
      std::size_t e = k + 1;
      if (e < text_.size() && (text_[e] == '+' || text_[e] == '-')) ++e;
      if (e < text_.size() && is_digit(text_[e])) {
        is_float = true;
        clean += text_.substr(k, e - k);
        k = e;
        while (k < text_.size() && is_digit(text_[k])) clean += text_[k++];
      }
    }
  }
  t.text = text_.substr(start, k - start);
  if (k < text_.size() && (is_name_char(text_[k]) || text_[k] == '.')) {
    fail(start, "invalid number '" + std::string(text_.substr(start, k + 1 - start)) +
                    "' at column " + std::to_string(start + 1));
  }
  const char* first = clean.data();
  const char* last = clean.data() + clean.size();
  if (is_float) {
    t.kind = Tok::Float;
    if (!clean.empty() && clean.front() == '.') clean.insert(clean.begin(), '0');
    first = clean.data();
    last = clean.data() + clean.size();
    auto r = std::from_chars(first, last, t.fval);
    if (r.ec == std::errc::result_out_of_range) {
      t.fval = std::strtod(clean.c_str(), nullptr);  // Python gives inf or 0.0 here as well
    } else if (r.ec != std::errc() || r.ptr != last) {
      fail(start,
           "invalid number '" + std::string(t.text) + "' at column " + std::to_string(start + 1));
    }
  } else {
    t.kind = Tok::Int;
    auto r = std::from_chars(first, last, t.ival, base);
    if (r.ec == std::errc::result_out_of_range) {
      fail(start, "integer " + std::string(t.text) + " at column " + std::to_string(start + 1) +
                      " does not fit in int64; write it as a float (e.g. 1e30)");
    }
    if (r.ec != std::errc() || r.ptr != last || clean.empty()) {
      fail(start,
           "invalid number '" + std::string(t.text) + "' at column " + std::to_string(start + 1));
    }
  }
  toks_.push_back(std::move(t));
}

void Parser::lex_string(std::size_t& k) {
  const std::size_t start = k;
  const char quote = text_[k++];
  Token t;
  t.kind = Tok::Str;
  t.pos = start;
  while (true) {
    if (k >= text_.size()) {
      fail(start, "string starting at column " + std::to_string(start + 1) +
                      " is not closed; expected " + std::string(1, quote) + " before the end");
    }
    const char c = text_[k++];
    if (c == quote) break;
    if (c == '\\' && k < text_.size()) {
      const char e = text_[k++];
      switch (e) {
        case 'n': t.sval += '\n'; break;
        case 't': t.sval += '\t'; break;
        case '\\':
        case '\'':
        case '"': t.sval += e; break;
        default:  // Python keeps unknown escapes as written
          t.sval += '\\';
          t.sval += e;
      }
    } else {
      t.sval += c;
    }
  }
  t.text = text_.substr(start, k - start);
  toks_.push_back(std::move(t));
}

int Parser::parse_or() {
  const NestingGuard guard(*this);
  int left = parse_and();
  while (is_keyword("or")) {
    const std::size_t pos = peek().pos;
    ++at_;
    const int right = parse_and();
    Node n;
    n.kind = Node::Kind::Or;
    n.kids = {left, right};
    n.pos = pos;
    left = fold(add(std::move(n)));
  }
  return left;
}

int Parser::parse_and() {
  int left = parse_not();
  while (is_keyword("and")) {
    const std::size_t pos = peek().pos;
    ++at_;
    const int right = parse_not();
    Node n;
    n.kind = Node::Kind::And;
    n.kids = {left, right};
    n.pos = pos;
    left = fold(add(std::move(n)));
  }
  return left;
}

int Parser::parse_not() {
  const NestingGuard guard(*this);
  if (is_keyword("not")) {
    const std::size_t pos = peek().pos;
    ++at_;
    Node n;
    n.kind = Node::Kind::Unary;
    n.op = Op::Not;
    n.kids = {parse_not()};
    n.pos = pos;
    return fold(add(std::move(n)));
  }
  return parse_comparison();
}

int Parser::parse_comparison() {
  const int first = parse_sum();
  Node chain;
  chain.kind = Node::Kind::Compare;
  chain.kids = {first};
  chain.pos = nodes_[static_cast<std::size_t>(first)].pos;
  while (true) {
    const Token& t = peek();
    std::optional<Op> op;
    bool in_op = false;
    if (t.kind == Tok::Punct) {
      if (t.text == "==") op = Op::Eq;
      if (t.text == "!=") op = Op::Ne;
      if (t.text == "<") op = Op::Lt;
      if (t.text == "<=") op = Op::Le;
      if (t.text == ">") op = Op::Gt;
      if (t.text == ">=") op = Op::Ge;
    } else if (is_keyword("in")) {
      op = Op::In;
      in_op = true;
    } else if (is_keyword("not") && toks_[at_ + 1].kind == Tok::Name &&
               toks_[at_ + 1].text == "in") {
      op = Op::NotIn;
      in_op = true;
    }
    if (!op) break;
    const std::size_t pos = t.pos;
    if (in_op) {
      at_ += *op == Op::NotIn ? 2 : 1;
      std::vector<int> elems = parse_sequence_after_in();
      const Token& next = peek();
      const bool continues = (next.kind == Tok::Punct &&
                              (next.text == "==" || next.text == "!=" || next.text == "<" ||
                               next.text == "<=" || next.text == ">" || next.text == ">=")) ||
                             is_keyword("in") || (is_keyword("not") && toks_[at_ + 1].text == "in");
      // Python would go on to compare the list itself, which a constraint has no use for.
      if (continues) {
        fail(next.pos, "a comparison at column " + std::to_string(next.pos + 1) +
                           " cannot follow 'in [...]' in one chain; add parentheses");
      }
      if (chain.kids.size() == 1) {
        Node n;
        n.kind = Node::Kind::In;
        n.op = *op;
        n.pos = pos;
        n.kids = {first};
        n.kids.insert(n.kids.end(), elems.begin(), elems.end());
        return add(std::move(n));
      }
      // `a < b in [..]` is `a < b and b in [..]`: the chain's last link tests membership.
      chain.cmps.push_back(*op);
      chain.in_elems = std::move(elems);
      return add(std::move(chain));
    }
    ++at_;
    chain.cmps.push_back(*op);
    chain.kids.push_back(parse_sum());
  }
  if (chain.kids.size() == 1) return first;
  return fold(add(std::move(chain)));
}

std::vector<int> Parser::parse_sequence_after_in() {
  std::string close;
  if (is_punct("[")) {
    close = "]";
  } else if (is_punct("(")) {
    close = ")";
  } else {
    expected("a list '[...]' or tuple '(...)' after 'in'");
  }
  ++at_;
  std::vector<int> elems;
  bool comma = false;
  while (!is_punct(close)) {
    elems.push_back(parse_or());
    if (is_punct(",")) {
      ++at_;
      comma = true;
    } else if (!is_punct(close)) {
      expected("',' or '" + close + "'");
    }
  }
  if (close == ")" && elems.size() == 1 && !comma) {
    expected("',' (a one-element tuple is written '(x,)')");
  }
  ++at_;
  return elems;
}

int Parser::parse_sum() {
  int left = parse_term();
  while (is_punct("+") || is_punct("-")) {
    Node n;
    n.kind = Node::Kind::Binary;
    n.op = peek().text == "+" ? Op::Add : Op::Sub;
    n.pos = peek().pos;
    ++at_;
    n.kids = {left, parse_term()};
    left = fold(add(std::move(n)));
  }
  return left;
}

int Parser::parse_term() {
  int left = parse_unary();
  while (is_punct("*") || is_punct("/") || is_punct("//") || is_punct("%")) {
    Node n;
    n.kind = Node::Kind::Binary;
    const std::string_view t = peek().text;
    n.op = t == "*" ? Op::Mul : t == "/" ? Op::TrueDiv : t == "//" ? Op::FloorDiv : Op::Mod;
    n.pos = peek().pos;
    ++at_;
    n.kids = {left, parse_unary()};
    left = fold(add(std::move(n)));
  }
  return left;
}

int Parser::parse_unary() {
  const NestingGuard guard(*this);
  if (is_punct("-") || is_punct("+")) {
    Node n;
    n.kind = Node::Kind::Unary;
    n.op = peek().text == "-" ? Op::Neg : Op::Pos;
    n.pos = peek().pos;
    ++at_;
    n.kids = {parse_unary()};
    return fold(add(std::move(n)));
  }
  return parse_power();
}

int Parser::parse_power() {
  const int base = parse_primary();
  if (!is_punct("**")) return base;
  Node n;
  n.kind = Node::Kind::Binary;
  n.op = Op::Pow;
  n.pos = peek().pos;
  ++at_;
  // The exponent is a unary expression, which makes ** right-associative and lets 2**-1 parse.
  n.kids = {base, parse_unary()};
  return fold(add(std::move(n)));
}

int Parser::parse_primary() {
  const Token& t = peek();
  Node n;
  n.pos = t.pos;
  switch (t.kind) {
    case Tok::Int:
      n.value = Value(t.ival);
      ++at_;
      return add(std::move(n));
    case Tok::Float:
      n.value = Value(t.fval);
      ++at_;
      return add(std::move(n));
    case Tok::Str:
      n.value = Value(t.sval);
      ++at_;
      return add(std::move(n));
    case Tok::Name: {
      const std::string_view name = t.text;
      if (name == "True" || name == "False") {
        n.value = Value(name == "True");
        ++at_;
        return add(std::move(n));
      }
      static constexpr std::string_view kKeywords[] = {"and", "or",   "not",    "in",   "is",
                                                       "if",  "else", "lambda", "None", "for"};
      if (std::find(std::begin(kKeywords), std::end(kKeywords), name) != std::end(kKeywords)) {
        expected("a number, a parameter name or '('");
      }
      const bool call = toks_[at_ + 1].kind == Tok::Punct && toks_[at_ + 1].text == "(";
      if (call) {
        if (name != "min" && name != "max") {
          throw Error(ErrorCode::UnknownName,
                      "constraint " + quote_text(text_) + " calls unknown function '" +
                          std::string(name) + "' at column " + std::to_string(t.pos + 1) +
                          "; the functions available are min and max" + caret_block(text_, t.pos));
        }
        n.kind = Node::Kind::Call;
        n.op = name == "min" ? Op::Min : Op::Max;
        at_ += 2;
        while (!is_punct(")")) {
          n.kids.push_back(parse_or());
          if (is_punct(",")) {
            ++at_;
          } else if (!is_punct(")")) {
            expected("',' or ')'");
          }
        }
        if (n.kids.size() < 2) {
          fail(peek().pos, std::string(name) + "() at column " + std::to_string(n.pos + 1) +
                               " needs at least two arguments");
        }
        ++at_;
        return fold(add(std::move(n)));
      }
      const auto it = std::find(names_.begin(), names_.end(), name);
      if (it == names_.end()) {
        std::string list;
        for (const auto& p : names_) list += (list.empty() ? "" : ", ") + p;
        if (list.empty()) list = "(none)";
        throw Error(ErrorCode::UnknownName,
                    "constraint " + quote_text(text_) + " uses unknown name '" + std::string(name) +
                        "' at column " + std::to_string(t.pos + 1) +
                        "; the parameters are: " + list + caret_block(text_, t.pos));
      }
      n.kind = Node::Kind::Param;
      n.param = static_cast<std::size_t>(it - names_.begin());
      ++at_;
      return add(std::move(n));
    }
    case Tok::Punct:
      if (t.text == "(") {
        ++at_;
        const int inner = parse_or();
        if (is_punct(",")) {
          fail(peek().pos,
               "a tuple at column " + std::to_string(n.pos + 1) + " can only follow 'in'");
        }
        expect_punct(")");
        return inner;
      }
      if (t.text == "[") {
        fail(t.pos, "a list at column " + std::to_string(t.pos + 1) + " can only follow 'in'");
      }
      expected("a number, a parameter name or '('");
    case Tok::End: expected("a number, a parameter name or '('");
  }
  expected("a number, a parameter name or '('");
}

// Folds a node whose operands are numeric constants (e.g. `12*1024`), and `and`/`or` with a
// constant left side, so the evaluator never recomputes them. Operations that fail (1/0) stay
// in the program and fail at run time, as in Python.
int Parser::fold(int idx) {
  Node& n = nodes_[static_cast<std::size_t>(idx)];
  auto kid = [&](std::size_t k) -> Node& { return nodes_[static_cast<std::size_t>(n.kids[k])]; };
  const auto make_const = [&](const Operand& o) {
    n.kind = Node::Kind::Const;
    n.value = to_value(o);
    n.kids.clear();
    return idx;
  };
  switch (n.kind) {
    case Node::Kind::Unary: {
      if (!numeric_const(kid(0))) return idx;
      Operand o = Operand::of(kid(0).value);
      if (n.op == Op::Not) return make_const(make_bool(!truthy(o)));
      if (n.op == Op::Neg) {
        if (o.kind == Kind::Float) return make_const(make_float(-o.d));
        if (o.i == std::numeric_limits<std::int64_t>::min()) return idx;
        return make_const(make_int(-o.i));
      }
      if (o.kind == Kind::Bool) o.kind = Kind::Int;
      return make_const(o);
    }
    case Node::Kind::Binary: {
      if (!numeric_const(kid(0)) || !numeric_const(kid(1))) return idx;
      Operand out;
      if (arith(n.op, Operand::of(kid(0).value), Operand::of(kid(1).value), out) != Status::Ok) {
        return idx;
      }
      return make_const(out);
    }
    case Node::Kind::Compare: {
      if (!n.in_elems.empty()) return idx;
      for (std::size_t k = 0; k < n.kids.size(); ++k) {
        if (!numeric_const(kid(k))) return idx;
      }
      bool all = true;
      for (std::size_t k = 0; k < n.cmps.size() && all; ++k) {
        compare(n.cmps[k], Operand::of(kid(k).value), Operand::of(kid(k + 1).value), all);
      }
      return make_const(make_bool(all));
    }
    case Node::Kind::And:
    case Node::Kind::Or: {
      if (kid(0).kind != Node::Kind::Const) return idx;
      const bool left = truthy(Operand::of(kid(0).value));
      const bool take_left = n.kind == Node::Kind::And ? !left : left;
      return n.kids[take_left ? 0 : 1];
    }
    case Node::Kind::Call: {
      for (std::size_t k = 0; k < n.kids.size(); ++k) {
        if (!numeric_const(kid(k))) return idx;
      }
      Operand best = Operand::of(kid(0).value);
      for (std::size_t k = 1; k < n.kids.size(); ++k) {
        const Operand e = Operand::of(kid(k).value);
        bool r;
        compare(n.op == Op::Min ? Op::Lt : Op::Gt, e, best, r);
        if (r) best = e;
      }
      return make_const(best);
    }
    default: return idx;
  }
}

// Emits `left op right`, with a constant or parameter on the right fused into the operation.
// The left operand of a comparison chain's last link is already on the stack (left < 0).
void Parser::emit_binary(Op op, int left, int right, std::size_t pos) {
  if (left >= 0) emit(left);
  const Node& r = nodes_[static_cast<std::size_t>(right)];
  if (r.kind == Node::Kind::Const) {
    push(op, add_const(r.value), pos, 0, Op::Eq, Src::Const);
  } else if (r.kind == Node::Kind::Param) {
    push(op, static_cast<std::uint32_t>(r.param), pos, 0, Op::Eq, Src::Param);
    used_.push_back(r.param);
  } else {
    emit(right);
    push(op, 0, pos, -1);
  }
}

// Emits `x in [elems]` with x already on the stack. A list of constants becomes one instruction
// over a prepared list; otherwise the elements are pushed and compared on the stack.
void Parser::emit_membership(Op op, const std::vector<int>& elems, std::size_t pos) {
  const bool constant = std::all_of(elems.begin(), elems.end(), [&](int k) {
    return nodes_[static_cast<std::size_t>(k)].kind == Node::Kind::Const;
  });
  if (constant) {
    std::vector<Value> list;
    for (int k : elems) list.push_back(nodes_[static_cast<std::size_t>(k)].value);
    lists_.push_back(std::move(list));
    push(op == Op::In ? Op::InList : Op::NotInList, static_cast<std::uint32_t>(lists_.size() - 1),
         pos, 0);
  } else {
    for (int k : elems) emit(k);
    push(op, static_cast<std::uint32_t>(elems.size()), pos, -static_cast<int>(elems.size()));
  }
}

void Parser::emit(int idx) {
  const Node& n = nodes_[static_cast<std::size_t>(idx)];
  switch (n.kind) {
    case Node::Kind::Const: push(Op::PushConst, add_const(n.value), n.pos, +1); break;
    case Node::Kind::Param:
      push(Op::PushParam, static_cast<std::uint32_t>(n.param), n.pos, +1);
      used_.push_back(n.param);
      break;
    case Node::Kind::Unary:
      emit(n.kids[0]);
      push(n.op, 0, n.pos, 0);
      break;
    case Node::Kind::Binary: emit_binary(n.op, n.kids[0], n.kids[1], n.pos); break;
    case Node::Kind::And:
    case Node::Kind::Or: {
      emit(n.kids[0]);
      const std::size_t jump = code_.size();
      push(n.kind == Node::Kind::And ? Op::JumpIfFalseOrPop : Op::JumpIfTrueOrPop, 0, n.pos, -1);
      emit(n.kids[1]);
      code_[jump].arg = static_cast<std::uint32_t>(code_.size());
      break;
    }
    case Node::Kind::Compare: {
      emit(n.kids[0]);
      std::vector<std::size_t> jumps;
      for (std::size_t k = 0; k + 1 < n.cmps.size(); ++k) {
        emit(n.kids[k + 1]);
        jumps.push_back(code_.size());
        push(Op::ChainCmp, 0, n.pos, -1, n.cmps[k]);
      }
      if (n.cmps.back() == Op::In || n.cmps.back() == Op::NotIn) {
        emit_membership(n.cmps.back(), n.in_elems, n.pos);
      } else {
        emit_binary(n.cmps.back(), -1, n.kids.back(), n.pos);
      }
      for (std::size_t j : jumps) code_[j].arg = static_cast<std::uint32_t>(code_.size());
      break;
    }
    case Node::Kind::In:
      emit(n.kids[0]);
      emit_membership(n.op, std::vector<int>(n.kids.begin() + 1, n.kids.end()), n.pos);
      break;
    case Node::Kind::Call:
      for (int k : n.kids) emit(k);
      push(n.op, static_cast<std::uint32_t>(n.kids.size()), n.pos,
           1 - static_cast<int>(n.kids.size()));
      break;
  }
}

std::shared_ptr<Program> Parser::run() {
  tokenize();
  if (peek().kind == Tok::End) {
    fail(0, "the constraint is empty; write an expression such as 'x % 2 == 0'");
  }
  const int root = parse_or();
  if (peek().kind != Tok::End) expected("an operator or the end of the constraint");
  emit(root);
  if (static_cast<std::size_t>(max_depth_) > kMaxStack) {
    fail(0, "the constraint nests too deeply to evaluate (more than " + std::to_string(kMaxStack) +
                " pending operands); split it into several constraints");
  }
  auto p = std::make_shared<Program>();
  p->text = std::string(text_);
  p->code = std::move(code_);
  p->positions = std::move(positions_);
  p->stack_size = static_cast<std::size_t>(max_depth_);
  std::sort(used_.begin(), used_.end());
  used_.erase(std::unique(used_.begin(), used_.end()), used_.end());
  p->params_used = std::move(used_);

  // Strings first, completely, so that operands may point into them.
  std::size_t string_count = 0;
  for (const Value& v : consts_) string_count += v.is_string() ? 1 : 0;
  for (const auto& list : lists_) {
    for (const Value& v : list) string_count += v.is_string() ? 1 : 0;
  }
  p->strings.reserve(string_count);
  const auto operand = [&](const Value& v) {
    if (!v.is_string()) return Operand::of(v);
    p->strings.push_back(v.as_string());
    Operand o;
    o.kind = Kind::Str;
    o.s = &p->strings.back();
    return o;
  };
  for (const Value& v : consts_) p->consts.push_back(operand(v));
  for (const auto& list : lists_) {
    std::vector<Operand> ops;
    for (const Value& v : list) ops.push_back(operand(v));
    p->lists.push_back(std::move(ops));
  }
  return p;
}

}  // namespace

}  // namespace detail

// Expression

Expression Expression::parse(std::string_view text, std::span<const std::string> param_names) {
  detail::Parser parser(text, param_names);
  return Expression(parser.run());
}

const std::string& Expression::text() const noexcept { return program_->text; }

const std::vector<std::size_t>& Expression::params_used() const noexcept {
  return program_->params_used;
}

bool Expression::test(std::span<const Value> values) const {
  detail::Operand result;
  detail::Fault fault;
  const auto load = [values](std::uint32_t i) { return detail::Operand::of(values[i]); };
  const detail::Status s = detail::execute(*program_, load, result, fault);
  if (s == detail::Status::Ok) return detail::truthy(result);
  if (s == detail::Status::Arithmetic) return false;
  detail::throw_runtime(*program_, s, fault);
}

bool Expression::test(std::span<const detail::Operand> operands) const {
  detail::Operand result;
  detail::Fault fault;
  const detail::Operand* data = operands.data();
  const auto load = [data](std::uint32_t i) { return data[i]; };
  const detail::Status s = detail::execute(*program_, load, result, fault);
  if (s == detail::Status::Ok) return detail::truthy(result);
  if (s == detail::Status::Arithmetic) return false;
  detail::throw_runtime(*program_, s, fault);
}

Value Expression::evaluate(std::span<const Value> values) const {
  detail::Operand result;
  detail::Fault fault;
  const auto load = [values](std::uint32_t i) { return detail::Operand::of(values[i]); };
  const detail::Status s = detail::execute(*program_, load, result, fault);
  if (s != detail::Status::Ok) detail::throw_runtime(*program_, s, fault);
  return detail::to_value(result);
}

}  // namespace attune
