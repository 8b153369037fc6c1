// Reads a spec file (TOML, format in docs/spec-files.md) into a KernelSpec with toml++, checking
// everything that can be checked without compiling: every key is known, every value has the
// expected type and range, every expression parses against the names it may read, and every file
// it names exists. Each error begins with "file:line: key `dotted.key`" and says what was
// expected, so a user fixes a spec from the message alone.

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <set>
#include <sstream>

#include "attune/error.hpp"
#include "attune/expression.hpp"
#include "attune/kernel_spec.hpp"
#include "attune/strategy_registry.hpp"

namespace attune {
namespace {

using Entries = std::vector<std::pair<std::string, const toml::node*>>;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const bool same = std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                        std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// " (did you mean `x`?)" for the closest candidate within a couple of edits, else "".
std::string did_you_mean(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (std::string_view c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean `" + std::string(best) + "`?)";
}

std::string join(std::span<const std::string_view> words, std::string_view quote = "") {
  std::string out;
  for (std::string_view w : words) {
    out += (out.empty() ? "" : ", ") + std::string(quote) + std::string(w) + std::string(quote);
  }
  return out;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string what_is(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "the string \"" + *node.value<std::string>() + "\"";
    case toml::node_type::integer:
      return "the integer " + std::to_string(*node.value<std::int64_t>());
    case toml::node_type::floating_point:
      return "the float " + Value(*node.value<double>()).to_string();
    case toml::node_type::boolean: return *node.value<bool>() ? "true" : "false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

// A table's entries in the order they were written (toml++ keeps them sorted by name), since the
// order of parameters and problem sizes is meaningful.
Entries in_written_order(const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> keyed;
  for (const auto& [key, node] : table) keyed.emplace_back(&key, &node);
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) {
    const toml::source_position pa = a.first->source().begin;
    const toml::source_position pb = b.first->source().begin;
    return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
  });
  Entries out;
  for (const auto& [key, node] : keyed) out.emplace_back(std::string(key->str()), node);
  return out;
}

constexpr std::string_view kTopLevel[] = {"kernel", "problem", "params",    "arguments",
                                          "launch", "verify",  "objective", "tuning"};
constexpr std::string_view kKernelKeys[] = {"name",    "source", "entry",
                                            "backend", "flags",  "compiler"};
constexpr std::string_view kBackends[] = {"cpp", "opencl"};
constexpr std::string_view kParamForms[] = {"values", "range", "step", "powers", "base"};
constexpr std::string_view kArgumentKeys[] = {"name", "type",   "size", "value",
                                              "init", "output", "local"};
constexpr std::string_view kElementTypeNames[] = {"float32", "float64", "int32",
                                                  "int64",   "uint8",   "uint32"};
constexpr std::string_view kInitKinds[] = {"random", "constant", "range", "file", "zero"};
constexpr std::string_view kRandomKeys[] = {"seed", "low", "high"};
constexpr std::string_view kRangeInitKeys[] = {"start", "step"};
constexpr std::string_view kLaunchKeys[] = {"global", "local"};
constexpr std::string_view kVerifyKeys[] = {"reference", "answer", "tolerance"};
constexpr std::string_view kReferenceKeys[] = {"source", "entry", "global", "local"};
constexpr std::string_view kToleranceKeys[] = {"rel_l2", "max_abs"};
constexpr std::string_view kObjectiveKeys[] = {"flops", "bytes"};
constexpr std::string_view kTuningKeys[] = {"strategy", "budget",    "time_s",
                                            "seed",     "timeout_s", "memory_limit"};

class SpecReader {
 public:
  explicit SpecReader(std::filesystem::path file)
      : file_(std::move(file)),
        dir_(std::filesystem::absolute(file_).lexically_normal().parent_path()) {}

  KernelSpec read(const toml::table& root) {
    spec_.path = file_;
    check_keys(root, "", kTopLevel);
    const toml::table& kernel = required_table(root, "kernel", nullptr);
    read_kernel(kernel);
    if (const toml::node* problem = root.get("problem")) {
      read_problem(as_table(*problem, "problem"));
    }
    read_params(required_table(root, "params", nullptr));
    read_arguments(root.get("arguments"));
    read_launch(root.get("launch"), kernel);
    if (const toml::node* verify = root.get("verify")) read_verify(as_table(*verify, "verify"));
    if (const toml::node* objective = root.get("objective")) {
      read_objective(as_table(*objective, "objective"));
    }
    if (const toml::node* tuning = root.get("tuning")) read_tuning(as_table(*tuning, "tuning"));
    check_outputs(root, kernel);
    return std::move(spec_);
  }

