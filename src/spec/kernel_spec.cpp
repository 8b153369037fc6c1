// The parts of a KernelSpec that do not depend on where it came from: element types, the search
// space its parameters and restrictions span, the -D options and ids derived from a
// configuration, and error locations.

#include "attune/kernel_spec.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>

#include "attune/error.hpp"
#include "attune/expression.hpp"

namespace attune {
namespace {

struct ElementTypeInfo {
  ElementType type;
  std::string_view name;
  std::size_t size;
  std::string_view cpp;
  std::string_view opencl;
};

constexpr ElementTypeInfo kElementTypes[] = {
    {ElementType::Float32, "float32", 4, "float", "float"},
    {ElementType::Float64, "float64", 8, "double", "double"},
    {ElementType::Int32, "int32", 4, "int32_t", "int"},
    {ElementType::Int64, "int64", 8, "int64_t", "long"},
    {ElementType::UInt8, "uint8", 1, "uint8_t", "uchar"},
    {ElementType::UInt32, "uint32", 4, "uint32_t", "uint"},
};

const ElementTypeInfo& info(ElementType type) noexcept {
  for (const ElementTypeInfo& i : kElementTypes) {
    if (i.type == type) return i;
  }
  return kElementTypes[0];
}

void hash_text(XXH3_state_t* state, std::string_view text) {
  // Length-prefixed, so ("ab", "c") and ("a", "bc") hash differently.
  const std::uint64_t n = text.size();
  XXH3_64bits_update(state, &n, sizeof n);
  XXH3_64bits_update(state, text.data(), text.size());
}

std::string problem_names(const KernelSpec& spec) {
  std::string out;
  for (const auto& [name, value] : spec.problem) out += (out.empty() ? "" : ", ") + name;
  return out.empty() ? "(none)" : out;
}

// A restriction that reads problem sizes becomes a predicate over the parameters it reads, with
// the sizes bound as constants. Its id carries the sizes' values, so the same text under another
// problem is another constraint in the space's signature.
Constraint problem_bound_constraint(const KernelSpec& spec, const Expression& expression,
                                    const std::vector<std::string>& names,
                                    const SpecLocation& where) {
  const std::size_t param_count = spec.params.size();
  std::vector<std::string> used_params;
  std::vector<std::size_t> used_positions;
  std::string bound;
  std::vector<Value> constants(names.size());
  for (std::size_t position : expression.params_used()) {
    if (position < param_count) {
      used_params.push_back(names[position]);
      used_positions.push_back(position);
    } else {
      const auto& [name, value] = spec.problem[position - param_count];
      constants[position] = Value(value);
      bound += (bound.empty() ? "" : ",") + name + '=' + std::to_string(value);
    }
  }
  if (used_params.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                where.describe() + ": restriction `" + expression.text() +
                    "` reads no tunable parameter, so it holds for every configuration or for "
                    "none; check the problem sizes instead, or name a parameter");
  }
  auto test = [expression, constants, used_positions](std::span<const Value> values) {
    std::vector<Value> all = constants;
    for (std::size_t k = 0; k < used_positions.size(); ++k) all[used_positions[k]] = values[k];
    return expression.test(all);
  };
  return Constraint::predicate(std::move(used_params), std::move(test),
                               expression.text() + " [" + bound + "]");
}

}  // namespace

std::string SpecLocation::describe() const {
  std::string out;
  if (!file.empty()) {
    out = file.string();
    if (line > 0) out += ':' + std::to_string(line);
  }
  if (!key.empty()) out += (out.empty() ? "key `" : ": key `") + key + '`';
  return out;
}

std::string_view to_string(ElementType type) noexcept { return info(type).name; }

std::optional<ElementType> element_type_from_string(std::string_view name) noexcept {
  for (const ElementTypeInfo& i : kElementTypes) {
    if (i.name == name) return i.type;
  }
  return std::nullopt;
}

