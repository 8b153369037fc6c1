// Builds and queries a SearchSpace. Enumeration is a depth-first walk that binds parameters in
// an order chosen so constraints complete as early as possible (checking each constraint at the
// first level where all of its parameters are bound, and folding one-parameter constraints into
// the value lists up front), and that emits the constraint-free trailing levels from a
// precomputed table. Each valid configuration is stored as one mixed-radix code over value
// positions in declaration order, so sorting the codes gives Kernel Tuner's order and lookups are
// binary searches.

#include "attune/search_space.hpp"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <utility>

#include "attune/error.hpp"

namespace attune {

namespace {

std::string join_names(const std::vector<Param>& params) {
  std::string out;
  for (const auto& p : params) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

// Unbiased integer in [0, bound) from raw 64-bit draws. Written out rather than using
// std::uniform_int_distribution, whose output differs between standard libraries, so a seed gives
// the same sample everywhere.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  while (true) {
    const std::uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

// LSD radix sort on the low `bits` bits. Enumeration emits millions of codes out of order when
// the binding order differs from the declaration order; this sorts them several times faster than
// std::sort because the codes are dense in a known number of bits.
void radix_sort(std::vector<std::uint64_t>& v, unsigned bits) {
  if (v.size() < 4096) {
    std::sort(v.begin(), v.end());
    return;
  }
  constexpr unsigned kDigit = 11;
  constexpr std::size_t kBuckets = std::size_t{1} << kDigit;
  std::vector<std::uint64_t> tmp(v.size());
  for (unsigned shift = 0; shift < bits; shift += kDigit) {
    std::array<std::size_t, kBuckets> count{};
    for (std::uint64_t x : v) ++count[(x >> shift) & (kBuckets - 1)];
    std::size_t sum = 0;
    for (auto& c : count) {
      const std::size_t n = c;
      c = sum;
      sum += n;
    }
    for (std::uint64_t x : v) tmp[count[(x >> shift) & (kBuckets - 1)]++] = x;
    v.swap(tmp);
  }
}

void hash_bytes(XXH3_state_t* state, std::string_view bytes) {
  // Length-prefixed, so ("ab","c") and ("a","bc") hash differently.
  const std::uint64_t n = bytes.size();
  XXH3_64bits_update(state, &n, sizeof n);
  XXH3_64bits_update(state, bytes.data(), bytes.size());
}

}  // namespace

// Constraint

Constraint::Constraint(std::string expression) : text_(std::move(expression)) {}
Constraint::Constraint(const char* expression) : text_(expression) {}

Constraint Constraint::predicate(std::vector<std::string> params_used,
                                 std::function<bool(std::span<const Value>)> fn, std::string id) {
  if (id.empty()) {
    throw Error(ErrorCode::InvalidArgument,
                "a predicate constraint needs a non-empty id; it names the predicate in the "
                "space's signature");
  }
  if (params_used.empty()) {
    throw Error(ErrorCode::InvalidArgument, "predicate constraint '" + id +
                                                "' reads no parameters; list the parameters "
                                                "it needs in params_used");
  }
  if (!fn) {
    throw Error(ErrorCode::InvalidArgument,
                "predicate constraint '" + id + "' has no function; pass a callable");
  }
  Constraint c;
  c.text_ = std::move(id);
  c.params_ = std::move(params_used);
  c.fn_ = std::move(fn);
  return c;
}

// Config

const Value& Config::value(std::size_t param) const {
  if (param >= indices_.size()) {
    throw Error(ErrorCode::InvalidArgument, "parameter position " + std::to_string(param) +
                                                " is out of range; the space has " +
                                                std::to_string(indices_.size()) + " parameters");
  }
  return space_->params()[param].values[indices_[param]];
}

const Value& Config::operator[](std::string_view name) const {
  return value(space_->param_index(name));
}

std::int64_t Config::int_of(std::string_view name) const { return (*this)[name].as_int(); }
double Config::double_of(std::string_view name) const { return (*this)[name].as_double(); }
const std::string& Config::string_of(std::string_view name) const {
  return (*this)[name].as_string();
}

std::string Config::key() const {
  std::string out;
  for (std::size_t p = 0; p < indices_.size(); ++p) {
    if (p > 0) out += ',';
    out += value(p).to_string();
  }
  return out;
}

std::string Config::describe(bool skip_fixed) const {
  std::string out;
  for (std::size_t p = 0; p < indices_.size(); ++p) {
    const Param& param = space_->params()[p];
    if (skip_fixed && param.values.size() == 1) continue;
    if (!out.empty()) out += ' ';
    out += param.name + '=' + value(p).to_string();
  }
  return out;
}

nlohmann::ordered_json Config::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (std::size_t p = 0; p < indices_.size(); ++p) {
    j[space_->params()[p].name] = nlohmann::ordered_json(value(p).to_json());
  }
  return j;
}

// SearchSpace

SearchSpace::SearchSpace(std::vector<Param> params, std::vector<Constraint> constraints)
    : params_(std::move(params)), constraints_(std::move(constraints)) {
  check_params();
  compute_signature();
  enumerate();
}

SearchSpace::SearchSpace(Listed, std::vector<Param> params) : params_(std::move(params)) {
  check_params();
}

SearchSpace SearchSpace::from_configurations(std::vector<Param> params,
                                             std::span<const std::vector<std::uint32_t>> valid,
                                             std::string_view id) {
  SearchSpace space(Listed{}, std::move(params));
  space.codes_.reserve(valid.size());
  for (const auto& indices : valid) {
    if (indices.size() != space.params_.size()) {
      throw Error(ErrorCode::InvalidArgument,
                  "a listed configuration has " + std::to_string(indices.size()) +
                      " value positions; the space has " + std::to_string(space.params_.size()) +
                      " parameters");
    }
    for (std::size_t p = 0; p < indices.size(); ++p) {
      if (indices[p] >= space.params_[p].values.size()) {
        throw Error(ErrorCode::InvalidArgument, "a listed configuration gives parameter '" +
                                                    space.params_[p].name + "' value position " +
                                                    std::to_string(indices[p]) + " of only " +
                                                    std::to_string(space.params_[p].values.size()));
      }
    }
    space.codes_.push_back(space.encode(indices));
  }
  std::sort(space.codes_.begin(), space.codes_.end());
  space.codes_.erase(std::unique(space.codes_.begin(), space.codes_.end()), space.codes_.end());
  space.compute_signature();
  // The list stands where constraints would: its id and every valid code enter the signature.
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  XXH3_64bits_update(state, &space.signature_, sizeof space.signature_);
  hash_bytes(state, "listed");
  hash_bytes(state, id);
  XXH3_64bits_update(state, space.codes_.data(), space.codes_.size() * sizeof(std::uint64_t));
  space.signature_ = XXH3_64bits_digest(state);
  XXH3_freeState(state);
  return space;
}

void SearchSpace::check_params() {
  if (params_.empty()) {
    throw Error(ErrorCode::InvalidArgument, "a search space needs at least one parameter");
  }
  value_strings_.resize(params_.size());
  for (std::size_t p = 0; p < params_.size(); ++p) {
    const Param& param = params_[p];
    for (std::size_t q = 0; q < p; ++q) {
      if (params_[q].name == param.name) {
        throw Error(ErrorCode::InvalidArgument, "parameter '" + param.name +
                                                    "' is declared twice; give each parameter one "
                                                    "entry with all of its values");
      }
    }
    if (param.values.empty()) {
      throw Error(ErrorCode::InvalidArgument,
                  "parameter '" + param.name + "' has no values; give it at least one");
    }
    if (param.values.size() > UINT32_MAX) {
      throw Error(ErrorCode::InvalidArgument,
                  "parameter '" + param.name + "' has more than 2^32 values");
    }
    for (const Value& v : param.values) {
      std::string s = v.to_string();
      if (std::find(value_strings_[p].begin(), value_strings_[p].end(), s) !=
          value_strings_[p].end()) {
        throw Error(ErrorCode::InvalidArgument, "parameter '" + param.name + "' lists value " + s +
                                                    " twice; list each value once");
      }
      value_strings_[p].push_back(std::move(s));
    }
  }
  strides_.assign(params_.size(), 1);
  cartesian_size_ = 1;
  for (std::size_t p = params_.size(); p-- > 0;) {
    strides_[p] = cartesian_size_;
    if (__builtin_mul_overflow(cartesian_size_, params_[p].values.size(), &cartesian_size_)) {
      throw Error(ErrorCode::InvalidArgument,
                  "the Cartesian product of the value lists exceeds 2^64 configurations; split "
                  "the space or remove values");
    }
  }
}

std::size_t SearchSpace::param_index(std::string_view name) const {
  for (std::size_t p = 0; p < params_.size(); ++p) {
    if (params_[p].name == name) return p;
  }
  throw Error(ErrorCode::UnknownName, "unknown parameter '" + std::string(name) +
                                          "'; the parameters are: " + join_names(params_));
}

std::uint64_t SearchSpace::encode(std::span<const std::uint32_t> indices) const noexcept {
  std::uint64_t code = 0;
  for (std::size_t p = 0; p < indices.size(); ++p) code += indices[p] * strides_[p];
  return code;
}

std::vector<std::uint32_t> SearchSpace::decode(std::uint64_t code) const {
  std::vector<std::uint32_t> indices(params_.size());
  for (std::size_t p = 0; p < params_.size(); ++p) {
    indices[p] = static_cast<std::uint32_t>(code / strides_[p]);
    code %= strides_[p];
  }
  return indices;
}

std::optional<std::size_t> SearchSpace::find_code(std::uint64_t code) const noexcept {
  const auto it = std::lower_bound(codes_.begin(), codes_.end(), code);
  if (it == codes_.end() || *it != code) return std::nullopt;
  return static_cast<std::size_t>(it - codes_.begin());
}

Config SearchSpace::at(std::size_t i) const {
  if (i >= codes_.size()) {
    throw Error(ErrorCode::InvalidArgument, "configuration index " + std::to_string(i) +
                                                " is out of range; the space has " +
                                                std::to_string(codes_.size()) + " configurations");
  }
  return Config(this, decode(codes_[i]));
}

std::optional<std::size_t> SearchSpace::index_of(const Config& config) const {
  if (&config.space() != this) {
    throw Error(ErrorCode::InvalidArgument,
                "index_of got a Config of another SearchSpace object; rebuild it with this "
                "space's config_from_json or index_of_key");
  }
  return find_code(encode(config.indices()));
}

std::optional<std::size_t> SearchSpace::index_of_key(std::string_view kt_key) const {
  std::uint64_t code = 0;
  std::size_t start = 0;
  for (std::size_t p = 0; p < params_.size(); ++p) {
    if (start > kt_key.size()) return std::nullopt;
    const std::size_t comma = p + 1 < params_.size() ? kt_key.find(',', start) : kt_key.size();
    if (comma == std::string_view::npos) return std::nullopt;
    const std::string_view field = kt_key.substr(start, comma - start);
    const auto& strings = value_strings_[p];
    const auto it = std::find(strings.begin(), strings.end(), field);
    if (it == strings.end()) return std::nullopt;
    code += static_cast<std::uint64_t>(it - strings.begin()) * strides_[p];
    start = comma + 1;
  }
  return find_code(code);
}

std::vector<std::size_t> SearchSpace::neighbours(std::size_t i, Neighbourhood kind) const {
  const Config c = at(i);
  const std::uint64_t base = codes_[i];
  std::vector<std::size_t> out;
  for (std::size_t p = 0; p < params_.size(); ++p) {
    const std::uint64_t cur = c.indices()[p];
    const std::uint64_t n = params_[p].values.size();
    const auto consider = [&](std::uint64_t v) {
      if (auto j = find_code(base - cur * strides_[p] + v * strides_[p])) out.push_back(*j);
    };
    if (kind == Neighbourhood::Hamming) {
      for (std::uint64_t v = 0; v < n; ++v) {
        if (v != cur) consider(v);
      }
    } else {
      if (cur > 0) consider(cur - 1);
      if (cur + 1 < n) consider(cur + 1);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::size_t> SearchSpace::sample(std::mt19937_64& rng, std::size_t n) const {
  const std::size_t size = codes_.size();
  n = std::min(n, size);
  std::vector<std::size_t> out;
  out.reserve(n);
  // A Fisher-Yates shuffle stopped after n steps. For a small sample of a big space the permuted
  // positions live in a hash map instead of a full array; both give the same draws.
  if (n * 8 >= size) {
    std::vector<std::size_t> perm(size);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t j = k + uniform_below(rng, size - k);
      std::swap(perm[k], perm[j]);
      out.push_back(perm[k]);
    }
  } else {
    std::unordered_map<std::size_t, std::size_t> moved;
    const auto get = [&](std::size_t k) {
      const auto it = moved.find(k);
      return it == moved.end() ? k : it->second;
    };
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t j = k + uniform_below(rng, size - k);
      const std::size_t at_j = get(j);
      moved[j] = get(k);
      out.push_back(at_j);
    }
  }
  return out;
}

void SearchSpace::compute_signature() {
  XXH3_state_t* state = XXH3_createState();
  XXH3_64bits_reset(state);
  hash_bytes(state, "attune.space.v1");
  const std::uint64_t counts[2] = {params_.size(), constraints_.size()};
  XXH3_64bits_update(state, counts, sizeof counts);
  for (std::size_t p = 0; p < params_.size(); ++p) {
    hash_bytes(state, params_[p].name);
    const std::uint64_t n = params_[p].values.size();
    XXH3_64bits_update(state, &n, sizeof n);
    for (std::size_t v = 0; v < params_[p].values.size(); ++v) {
      // The type index keeps 1 and 1.0 apart only where their text would not already.
      const auto type = static_cast<std::uint8_t>(params_[p].values[v].storage().index());
      XXH3_64bits_update(state, &type, 1);
      hash_bytes(state, value_strings_[p][v]);
    }
  }
  for (const Constraint& c : constraints_) {
    hash_bytes(state, c.is_predicate() ? "predicate" : "expression");
    hash_bytes(state, c.text());
    for (const auto& name : c.predicate_params()) hash_bytes(state, name);
  }
  signature_ = XXH3_64bits_digest(state);
  XXH3_freeState(state);
}

Config SearchSpace::config_from_json(const nlohmann::json& object) const {
  const SearchSpace& space = *this;
  if (!object.is_object()) {
    throw Error(ErrorCode::InvalidArgument,
                "a configuration must be a JSON object {name: value, ...}, not " + object.dump());
  }
  const auto& params = space.params();
  std::vector<std::uint32_t> indices(params.size());
  std::vector<bool> seen(params.size(), false);
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::size_t p = space.param_index(it.key());
    const Value v = Value::from_json(it.value());
    const auto& values = params[p].values;
    // Prefer a value of the same type (1 over True), then any Python-equal one (1 for 1.0).
    auto found = std::find_if(values.begin(), values.end(), [&](const Value& x) {
      return x.storage().index() == v.storage().index() && x == v;
    });
    if (found == values.end()) found = std::find(values.begin(), values.end(), v);
    if (found == values.end()) {
      std::string list;
      for (const auto& x : values) list += (list.empty() ? "" : ", ") + x.to_string();
      throw Error(ErrorCode::InvalidArgument, "value " + v.to_string() + " of parameter '" +
                                                  params[p].name +
                                                  "' is not one of its values: " + list);
    }
    indices[p] = static_cast<std::uint32_t>(found - values.begin());
    seen[p] = true;
  }
  for (std::size_t p = 0; p < params.size(); ++p) {
    if (!seen[p]) {
      throw Error(ErrorCode::InvalidArgument, "the configuration does not set parameter '" +
                                                  params[p].name +
                                                  "'; give a value for every parameter");
    }
  }
  return Config(&space, std::move(indices));
}

// Enumeration

namespace {

// One constraint ready to test during enumeration.
struct Check {
  const Expression* expression = nullptr;  // or else a predicate:
  const Constraint* predicate = nullptr;
  std::vector<std::size_t> params;  // declaration positions it reads
  std::vector<Value> scratch;       // predicate arguments, reused between calls
};

struct Level {
  std::size_t param = 0;
  std::vector<std::uint32_t> values;  // allowed value positions (after one-parameter checks)
  std::vector<Check*> checks;         // constraints completed by binding this level
};

class Enumerator {
 public:
  Enumerator(const std::vector<Param>& params, const std::vector<std::uint64_t>& strides,
             std::vector<Check>& checks)
      : params_(params), strides_(strides), checks_(checks) {
    operands_.resize(params.size());
    current_.resize(params.size());
    table_.resize(params.size());
    for (std::size_t p = 0; p < params.size(); ++p) {
      for (const Value& v : params[p].values) table_[p].push_back(detail::Operand::of(v));
    }
  }