 private:
  SpecLocation at(const toml::node* node, std::string key) const {
    return SpecLocation{file_, node ? static_cast<int>(node->source().begin.line) : 0,
                        std::move(key)};
  }
  [[noreturn]] void fail(const SpecLocation& where, const std::string& what,
                         ErrorCode code = ErrorCode::InvalidArgument) const {
    throw Error(code, where.describe() + ": " + what);
  }
  [[noreturn]] void wrong_type(const toml::node& node, const std::string& key,
                               const std::string& expected) const {
    fail(at(&node, key), "expected " + expected + ", got " + what_is(node));
  }
  static std::string dotted(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : std::string(prefix) + '.' + std::string(key);
  }

  void check_keys(const toml::table& table, std::string_view prefix,
                  std::span<const std::string_view> allowed) const {
    for (const auto& [key, node] : in_written_order(table)) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      fail(at(node, dotted(prefix, key)),
           "unknown key" + did_you_mean(key, allowed) + "; " +
               (prefix.empty() ? std::string("the tables of a spec are ")
                               : "[" + std::string(prefix) + "] takes ") +
               join(allowed, "`"));
    }
  }

  const toml::table& as_table(const toml::node& node, const std::string& key) const {
    if (const toml::table* t = node.as_table()) return *t;
    wrong_type(node, key, "a table ([" + key + "] or an inline { ... })");
  }
  const toml::table& required_table(const toml::table& root, const std::string& key,
                                    const toml::node* near) const {
    const toml::node* node = root.get(key);
    if (!node) fail(at(near, key), "missing: every spec needs a [" + key + "] table");
    return as_table(*node, key);
  }

  // A required key of `table`; a missing one is reported at the table's line.
  const toml::node& required(const toml::table& table, std::string_view key,
                             const std::string& dotted_key, const std::string& expected) const {
    const toml::node* node = table.get(key);
    if (!node) fail(at(&table, dotted_key), "missing; expected " + expected);
    return *node;
  }

  std::string string_value(const toml::node& node, const std::string& key,
                           const std::string& expected = "a string") const {
    if (auto s = node.value_exact<std::string>()) return *s;
    wrong_type(node, key, expected);
  }
  double number_value(const toml::node& node, const std::string& key) const {
    if (node.is_integer()) return static_cast<double>(*node.value<std::int64_t>());
    if (auto d = node.value_exact<double>()) return *d;
    wrong_type(node, key, "a number");
  }
  std::int64_t integer_value(const toml::node& node, const std::string& key,
                             std::int64_t minimum) const {
    const auto i = node.value_exact<std::int64_t>();
    if (!i) wrong_type(node, key, "an integer >= " + std::to_string(minimum));
    if (*i < minimum) {
      fail(at(&node, key),
           "expected an integer >= " + std::to_string(minimum) + ", got " + std::to_string(*i));
    }
    return *i;
  }
  bool bool_value(const toml::node& node, const std::string& key) const {
    if (auto b = node.value_exact<bool>()) return *b;
    wrong_type(node, key, "true or false");
  }
  // An expression written as a string, or a plain number.
  std::string expression_text(const toml::node& node, const std::string& key) const {
    if (auto s = node.value_exact<std::string>()) {
      if (s->find_first_not_of(" \t") == std::string::npos) {
        fail(at(&node, key), "expected an expression, got an empty string");
      }
      return *s;
    }
    if (auto i = node.value_exact<std::int64_t>()) return std::to_string(*i);
    if (auto d = node.value_exact<double>()) return Value(*d).to_string();
    wrong_type(node, key, "an expression (a string such as \"m * k\") or a number");
  }

  std::filesystem::path existing_file(const toml::node& node, const std::string& key,
                                      const std::string& what) const {
    const std::string text = string_value(node, key, "a file path (a string)");
    std::filesystem::path path(text);
    if (path.is_relative()) path = dir_ / path;
    path = path.lexically_normal();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      fail(at(&node, key),
           what + " \"" + text + "\" not found (looked for " + path.string() +
               "; relative paths are relative to the spec's directory)",
           ErrorCode::NotFound);
    }
    return path;
  }

  // Names an expression may read: problem sizes, then parameters (as evaluate_spec_expression
  // binds them).
  std::vector<std::string> expression_names() const {
    std::vector<std::string> names;
    for (const auto& [name, value] : spec_.problem) names.push_back(name);
    for (const Param& p : spec_.params) names.push_back(p.name);
    return names;
  }
  Expression checked_expression(const std::string& text, const SpecLocation& where,
                                std::span<const std::string> names) const {
    try {
      return Expression::parse(text, names);
    } catch (const Error& e) {
      fail(where, e.what(), e.code());
    }
  }