std::size_t size_of(ElementType type) noexcept { return info(type).size; }
std::string_view cpp_type_name(ElementType type) noexcept { return info(type).cpp; }
std::string_view opencl_type_name(ElementType type) noexcept { return info(type).opencl; }

SearchSpace KernelSpec::space() const {
  // Parameters first, so positions below params.size() are parameters.
  std::vector<std::string> names;
  for (const Param& p : params) names.push_back(p.name);
  for (const auto& [name, value] : problem) names.push_back(name);

  std::vector<Constraint> constraints;
  for (std::size_t i = 0; i < restrictions.size(); ++i) {
    const SpecLocation where =
        i < restriction_locations.size()
            ? restriction_locations[i]
            : SpecLocation{path, 0, "params.restrictions[" + std::to_string(i) + "]"};
    std::optional<Expression> expression;
    try {
      expression = Expression::parse(restrictions[i], names);
    } catch (const Error& e) {
      throw Error(e.code(), where.describe() + ": " + e.what());
    }
    const bool reads_problem =
        std::any_of(expression->params_used().begin(), expression->params_used().end(),
                    [&](std::size_t position) { return position >= params.size(); });
    if (reads_problem) {
      constraints.push_back(problem_bound_constraint(*this, *expression, names, where));
    } else {
      constraints.emplace_back(restrictions[i]);
    }
  }
  return SearchSpace(params, std::move(constraints));
}

Problem KernelSpec::problem_key() const { return Problem(problem, "spec"); }

std::vector<std::string> KernelSpec::defines(const Config& config) const {
  std::vector<std::string> out;
  const std::vector<Param>& space_params = config.space().params();
  out.reserve(space_params.size());
  for (std::size_t i = 0; i < space_params.size(); ++i) {
    const Value& v = config.value(i);
    const std::string text = v.is_bool() ? (v.as_int() != 0 ? "1" : "0") : v.to_string();
    out.push_back("-D" + space_params[i].name + '=' + text);
  }
  return out;
}

std::string KernelSpec::kernel_id() const {
  std::ifstream in(source, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::NotFound, "kernel `" + name + "`: cannot read its source file " +
                                         source.string() + "; check [kernel] source");
  }
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  hash_text(state, text);
  hash_text(state, entry);
  hash_text(state, backend == "cpp" ? compiler : std::string());
  for (const std::string& flag : flags) hash_text(state, flag);
  const std::uint64_t hash = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return name + '/' + backend + '/' + hex;
}

std::optional<double> KernelSpec::work_per_call() const {
  if (objective.kind == ObjectiveSpec::Kind::Time) return std::nullopt;
  std::vector<std::string> names;
  std::vector<Value> values;
  for (const auto& [n, v] : problem) {
    names.push_back(n);
    values.emplace_back(v);
  }
  // A parameter with one value is the same in every configuration, so the work may read it.
  for (const Param& p : params) {
    if (p.values.size() != 1) continue;
    names.push_back(p.name);
    values.push_back(p.values.front());
  }
  try {
    const Value work = Expression::parse(objective.work, names).evaluate(values);
    return work.as_double();
  } catch (const Error& e) {
    const std::string prefix = objective.where.describe();
    throw Error(e.code(), (prefix.empty() ? "" : prefix + ": ") + e.what() +
                              " (the work per call may read the problem sizes and the "
                              "single-valued parameters only)");
  }
}

void set_problem_size(KernelSpec& spec, const std::string& name, std::int64_t value) {
  for (auto& [n, v] : spec.problem) {
    if (n != name) continue;
    if (value < 0) {
      throw Error(
          ErrorCode::InvalidArgument,
          "problem size " + name + " = " + std::to_string(value) + ": a problem size must be >= 0");
    }
    v = value;
    return;
  }
  throw Error(ErrorCode::UnknownName, "the spec " + spec.path.string() +
                                          " has no problem size named `" + name +
                                          "`; its sizes are: " + problem_names(spec));
}

}  // namespace attune