  /// The valid codes, ascending.
  std::vector<std::uint64_t> run(std::uint64_t cartesian_size);

 private:
  bool passes(Check& c) {
    if (c.expression) return c.expression->test(std::span<const detail::Operand>(operands_));
    for (std::size_t k = 0; k < c.params.size(); ++k) {
      c.scratch[k] = params_[c.params[k]].values[current_[c.params[k]]];
    }
    return c.predicate->predicate_fn()(std::span<const Value>(c.scratch));
  }
  void bind(std::size_t p, std::uint32_t v) {
    operands_[p] = table_[p][v];
    current_[p] = v;
  }
  void plan();
  void walk(std::size_t level, std::uint64_t code);
  void expand(std::size_t t, std::size_t begin, std::size_t end, std::uint64_t offset,
              std::vector<std::uint64_t>& all) const;

  const std::vector<Param>& params_;
  const std::vector<std::uint64_t>& strides_;
  std::vector<Check>& checks_;
  std::vector<std::vector<detail::Operand>> table_;  // operand per (param, value position)
  std::vector<detail::Operand> operands_;            // the bound values, by declaration position
  std::vector<std::uint32_t> current_;
  std::vector<Level> levels_;
  // Levels from tail_ on carry no checks: the parameters no check reads. The walk leaves them at
  // position 0; those declared before the last constrained parameter (inner, in declaration
  // order) are merged in by expand(), and every combination of those declared after it (suffix)
  // is precomputed, ascending.
  std::size_t tail_ = 0;
  std::vector<const Level*> inner_;
  std::vector<std::uint64_t> suffix_codes_;
  std::vector<std::uint64_t> out_;
};

// Chooses the binding order. One-parameter checks first shrink their parameter's value list.
// Then each remaining check's pass rate is estimated on a sample of its own parameters, and the
// order of the constrained parameters is the one that minimizes the expected number of values
// bound during the walk, assuming checks pass independently: exactly, by dynamic programming over
// subsets, for up to kMaxExactParams parameters, else greedily (up to 64). The estimated survivors
// of a set of bound parameters do not depend on the order they were bound in, which is what makes
// the subset recursion exact. Parameters that no check reads come last, as the check-free tail.
void Enumerator::plan() {
  const std::size_t n = params_.size();

  std::vector<std::vector<std::uint32_t>> domain(n);
  std::vector<Check*> multi;
  for (std::size_t p = 0; p < n; ++p) {
    const auto count = static_cast<std::uint32_t>(params_[p].values.size());
    for (std::uint32_t v = 0; v < count; ++v) domain[p].push_back(v);
  }
  for (Check& c : checks_) {
    if (c.params.size() != 1) {
      multi.push_back(&c);
      continue;
    }
    const std::size_t p = c.params[0];
    std::vector<std::uint32_t> kept;
    for (std::uint32_t v : domain[p]) {
      bind(p, v);
      if (passes(c)) kept.push_back(v);
    }
    domain[p] = std::move(kept);
  }

  // Pass rates, from every combination when there are few, else from a fixed-seed sample.
  constexpr std::size_t kSamples = 1024;
  std::mt19937_64 rng(0x5eed);
  std::vector<double> pass_rate(multi.size(), 1.0);
  for (std::size_t k = 0; k < multi.size(); ++k) {
    Check& c = *multi[k];
    double combos = 1;
    for (std::size_t p : c.params) combos *= static_cast<double>(domain[p].size());
    if (combos == 0) continue;
    const bool exhaustive = combos <= static_cast<double>(kSamples);
    const auto trials = exhaustive ? static_cast<std::size_t>(combos) : kSamples;
    std::size_t passed = 0;
    for (std::size_t t = 0; t < trials; ++t) {
      std::size_t rest = t;
      for (std::size_t p : c.params) {
        const std::size_t size = domain[p].size();
        const std::size_t pick = exhaustive ? rest % size : uniform_below(rng, size);
        rest /= size;
        bind(p, domain[p][pick]);
      }
      passed += passes(c) ? 1 : 0;
    }
    // Never exactly zero: a rare pass still costs a walk below it.
    pass_rate[k] = std::max(static_cast<double>(passed), 0.5) / static_cast<double>(trials);
  }

  std::vector<std::size_t> constrained;
  std::vector<bool> in_check(n, false);
  for (const Check* c : multi) {
    for (std::size_t p : c->params) in_check[p] = true;
  }
  for (std::size_t p = 0; p < n; ++p) {
    if (in_check[p]) constrained.push_back(p);
  }
  const std::size_t m = constrained.size();
  // Bit j of a mask stands for constrained[j].
  std::vector<std::uint64_t> check_mask(multi.size(), 0);
  std::vector<std::vector<std::size_t>> checks_of(m);  // the checks that read constrained[j]
  for (std::size_t k = 0; k < multi.size(); ++k) {
    for (std::size_t p : multi[k]->params) {
      const auto j = std::find(constrained.begin(), constrained.end(), p) - constrained.begin();
      if (j < 64) check_mask[k] |= std::uint64_t{1} << j;
      checks_of[static_cast<std::size_t>(j)].push_back(k);
    }
  }
  const auto survivors = [&](std::uint64_t set) {
    double nodes = 1;
    for (std::size_t j = 0; j < m; ++j) {
      if (set >> j & 1) nodes *= static_cast<double>(domain[constrained[j]].size());
    }
    for (std::size_t k = 0; k < multi.size(); ++k) {
      if ((check_mask[k] & set) == check_mask[k]) nodes *= pass_rate[k];
    }
    return nodes;
  };
  // Work of binding constrained[j] under every survivor of `before`: one bind per value plus
  // the checks it completes.
  const auto step_cost = [&](std::uint64_t before, std::size_t j, double nodes_before) {
    const std::uint64_t after = before | std::uint64_t{1} << j;
    std::size_t completes = 0;
    for (std::size_t k : checks_of[j]) {
      if ((check_mask[k] & after) == check_mask[k]) ++completes;
    }
    return nodes_before * static_cast<double>(domain[constrained[j]].size()) *
           (1.0 + static_cast<double>(completes));
  };

  std::vector<std::size_t> order;
  constexpr std::size_t kMaxExactParams = 16;
  if (m <= kMaxExactParams) {
    const std::size_t states = std::size_t{1} << m;
    std::vector<double> nodes(states);
    for (std::size_t set = 0; set < states; ++set) nodes[set] = survivors(set);
    std::vector<double> cost(states, std::numeric_limits<double>::infinity());
    std::vector<std::uint8_t> last(states, 0);
    cost[0] = 0;
    for (std::size_t set = 1; set < states; ++set) {
      for (std::size_t j = 0; j < m; ++j) {
        if (!(set >> j & 1)) continue;
        const std::uint64_t before = set & ~(std::uint64_t{1} << j);
        const double c = cost[before] + step_cost(before, j, nodes[before]);
        if (c < cost[set]) {
          cost[set] = c;
          last[set] = static_cast<std::uint8_t>(j);
        }
      }
    }
    for (std::size_t set = states - 1; set != 0; set &= ~(std::uint64_t{1} << last[set])) {
      order.push_back(constrained[last[set]]);
    }
    std::reverse(order.begin(), order.end());
  } else if (m <= 64) {
    std::uint64_t set = 0;
    for (std::size_t step = 0; step < m; ++step) {
      std::size_t best = m;
      double best_cost = 0;
      const double nodes = survivors(set);
      for (std::size_t j = 0; j < m; ++j) {
        if (set >> j & 1) continue;
        // Look one step ahead: the work of this step plus the survivors it leaves.
        const std::uint64_t after = set | std::uint64_t{1} << j;
        const double c = step_cost(set, j, nodes) + survivors(after);
        if (best == m || c < best_cost) {
          best = j;
          best_cost = c;
        }
      }
      set |= std::uint64_t{1} << best;
      order.push_back(constrained[best]);
    }
  } else {
    order = constrained;  // beyond any real space; the walk is correct in any order
  }
  for (std::size_t p = 0; p < n; ++p) {
    if (!in_check[p]) order.push_back(p);
  }

  std::vector<std::size_t> missing(multi.size());
  for (std::size_t k = 0; k < multi.size(); ++k) missing[k] = multi[k]->params.size();
  for (std::size_t p : order) {
    Level level;
    level.param = p;
    level.values = std::move(domain[p]);
    for (std::size_t k = 0; k < multi.size(); ++k) {
      const auto& ps = multi[k]->params;
      if (std::find(ps.begin(), ps.end(), p) != ps.end() && --missing[k] == 0) {
        level.checks.push_back(multi[k]);
      }
    }
    levels_.push_back(std::move(level));
  }

  tail_ = levels_.size();
  while (tail_ > 0 && levels_[tail_ - 1].checks.empty()) --tail_;
  const std::size_t last_constrained = constrained.empty() ? 0 : constrained.back();
  suffix_codes_ = {0};
  // The tail levels are in declaration order, so extending the combinations level by level with
  // ascending value positions keeps the list ascending.
  for (std::size_t l = tail_; l < levels_.size(); ++l) {
    if (!constrained.empty() && levels_[l].param < last_constrained) {
      inner_.push_back(&levels_[l]);
      continue;
    }
    std::vector<std::uint64_t> next;
    next.reserve(suffix_codes_.size() * levels_[l].values.size());
    const std::uint64_t stride = strides_[levels_[l].param];
    for (std::uint64_t base : suffix_codes_) {
      for (std::uint32_t v : levels_[l].values) next.push_back(base + v * stride);
    }
    suffix_codes_ = std::move(next);
  }
}

void Enumerator::walk(std::size_t level, std::uint64_t code) {
  if (level == tail_) {
    out_.push_back(code);
    return;
  }
  Level& l = levels_[level];
  const std::uint64_t stride = strides_[l.param];
  for (std::uint32_t v : l.values) {
    bind(l.param, v);
    bool ok = true;
    for (Check* c : l.checks) {
      if (!passes(*c)) {
        ok = false;
        break;
      }
    }
    if (ok) walk(level + 1, code + v * stride);
  }
}

// Appends, ascending, every combination of out_[begin, end) with the inner free parameters from
// inner_[t] on and the suffix. The codes in the range agree on every digit declared before
// inner_[t]; sorted by the remaining digits, each group of equal digits before inner_[t] is
// repeated once per value of inner_[t], which is exactly the order of the full codes.
void Enumerator::expand(std::size_t t, std::size_t begin, std::size_t end, std::uint64_t offset,
                        std::vector<std::uint64_t>& all) const {
  if (t == inner_.size()) {
    for (std::size_t i = begin; i < end; ++i) {
      for (std::uint64_t s : suffix_codes_) all.push_back(out_[i] + offset + s);
    }
    return;
  }
  const std::uint64_t stride = strides_[inner_[t]->param];
  for (std::size_t i = begin; i < end;) {
    const std::uint64_t prefix = out_[i] / stride;
    std::size_t j = i + 1;
    while (j < end && out_[j] / stride == prefix) ++j;
    for (std::uint32_t v : inner_[t]->values) expand(t + 1, i, j, offset + v * stride, all);
    i = j;
  }
}

// The walk yields the codes over the constrained parameters only; sorting those (far fewer than
// the result when free parameters multiply it) and merging in the free parameters gives the
// full sorted list.
std::vector<std::uint64_t> Enumerator::run(std::uint64_t cartesian_size) {
  plan();
  walk(0, 0);
  if (!std::is_sorted(out_.begin(), out_.end())) {
    unsigned bits = 0;
    while (bits < 64 && (cartesian_size - 1) >> bits != 0) ++bits;
    radix_sort(out_, bits);
  }
  std::size_t total = out_.size() * suffix_codes_.size();
  for (const Level* l : inner_) total *= l->values.size();
  if (total == out_.size()) return std::move(out_);
  std::vector<std::uint64_t> all;
  all.reserve(total);
  expand(0, 0, out_.size(), 0, all);
  return all;
}

}  // namespace

void SearchSpace::enumerate() {
  std::vector<std::string> names;
  for (const auto& p : params_) names.push_back(p.name);

  std::vector<Expression> expressions;
  expressions.reserve(constraints_.size());
  std::vector<Check> checks;
  for (const Constraint& c : constraints_) {
    Check check;
    if (c.is_predicate()) {
      check.predicate = &c;
      for (const auto& name : c.predicate_params()) {
        const auto it = std::find(names.begin(), names.end(), name);
        if (it == names.end()) {
          throw Error(ErrorCode::UnknownName, "predicate constraint '" + c.text() +
                                                  "' reads unknown parameter '" + name +
                                                  "'; the parameters are: " + join_names(params_));
        }
        check.params.push_back(static_cast<std::size_t>(it - names.begin()));
      }
      check.scratch.resize(check.params.size());
    } else {
      expressions.push_back(Expression::parse(c.text(), names));
      check.expression = &expressions.back();
      check.params = expressions.back().params_used();
    }
    checks.push_back(std::move(check));
  }

  // A constraint that reads no parameter (e.g. "2 > 1" or "True or x") decides the whole space.
  std::vector<Check> dependent;
  const std::vector<detail::Operand> none(params_.size());
  for (Check& c : checks) {
    if (!c.params.empty()) {
      dependent.push_back(std::move(c));
    } else if (!c.expression->test(std::span<const detail::Operand>(none))) {
      codes_.clear();
      return;
    }
  }

  Enumerator enumerator(params_, strides_, dependent);
  codes_ = enumerator.run(cartesian_size_);
}

}  // namespace attune