  void read_kernel(const toml::table& kernel) {
    check_keys(kernel, "kernel", kKernelKeys);
    const toml::node& backend =
        required(kernel, "backend", "kernel.backend", "the backend, \"cpp\" or \"opencl\"");
    spec_.backend = string_value(backend, "kernel.backend", "\"cpp\" or \"opencl\"");
    if (std::find(std::begin(kBackends), std::end(kBackends), spec_.backend) ==
        std::end(kBackends)) {
      fail(at(&backend, "kernel.backend"), "expected \"cpp\" or \"opencl\", got \"" +
                                               spec_.backend + "\"" +
                                               did_you_mean(spec_.backend, kBackends));
    }
    const toml::node& entry = required(kernel, "entry", "kernel.entry",
                                       "the kernel's function name, e.g. entry = \"sgemm\"");
    spec_.entry = string_value(entry, "kernel.entry");
    if (!is_identifier(spec_.entry)) {
      fail(at(&entry, "kernel.entry"),
           "expected a function name (letters, digits, _), got \"" + spec_.entry + "\"");
    }
    spec_.name = spec_.entry;
    if (const toml::node* name = kernel.get("name")) {
      spec_.name = string_value(*name, "kernel.name");
      if (spec_.name.empty()) fail(at(name, "kernel.name"), "expected a non-empty name");
    }
    spec_.source = existing_file(
        required(kernel, "source", "kernel.source", "the kernel's source file, e.g. \"k.cl\""),
        "kernel.source", "source file");

    const bool cpp = spec_.backend == "cpp";
    if (cpp) spec_.flags = {"-O3", "-march=native"};
    if (const toml::node* flags = kernel.get("flags")) {
      spec_.flags = string_list(*flags, "kernel.flags");
    }
    if (const toml::node* compiler = kernel.get("compiler")) {
      if (!cpp) {
        fail(at(compiler, "kernel.compiler"),
             "only cpp kernels take a compiler; the OpenCL runtime builds OpenCL programs (pass "
             "build options in `flags`)");
      }
      spec_.compiler = string_value(*compiler, "kernel.compiler");
      if (spec_.compiler.empty()) fail(at(compiler, "kernel.compiler"), "expected a command");
    }
  }

  std::vector<std::string> string_list(const toml::node& node, const std::string& key) const {
    const toml::array* array = node.as_array();
    if (!array) wrong_type(node, key, "an array of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < array->size(); ++i) {
      out.push_back(string_value((*array)[i], key + '[' + std::to_string(i) + ']'));
    }
    return out;
  }

  void read_problem(const toml::table& problem) {
    for (const auto& [name, node] : in_written_order(problem)) {
      const std::string key = "problem." + name;
      if (!is_identifier(name)) {
        fail(at(node, key), "a problem size needs a name made of letters, digits and _");
      }
      spec_.problem.emplace_back(name, integer_value(*node, key, 0));
    }
  }

  void read_params(const toml::table& params) {
    for (const auto& [name, node] : in_written_order(params)) {
      const std::string key = "params." + name;
      if (name == "restrictions") {
        read_restrictions(*node);
        continue;
      }
      if (!is_identifier(name)) {
        fail(at(node, key),
             "a parameter becomes a -D macro, so its name must be letters, digits and _");
      }
      for (const auto& [size, value] : spec_.problem) {
        if (size == name) {
          fail(at(node, key), "`" + name +
                                  "` is also a problem size; expressions could not tell them "
                                  "apart, so rename one");
        }
      }
      spec_.params.push_back(Param{name, param_values(*node, key)});
    }
    if (spec_.params.empty()) {
      fail(at(&params, "params"),
           "no parameters; add at least one, e.g. block_size = [32, 64, 128]");
    }
    // Restrictions are checked once every parameter is known, wherever they were written.
    std::vector<std::string> names;
    for (const Param& p : spec_.params) names.push_back(p.name);
    for (const auto& [size, value] : spec_.problem) names.push_back(size);
    for (std::size_t i = 0; i < spec_.restrictions.size(); ++i) {
      const SpecLocation& where = spec_.restriction_locations[i];
      const Expression e = checked_expression(spec_.restrictions[i], where, names);
      const bool reads_param =
          std::any_of(e.params_used().begin(), e.params_used().end(),
                      [&](std::size_t position) { return position < spec_.params.size(); });
      if (!reads_param) {
        fail(where, "restriction `" + spec_.restrictions[i] +
                        "` reads no tunable parameter, so it rules out every configuration or "
                        "none; name a parameter in it");
      }
    }
  }

  void read_restrictions(const toml::node& node) {
    if (node.is_string()) {
      spec_.restrictions.push_back(*node.value<std::string>());
      spec_.restriction_locations.push_back(at(&node, "params.restrictions"));
      return;
    }
    const toml::array* array = node.as_array();
    if (!array) wrong_type(node, "params.restrictions", "an array of expression strings");
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string key = "params.restrictions[" + std::to_string(i) + "]";
      spec_.restrictions.push_back(string_value((*array)[i], key, "an expression string"));
      spec_.restriction_locations.push_back(at(&(*array)[i], key));
    }
  }

  std::optional<Value> scalar_value(const toml::node& node) const {
    if (auto i = node.value_exact<std::int64_t>()) return Value(*i);
    if (auto d = node.value_exact<double>()) return Value(*d);
    if (auto b = node.value_exact<bool>()) return Value(*b);
    if (auto s = node.value_exact<std::string>()) return Value(*s);
    return std::nullopt;
  }

  std::vector<Value> param_values(const toml::node& node, const std::string& key) const {
    if (auto v = scalar_value(node)) return {*v};  // a fixed parameter
    if (const toml::array* array = node.as_array()) return value_list(*array, key);
    const toml::table* table = node.as_table();
    if (!table) {
      wrong_type(node, key,
                 "a list of values, a single value, or { values = [...] }, "
                 "{ range = [first, last], step = s } or { powers = [first, last] }");
    }
    check_keys(*table, key, kParamForms);
    const toml::node* values = table->get("values");
    const toml::node* range = table->get("range");
    const toml::node* powers = table->get("powers");
    if ((values != nullptr) + (range != nullptr) + (powers != nullptr) != 1) {
      fail(at(table, key), "expected exactly one of `values`, `range` or `powers`");
    }
    if (const toml::node* step = table->get("step"); step && !range) {
      fail(at(step, key + ".step"), "`step` goes with `range`");
    }
    if (const toml::node* base = table->get("base"); base && !powers) {
      fail(at(base, key + ".base"), "`base` goes with `powers`");
    }
    if (values) {
      const toml::array* array = values->as_array();
      if (!array) wrong_type(*values, key + ".values", "an array of values");
      return value_list(*array, key + ".values");
    }
    if (range) {
      const auto [first, last] = integer_pair(*range, key + ".range");
      std::int64_t step = 1;
      if (const toml::node* s = table->get("step")) step = integer_value(*s, key + ".step", 1);
      if (last < first) {
        fail(at(range, key + ".range"), "expected [first, last] with first <= last, got [" +
                                            std::to_string(first) + ", " + std::to_string(last) +
                                            "]");
      }
      // Unsigned, so that a range spanning most of int64 counts without overflow.
      const std::uint64_t count =
          (static_cast<std::uint64_t>(last) - static_cast<std::uint64_t>(first)) /
              static_cast<std::uint64_t>(step) +
          1;
      if (count > kMaxValues) too_many(*range, key + ".range");
      std::vector<Value> out;
      for (std::uint64_t i = 0; i < count; ++i) {
        out.emplace_back(first + static_cast<std::int64_t>(i) * step);
      }
      return out;
    }
    const auto [first, last] = integer_pair(*powers, key + ".powers");
    std::int64_t base = 2;
    if (const toml::node* b = table->get("base")) base = integer_value(*b, key + ".base", 2);
    if (first < 1 || last < first) {
      fail(at(powers, key + ".powers"), "expected [first, last] with 1 <= first <= last, got [" +
                                            std::to_string(first) + ", " + std::to_string(last) +
                                            "]");
    }
    std::vector<Value> out;
    for (std::int64_t v = first; v <= last; v *= base) {
      out.emplace_back(v);
      if (v > last / base) break;
    }
    return out;
  }

  static constexpr std::uint64_t kMaxValues = 1 << 20;

  [[noreturn]] void too_many(const toml::node& node, const std::string& key) const {
    fail(at(&node, key), "more than " + std::to_string(kMaxValues) +
                             " values; a tunable parameter needs far fewer");
  }

  std::pair<std::int64_t, std::int64_t> integer_pair(const toml::node& node,
                                                     const std::string& key) const {
    const toml::array* array = node.as_array();
    if (!array || array->size() != 2 || !(*array)[0].is_integer() || !(*array)[1].is_integer()) {
      fail(at(&node, key), "expected two integers [first, last] (both included), got " +
                               (array ? "an array of " + std::to_string(array->size()) +
                                            " element(s) or of non-integers"
                                      : what_is(node)));
    }
    return {*(*array)[0].value<std::int64_t>(), *(*array)[1].value<std::int64_t>()};
  }

  std::vector<Value> value_list(const toml::array& array, const std::string& key) const {
    if (array.empty()) fail(at(&array, key), "empty value list; a parameter needs a value");
    std::vector<Value> out;
    for (std::size_t i = 0; i < array.size(); ++i) {
      const std::string element_key = key + '[' + std::to_string(i) + ']';
      const std::optional<Value> v = scalar_value(array[i]);
      if (!v) wrong_type(array[i], element_key, "a number, a boolean or a string");
      for (std::size_t j = 0; j < out.size(); ++j) {
        if (out[j] == *v) {
          fail(at(&array[i], element_key), "the value " + v->to_string() +
                                               " is listed twice (also at index " +
                                               std::to_string(j) + ")");
        }
      }
      out.push_back(*v);
    }
    return out;
  }

  void read_arguments(const toml::node* node) {
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array || !array->is_array_of_tables()) {
      wrong_type(*node, "arguments",
                 "one [[arguments]] table per kernel argument, in the kernel's order");
    }
    const std::vector<std::string> names = expression_names();
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::table& table = *(*array)[i].as_table();
      spec_.arguments.push_back(read_argument(table, i, names));
    }
  }

  ArgumentSpec read_argument(const toml::table& table, std::size_t index,
                             std::span<const std::string> names) {
    ArgumentSpec arg;
    std::string prefix = "arguments[" + std::to_string(index) + "]";
    const toml::node& name =
        required(table, "name", prefix + ".name", "the argument's name, e.g. name = \"a\"");
    arg.name = string_value(name, prefix + ".name");
    if (!is_identifier(arg.name)) {
      fail(at(&name, prefix + ".name"), "expected a name of letters, digits and _");
    }
    for (std::size_t j = 0; j < spec_.arguments.size(); ++j) {
      if (spec_.arguments[j].name == arg.name) {
        fail(at(&name, prefix + ".name"), "argument `" + arg.name +
                                              "` is already defined at line " +
                                              std::to_string(argument_lines_[j]));
      }
    }
    prefix = "arguments." + arg.name;
    arg.where = at(&table, prefix);
    argument_lines_.push_back(arg.where.line);
    check_keys(table, prefix, kArgumentKeys);

    const toml::node& type = required(table, "type", prefix + ".type",
                                      "an element type: " + join(kElementTypeNames, "\""));
    const std::string type_name = string_value(type, prefix + ".type");
    const std::optional<ElementType> element = element_type_from_string(type_name);
    if (!element) {
      fail(at(&type, prefix + ".type"), "unknown element type \"" + type_name + "\"" +
                                            did_you_mean(type_name, kElementTypeNames) +
                                            "; expected one of " + join(kElementTypeNames, "\""));
    }
    arg.type = *element;

    const toml::node* size = table.get("size");
    const toml::node* value = table.get("value");
    if (size && value) {
      fail(at(value, prefix + ".value"),
           "an argument has `size` (a buffer) or `value` (a scalar), not both");
    }
    if (!size && !value) {
      fail(arg.where,
           "missing `size` or `value`: a buffer needs size = \"element count "
           "expression\", a scalar needs value = \"expression\"");
    }
    if (value) {
      arg.kind = ArgumentSpec::Kind::Scalar;
      arg.value = expression_text(*value, prefix + ".value");
      arg.where = at(value, prefix + ".value");
      checked_expression(arg.value, arg.where, names);
      for (std::string_view buffer_only : {"init", "output", "local"}) {
        if (const toml::node* n = table.get(buffer_only)) {
          fail(at(n, prefix + '.' + std::string(buffer_only)),
               "only buffers (arguments with `size`) take `" + std::string(buffer_only) +
                   "`; a scalar is passed by value");
        }
      }
      return arg;
    }

    arg.kind = ArgumentSpec::Kind::Buffer;
    arg.size = expression_text(*size, prefix + ".size");
    arg.where = at(size, prefix + ".size");
    checked_expression(arg.size, arg.where, names);
    if (const toml::node* output = table.get("output")) {
      arg.output = bool_value(*output, prefix + ".output");
    }
    arg.init.kind = Initializer::Kind::Zero;
    if (const toml::node* init = table.get("init")) {
      arg.init = read_initializer(*init, prefix + ".init", index, arg.type);
    }
    if (const toml::node* local = table.get("local")) {
      arg.local = bool_value(*local, prefix + ".local");
      if (arg.local && spec_.backend != "opencl") {
        fail(at(local, prefix + ".local"), "`local` buffers are OpenCL's __local memory; a " +
                                               spec_.backend + " kernel has none");
      }
      if (arg.local && (arg.output || table.get("init"))) {
        fail(at(local, prefix + ".local"),
             "a local buffer lives in the work-group's local memory: it has no `init` and is "
             "not an `output`");
      }
    }
    return arg;
  }

  Initializer read_initializer(const toml::node& node, const std::string& key, std::size_t index,
                               ElementType type) const {
    Initializer init;
    // Different arguments with init = "random" get different data unless they name a seed.
    const std::uint64_t default_seed = index + 1;
    if (auto number = scalar_value(node); number && number->is_numeric() && !number->is_bool()) {
      init.kind = Initializer::Kind::Constant;
      init.value = number->as_double();
      return init;
    }
    if (auto word = node.value_exact<std::string>()) {
      if (*word == "zero") return init;
      if (*word == "random") {
        init.kind = Initializer::Kind::Random;
        init.seed = default_seed;
        return init;
      }
      fail(at(&node, key),
           "expected \"zero\", \"random\", a number or a table such as "
           "{ random = { seed = 1, low = -1, high = 1 } }, got \"" +
               *word + "\"" + did_you_mean(*word, kInitKinds));
    }
    const toml::table* table = node.as_table();
    if (!table || table->size() != 1) {
      fail(at(&node, key), "expected \"zero\", \"random\", a number, or a table with one of " +
                               join(kInitKinds, "`") +
                               ", e.g. { random = { seed = 1, low = -1, high = 1 } }");
    }
    check_keys(*table, key, kInitKinds);
    const Entries entries = in_written_order(*table);
    const auto& [kind, inner] = entries.front();
    const std::string inner_key = key + '.' + kind;
    if (kind == "zero") {
      if (!bool_value(*inner, inner_key)) fail(at(inner, inner_key), "expected zero = true");
    } else if (kind == "constant") {
      init.kind = Initializer::Kind::Constant;
      init.value = number_value(*inner, inner_key);
    } else if (kind == "file") {
      init.kind = Initializer::Kind::File;
      init.path = existing_file(*inner, inner_key, "data file");
    } else if (kind == "range") {
      init.kind = Initializer::Kind::Range;
      const toml::table& r = as_table(*inner, inner_key);
      check_keys(r, inner_key, kRangeInitKeys);
      if (const toml::node* n = r.get("start")) init.start = number_value(*n, inner_key + ".start");
      if (const toml::node* n = r.get("step")) init.step = number_value(*n, inner_key + ".step");
    } else {
      init.kind = Initializer::Kind::Random;
      init.seed = default_seed;
      const toml::table& r = as_table(*inner, inner_key);
      check_keys(r, inner_key, kRandomKeys);
      if (const toml::node* n = r.get("seed")) {
        init.seed = static_cast<std::uint64_t>(integer_value(*n, inner_key + ".seed", 0));
      }
      if (const toml::node* n = r.get("low")) init.low = number_value(*n, inner_key + ".low");
      if (const toml::node* n = r.get("high")) init.high = number_value(*n, inner_key + ".high");
      if (!(init.low < init.high)) {
        fail(at(inner, inner_key), "expected low < high, got low = " + Value(init.low).to_string() +
                                       ", high = " + Value(init.high).to_string());
      }
      if (type != ElementType::Float32 && type != ElementType::Float64 &&
          std::floor(init.low) == std::floor(init.high)) {
        fail(at(inner, inner_key),
             "an integer buffer draws whole numbers in [low, high); this range holds none");
      }
    }
    return init;
  }

  void read_launch(const toml::node* node, const toml::table& kernel) {
    const bool opencl = spec_.backend == "opencl";
    if (!node) {
      if (opencl) {
        fail(at(kernel.get("backend"), "launch"),
             "missing: an OpenCL kernel needs a [launch] table with global = [...] (work-items "
             "per dimension, e.g. [\"m\", \"n\"]) and optionally local = [...] (the work-group)");
      }
      return;
    }
    const toml::table& launch = as_table(*node, "launch");
    if (!opencl) {
      fail(at(node, "launch"), "[launch] is for OpenCL kernels; a " + spec_.backend +
                                   " kernel is called once, as a function");
    }
    check_keys(launch, "launch", kLaunchKeys);
    spec_.launch.where = at(&launch, "launch");
    spec_.launch.global = dimensions(
        required(launch, "global", "launch.global",
                 "1 to 3 expressions, the work-items per dimension, e.g. [\"m\", \"n\"]"),
        "launch.global");
    if (const toml::node* local = launch.get("local")) {
      spec_.launch.local = dimensions(*local, "launch.local");
      if (spec_.launch.local.size() != spec_.launch.global.size()) {
        fail(at(local, "launch.local"), "expected " + std::to_string(spec_.launch.global.size()) +
                                            " dimension(s), as many as `global` has, got " +
                                            std::to_string(spec_.launch.local.size()));
      }
    }
  }

  std::vector<std::string> dimensions(const toml::node& node, const std::string& key) const {
    const toml::array* array = node.as_array();
    if (!array || array->empty() || array->size() > 3) {
      fail(at(&node, key),
           "expected an array of 1 to 3 expressions, got " +
               (array ? "an array of " + std::to_string(array->size()) : what_is(node)));
    }
    const std::vector<std::string> names = expression_names();
    std::vector<std::string> out;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string element_key = key + '[' + std::to_string(i) + ']';
      out.push_back(expression_text((*array)[i], element_key));
      checked_expression(out.back(), at(&(*array)[i], element_key), names);
    }
    return out;
  }

  void read_verify(const toml::table& verify) {
    check_keys(verify, "verify", kVerifyKeys);
    VerifySpec& v = spec_.verify;
    v.where = at(&verify, "verify");
    const toml::node* reference = verify.get("reference");
    const toml::node* answer = verify.get("answer");
    if (reference && answer) {
      fail(at(answer, "verify.answer"),
           "give either a `reference` or stored `answer` files, not both");
    }
    if (reference) {
      v.where = at(reference, "verify.reference");
      if (auto word = reference->value_exact<std::string>()) {
        if (*word == "first") {
          v.kind = VerifySpec::Kind::FirstValid;
        } else if (*word == "none") {
          v.kind = VerifySpec::Kind::None;
        } else {
          fail(v.where,
               "expected \"first\" (the first configuration that runs is the "
               "reference), \"none\", or { entry = \"kernel\", source = \"file\" }, "
               "got \"" +
                   *word + "\"");
        }
      } else {
        const toml::table& table = as_table(*reference, "verify.reference");
        check_keys(table, "verify.reference", kReferenceKeys);
        v.kind = VerifySpec::Kind::Reference;
        const toml::node& entry = required(table, "entry", "verify.reference.entry",
                                           "the reference kernel's function name");
        v.reference_entry = string_value(entry, "verify.reference.entry");
        if (!is_identifier(v.reference_entry)) {
          fail(at(&entry, "verify.reference.entry"), "expected a function name");
        }
        if (const toml::node* source = table.get("source")) {
          v.reference_source =
              existing_file(*source, "verify.reference.source", "reference source");
        }
        // OpenCL: the reference kernel's own launch geometry; without one it is launched like the
        // tuned kernel at the default configuration.
        if (const toml::node* global = table.get("global")) {
          if (spec_.backend != "opencl") {
            fail(at(global, "verify.reference.global"),
                 "a launch geometry is for OpenCL reference kernels; a " + spec_.backend +
                     " reference is an ordinary function call");
          }
          v.reference_launch.where = at(&table, "verify.reference");
          v.reference_launch.global = dimensions(*global, "verify.reference.global");
          if (const toml::node* local = table.get("local")) {
            v.reference_launch.local = dimensions(*local, "verify.reference.local");
            if (v.reference_launch.local.size() != v.reference_launch.global.size()) {
              fail(at(local, "verify.reference.local"),
                   "expected " + std::to_string(v.reference_launch.global.size()) +
                       " dimensions, as in `global`, got " +
                       std::to_string(v.reference_launch.local.size()));
            }
          }
        } else if (const toml::node* local = table.get("local")) {
          fail(at(local, "verify.reference.local"), "`local` needs `global` beside it");
        }
      }
    }
    if (answer) {
      v.where = at(answer, "verify.answer");
      v.kind = VerifySpec::Kind::Answer;
      const toml::table& table = as_table(*answer, "verify.answer");
      for (const auto& entry : in_written_order(table)) {
        const std::string& name = entry.first;
        const toml::node* file = entry.second;
        const std::string key = "verify.answer." + name;
        const auto arg = std::find_if(spec_.arguments.begin(), spec_.arguments.end(),
                                      [&](const ArgumentSpec& a) { return a.name == name; });
        if (arg == spec_.arguments.end()) {
          std::vector<std::string_view> names;
          for (const ArgumentSpec& a : spec_.arguments) names.push_back(a.name);
          fail(at(file, key), "no argument is named `" + name + "`" + did_you_mean(name, names));
        }
        if (!arg->output) {
          fail(at(file, key), "argument `" + name +
                                  "` is not an output; only arguments with output = true are "
                                  "compared with an answer");
        }
        v.answers.emplace_back(name, existing_file(*file, key, "answer file"));
      }
      if (v.answers.empty()) {
        fail(v.where, "expected one file per output argument, e.g. answer = { c = \"c.npy\" }");
      }
    }
    if (const toml::node* tolerance = verify.get("tolerance")) {
      const toml::table& table = as_table(*tolerance, "verify.tolerance");
      check_keys(table, "verify.tolerance", kToleranceKeys);
      for (const auto& [key, node] : in_written_order(table)) {
        const double bound = number_value(*node, "verify.tolerance." + key);
        if (!(bound >= 0)) {
          fail(at(node, "verify.tolerance." + key), "expected a number >= 0");
        }
        (key == "rel_l2" ? v.tolerance.rel_l2 : v.tolerance.max_abs) = bound;
      }
    }
  }

  // A check that can only be made once the arguments and the verification are both known.
  void check_outputs(const toml::table& root, const toml::table& kernel) const {
    if (spec_.verify.kind == VerifySpec::Kind::None) return;
    const bool any_output = std::any_of(spec_.arguments.begin(), spec_.arguments.end(),
                                        [](const ArgumentSpec& a) { return a.output; });
    if (any_output) return;
    const toml::node* near = root.get("arguments");
    fail(at(near ? near : &kernel, "arguments"),
         "no argument has output = true, so there is nothing to verify; mark the buffers the "
         "kernel writes, or set [verify] reference = \"none\"");
  }

  void read_objective(const toml::table& objective) {
    check_keys(objective, "objective", kObjectiveKeys);
    const toml::node* flops = objective.get("flops");
    const toml::node* bytes = objective.get("bytes");
    if (flops && bytes) {
      fail(at(bytes, "objective.bytes"), "give `flops` or `bytes`, not both");
    }
    if (!flops && !bytes) return;
    const std::string key = flops ? "objective.flops" : "objective.bytes";
    const toml::node& node = flops ? *flops : *bytes;
    spec_.objective.kind = flops ? ObjectiveSpec::Kind::GFlops : ObjectiveSpec::Kind::GBytes;
    spec_.objective.work = expression_text(node, key);
    spec_.objective.where = at(&node, key);
    const std::vector<std::string> names = expression_names();
    const Expression e = checked_expression(spec_.objective.work, spec_.objective.where, names);
    for (std::size_t position : e.params_used()) {
      if (position >= spec_.problem.size() &&
          spec_.params[position - spec_.problem.size()].values.size() > 1) {
        fail(spec_.objective.where,
             "the work per call reads parameter `" + names[position] +
                 "`, which varies between configurations; it may read problem sizes and "
                 "single-valued parameters only, so that every configuration does the same work "
                 "and the throughput ranks them as time does");
      }
    }
  }

  void read_tuning(const toml::table& tuning) {
    check_keys(tuning, "tuning", kTuningKeys);
    TuningSettings& t = spec_.tuning;
    if (const toml::node* n = tuning.get("strategy")) {
      t.strategy = string_value(*n, "tuning.strategy");
      StrategyRegistry registry;
      register_builtin_strategies(registry);
      if (!registry.contains(t.strategy)) {
        const std::vector<std::string> known = registry.names();
        const std::vector<std::string_view> views(known.begin(), known.end());
        fail(at(n, "tuning.strategy"), "unknown strategy \"" + t.strategy + "\"" +
                                           did_you_mean(t.strategy, views) + "; expected one of " +
                                           join(views, "\""));
      }
    }
    if (const toml::node* n = tuning.get("budget")) {
      t.budget = static_cast<std::size_t>(integer_value(*n, "tuning.budget", 1));
    }
    if (const toml::node* n = tuning.get("time_s")) t.seconds = positive(*n, "tuning.time_s");
    if (const toml::node* n = tuning.get("seed")) {
      t.seed = static_cast<std::uint64_t>(integer_value(*n, "tuning.seed", 0));
    }
    if (const toml::node* n = tuning.get("timeout_s")) {
      t.timeout_s = positive(*n, "tuning.timeout_s");
    }
    if (const toml::node* n = tuning.get("memory_limit")) {
      if (spec_.backend != "cpp") {
        fail(at(n, "tuning.memory_limit"),
             "only cpp kernels run in a worker process whose memory can be limited");
      }
      spec_.memory_limit_bytes = memory_size(*n, "tuning.memory_limit");
    }
  }

  double positive(const toml::node& node, const std::string& key) const {
    const double v = number_value(node, key);
    if (!(v > 0) || !std::isfinite(v)) fail(at(&node, key), "expected a number of seconds > 0");
    return v;
  }

  std::size_t memory_size(const toml::node& node, const std::string& key) const {
    if (node.is_integer()) return static_cast<std::size_t>(integer_value(node, key, 0));
    const std::string text = string_value(node, key, "a size such as \"2 GiB\" or bytes");
    std::istringstream in(text);
    double amount = -1;
    std::string unit, rest;
    in >> amount >> unit >> rest;
    static constexpr std::pair<std::string_view, double> kUnits[] = {
        {"B", 1.0},  {"KiB", 0x1p10}, {"MiB", 0x1p20}, {"GiB", 0x1p30}, {"TiB", 0x1p40},
        {"kB", 1e3}, {"KB", 1e3},     {"MB", 1e6},     {"GB", 1e9},     {"TB", 1e12}};
    for (const auto& [name, scale] : kUnits) {
      if (unit == name && rest.empty() && amount >= 0 && std::isfinite(amount)) {
        return static_cast<std::size_t>(amount * scale);
      }
    }
    fail(at(&node, key),
         "expected a size such as \"512 MiB\" or \"2 GiB\" (units B, KiB, MiB, "
         "GiB, TiB, kB, MB, GB, TB) or a number of bytes, got \"" +
             text + "\"");
  }

  std::filesystem::path file_;
  std::filesystem::path dir_;
  KernelSpec spec_;
  std::vector<int> argument_lines_;  // where each argument's table begins
};

}  // namespace

KernelSpec load_spec(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::NotFound, "spec file " + file.string() + " not found or not readable");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(file.string()));
  } catch (const toml::parse_error& e) {
    const toml::source_position begin = e.source().begin;
    throw Error(ErrorCode::ParseError, file.string() + ':' + std::to_string(begin.line) + ':' +
                                           std::to_string(begin.column) +
                                           ": TOML syntax error: " + std::string(e.description()));
  }
  return SpecReader(file).read(root);
}

}  // namespace attune
