// Reads recorded search spaces: Kernel Tuner cache files and T4 results files, plain or gzip.
// Kernel Tuner appends one cache entry per line while it runs and closes the JSON only at the
// end, so an interrupted run leaves a file that is not valid JSON; such a file is repaired by
// cutting it after its last complete entry, which is what Kernel Tuner itself does on reading.

#include "attune/recorded_space.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <unordered_set>

#include "attune/error.hpp"

namespace attune {
namespace {

std::string describe(const std::filesystem::path& file) { return "'" + file.string() + "'"; }

[[noreturn]] void fail(ErrorCode code, const std::filesystem::path& file, const std::string& what) {
  throw Error(code, "recorded space " + describe(file) + ": " + what);
}

[[noreturn]] void fail_size(const std::filesystem::path& file, std::size_t max_bytes) {
  fail(ErrorCode::InvalidArgument, file,
       "larger than the cap of " + std::to_string(max_bytes) +
           " bytes uncompressed; raise max_bytes if the file is trusted");
}

std::string read_bytes(const std::filesystem::path& file, std::size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) fail(ErrorCode::NotFound, file, "no such file");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(ErrorCode::Io, file, "cannot be opened for reading; check its permissions");
  std::string bytes;
  char buf[1 << 16];
  // The compressed size is capped too: gzip never expands text by more than a small factor, so
  // a compressed file larger than the cap cannot decompress to within it.
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<std::size_t>(in.gcount()));
    if (bytes.size() > max_bytes) fail_size(file, max_bytes);
  }
  if (in.bad()) fail(ErrorCode::Io, file, "read error");
  return bytes;
}

std::string gunzip(const std::string& compressed, const std::filesystem::path& file,
                   std::size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
    fail(ErrorCode::Internal, file, "zlib could not be initialized");
  }
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      // A gzip stream cut short is what an interrupted copy leaves; keep what was decompressed
      // and let the JSON repair below decide whether it is usable.
      if (rc == Z_BUF_ERROR && z.avail_in == 0) break;
      fail(ErrorCode::InvalidArgument, file,
           std::string("is not valid gzip (") + (z.msg ? z.msg : "corrupt data") + ")");
    }
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      fail_size(file, max_bytes);
    }
  }
  inflateEnd(&z);
  return out;
}

// Parses the document and records the order of the keys that nlohmann::json (which sorts object
// keys) would lose: the cache keys of a Kernel Tuner file, and the parameter names of the first
// T4 configuration. ordered_json would keep them, but its linear-time key lookup makes parsing a
// cache of 20,000 entries quadratic, and a parser callback is many times slower than a separate
// SAX pass that only looks at keys.
struct Parsed {
  nlohmann::json doc;
  std::vector<std::string> cache_keys;
  std::vector<std::string> t4_param_order;
};

class KeyOrder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit KeyOrder(Parsed& out) : out_(out) {}
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    // The first T4 configuration: {"results": [{"configuration": {...}}]}, an object at depth 3.
    if (depth_ == 3 && top_key_ == "results" && key_at_depth_3_ == "configuration" &&
        !config_done_) {
      in_config_ = true;
    }
    ++depth_;
    return true;
  }
  bool end_object() override {
    --depth_;
    if (in_config_ && depth_ == 3) {
      in_config_ = false;
      config_done_ = true;
    }
    return true;
  }
  bool start_array(std::size_t) override {
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool key(string_t& key) override {
    if (depth_ == 1) {
      top_key_ = key;
    } else if (depth_ == 2 && top_key_ == "cache") {
      out_.cache_keys.push_back(key);
    } else if (depth_ == 3 && top_key_ == "results") {
      key_at_depth_3_ = key;
    } else if (in_config_ && depth_ == 4) {
      out_.t4_param_order.push_back(key);
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  static bool value() { return true; }
  Parsed& out_;
  int depth_ = 0;
  std::string top_key_;
  std::string key_at_depth_3_;
  bool in_config_ = false;
  bool config_done_ = false;
};

Parsed parse_with_order(const std::string& text) {
  Parsed out;
  out.doc = nlohmann::json::parse(text);
  KeyOrder order(out);
  nlohmann::json::sax_parse(text, &order);
  return out;
}

// Kernel Tuner's cache while it is being written: the header, "cache": {, then one entry per
// line, each followed by a comma. Cutting after the last complete line and closing both objects
// gives the file Kernel Tuner would have written had it stopped there.
std::optional<Parsed> repair_kernel_tuner_cache(const std::string& text) {
  const std::size_t cache_at = text.find("\"cache\"");
  if (cache_at == std::string::npos) return std::nullopt;
  const std::size_t open = text.find('{', cache_at);
  if (open == std::string::npos) return std::nullopt;
  std::size_t end = text.size();
  for (int attempt = 0; attempt < 8 && end > open; ++attempt) {
    std::string head = text.substr(0, end);
    while (!head.empty() && std::isspace(static_cast<unsigned char>(head.back()))) head.pop_back();
    if (!head.empty() && head.back() == ',') head.pop_back();
    if (!head.empty() && (head.back() == '}' || head.back() == '{')) {
      try {
        return parse_with_order(head + "\n}\n}");
      } catch (const nlohmann::json::exception&) {
      }
    }
    const std::size_t newline = text.rfind('\n', end - 1);
    if (newline == std::string::npos || newline <= open) break;
    end = newline;
  }
  return std::nullopt;
}

const nlohmann::json& require(const nlohmann::json& object, const char* field,
                              const std::filesystem::path& file, const std::string& where) {
  if (!object.is_object() || !object.contains(field)) {
    fail(ErrorCode::InvalidArgument, file, where + " has no field '" + field + "'");
  }
  return object[field];
}

std::vector<double> numbers_of(const nlohmann::json& array, double scale) {
  std::vector<double> out;
  if (!array.is_array()) return out;
  for (const auto& x : array) {
    if (x.is_number()) out.push_back(x.get<double>() * scale);
  }
  return out;
}

std::string string_or_empty(const nlohmann::json& j, const char* field) {
  if (j.is_object() && j.contains(field) && j[field].is_string())
    return j[field].get<std::string>();
  return {};
}

void read_kernel_tuner(Parsed& parsed, const std::filesystem::path& file, RecordedSpace& out) {
  const nlohmann::json& doc = parsed.doc;
  out.format = "kernel_tuner";
  const auto& keys = require(doc, "tune_params_keys", file, "the Kernel Tuner cache");
  const auto& tune_params = require(doc, "tune_params", file, "the Kernel Tuner cache");
  const auto& cache = require(doc, "cache", file, "the Kernel Tuner cache");
  if (!keys.is_array() || !tune_params.is_object() || !cache.is_object()) {
    fail(ErrorCode::InvalidArgument, file,
         "tune_params_keys must be a list, tune_params and cache objects");
  }
  out.device_name = string_or_empty(doc, "device_name");
  out.kernel_name = string_or_empty(doc, "kernel_name");
  out.problem_size = doc.value("problem_size", nlohmann::json());
  out.objective = doc.contains("objective") && doc["objective"].is_string()
                      ? doc["objective"].get<std::string>()
                      : "time";
  for (const auto& key : keys) {
    if (!key.is_string())
      fail(ErrorCode::InvalidArgument, file, "tune_params_keys holds a non-string");
    const std::string name = key.get<std::string>();
    if (!tune_params.contains(name) || !tune_params[name].is_array()) {
      fail(ErrorCode::InvalidArgument, file, "tune_params has no value list for '" + name + "'");
    }
    Param p{name, {}};
    for (const auto& v : tune_params[name]) p.values.push_back(Value::from_json(v));
    out.params.push_back(std::move(p));
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    static const char* const kKnown[] = {"device_name", "kernel_name",      "problem_size",
                                         "objective",   "tune_params_keys", "tune_params",
                                         "cache"};
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
      out.metadata[it.key()] = it.value();
    }
  }

  out.entries.reserve(parsed.cache_keys.size());
  std::unordered_set<std::string> done;
  for (const std::string& key : parsed.cache_keys) {
    // A key written twice is one entry; the JSON parser keeps its last value.
    if (!done.insert(key).second) continue;
    // A key the order pass saw but the document lacks: a duplicate "cache" field.
    const auto found = cache.find(key);
    if (found == cache.end()) continue;
    const nlohmann::json& raw = *found;
    const std::string where = "cache entry \"" + key + "\"";
    RecordedEntry e;
    // The key's fields are the values' Python str(); the entry's own fields are exact, so they
    // win, and the key is the fallback for caches that store only times.
    std::vector<std::string> fields;
    for (std::size_t start = 0;;) {
      const std::size_t comma = key.find(',', start);
      fields.push_back(key.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    for (std::size_t p = 0; p < out.params.size(); ++p) {
      const Param& param = out.params[p];
      if (raw.is_object() && raw.contains(param.name)) {
        e.values.push_back(Value::from_json(raw[param.name]));
        continue;
      }
      const Value* match = nullptr;
      if (fields.size() == out.params.size()) {
        for (const Value& v : param.values) {
          if (v.to_string() == fields[p]) match = &v;
        }
      }
      if (!match) {
        fail(ErrorCode::InvalidArgument, file,
             where + " has no value for parameter '" + param.name + "'");
      }
      e.values.push_back(*match);
    }
    const nlohmann::json& time = require(raw, "time", file, where);
    if (time.is_number()) {
      e.time_ms = time.get<double>();
    } else if (time.is_string()) {
      e.error = time.get<std::string>();
    } else {
      fail(ErrorCode::InvalidArgument, file,
           where + " has a time that is neither a number nor an error string");
    }
    if (raw.contains("times")) e.times_ms = numbers_of(raw["times"], 1.0);
    e.raw = raw;
    out.entries.push_back(std::move(e));
  }
}

// Milliseconds per unit of a T4 measurement; T4 writes units in words ("Microseconds").
std::optional<double> ms_per_unit(std::string unit) {
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, double> kUnits = {
      {"seconds", 1e3},       {"s", 1e3},   {"milliseconds", 1.0}, {"ms", 1.0},
      {"microseconds", 1e-3}, {"us", 1e-3}, {"nanoseconds", 1e-6}, {"ns", 1e-6}};
  const auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  return it->second;
}

// T4's invalidity names what failed; Kernel Tuner's error strings are the common vocabulary.
std::string error_of_t4_invalidity(const std::string& invalidity) {
  if (invalidity == "compile") return "CompilationFailedConfig";
  if (invalidity == "constraints") return "InvalidConfig";
  return "RuntimeFailedConfig";  // runtime, correctness, timeouts
}

void read_t4(Parsed& parsed, const std::filesystem::path& file, RecordedSpace& out) {
  const nlohmann::json& doc = parsed.doc;
  out.format = "t4";
  const auto& results = require(doc, "results", file, "the T4 file");
  if (!results.is_array()) fail(ErrorCode::InvalidArgument, file, "'results' is not a list");
  const nlohmann::json meta = doc.value("metadata", nlohmann::json::object());
  out.device_name = string_or_empty(meta, "device");
  if (out.device_name.empty()) out.device_name = string_or_empty(meta, "device_name");
  out.kernel_name = string_or_empty(meta, "kernel_name");
  out.problem_size = meta.value("problem_size", nlohmann::json());
  out.objective = "time";
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "results") out.metadata[it.key()] = it.value();
  }

  std::vector<std::string> names = parsed.t4_param_order;
  if (names.empty() && !results.empty()) {
    const auto& first = require(results[0], "configuration", file, "result 0");
    if (!first.is_object())
      fail(ErrorCode::InvalidArgument, file, "result 0's configuration is not an object");
    for (auto it = first.begin(); it != first.end(); ++it) names.push_back(it.key());
  }
  std::vector<std::vector<Value>> seen(names.size());
  for (std::size_t r = 0; r < results.size(); ++r) {
    const nlohmann::json& raw = results[r];
    const std::string where = "result " + std::to_string(r);
    const auto& configuration = require(raw, "configuration", file, where);
    if (!configuration.is_object()) {
      fail(ErrorCode::InvalidArgument, file, where + "'s configuration is not an object");
    }
    RecordedEntry e;
    for (std::size_t p = 0; p < names.size(); ++p) {
      if (!configuration.contains(names[p])) {
        fail(ErrorCode::InvalidArgument, file,
             where + "'s configuration has no value for '" + names[p] + "'");
      }
      Value v = Value::from_json(configuration[names[p]]);
      if (std::find(seen[p].begin(), seen[p].end(), v) == seen[p].end()) seen[p].push_back(v);
      e.values.push_back(std::move(v));
    }
    const std::string invalidity = raw.value("invalidity", std::string("correct"));
    std::string objective_name;
    if (raw.contains("objectives") && raw["objectives"].is_array() && !raw["objectives"].empty() &&
        raw["objectives"][0].is_string()) {
      objective_name = raw["objectives"][0].get<std::string>();
      if (r == 0) out.objective = objective_name;
    }
    if (invalidity == "correct") {
      const auto& measurements = require(raw, "measurements", file, where);
      for (const auto& m : measurements) {
        if (!m.is_object() || !m.contains("value") || !m["value"].is_number()) continue;
        const std::string name = m.value("name", std::string());
        if (!objective_name.empty() && name != objective_name) continue;
        const auto scale = ms_per_unit(m.value("unit", std::string()));
        if (!scale) {
          fail(ErrorCode::InvalidArgument, file,
               where + "'s measurement '" + name + "' has unit '" + m.value("unit", std::string()) +
                   "', not a time unit");
        }
        e.time_ms = m["value"].get<double>() * *scale;
        if (raw.contains("times") && raw["times"].is_object()) {
          e.times_ms = numbers_of(raw["times"].value("runtimes", nlohmann::json()), *scale);
        }
        break;
      }
      if (!e.time_ms) {
        fail(ErrorCode::InvalidArgument, file,
             where + " is correct but has no time measurement" +
                 (objective_name.empty() ? std::string() : " named '" + objective_name + "'"));
      }
    } else {
      e.error = error_of_t4_invalidity(invalidity);
    }
    e.raw = raw;
    out.entries.push_back(std::move(e));
  }
  for (std::size_t p = 0; p < names.size(); ++p) {
    std::vector<Value> values = seen[p];
    std::sort(values.begin(), values.end(), [](const Value& a, const Value& b) {
      if (a.is_numeric() && b.is_numeric()) return a.as_double() < b.as_double();
      if (a.is_numeric() != b.is_numeric()) return a.is_numeric();
      return a.to_string() < b.to_string();
    });
    out.params.push_back(Param{names[p], std::move(values)});
  }
}

}  // namespace

Status status_from_kernel_tuner_error(std::string_view error) {
  if (error == "CompilationFailedConfig") return Status::CompileFailed;
  if (error == "InvalidConfig") return Status::Invalid;
  return Status::RuntimeFailed;
}

std::string kernel_tuner_error(Status status) {
  switch (status) {
    case Status::Ok:
      throw Error(ErrorCode::InvalidArgument,
                  "status ok has no Kernel Tuner error string; export its time instead");
    case Status::CompileFailed: return "CompilationFailedConfig";
    case Status::Invalid:
    case Status::OverLimits: return "InvalidConfig";
    case Status::RuntimeFailed:
    case Status::Timeout:
    case Status::VerifyFailed: return "RuntimeFailedConfig";
  }
  return "RuntimeFailedConfig";
}

RecordedSpace read_recorded_space(const std::filesystem::path& file, std::size_t max_bytes) {
  std::string text = read_bytes(file, max_bytes);
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
      static_cast<unsigned char>(text[1]) == 0x8b) {
    text = gunzip(text, file, max_bytes);
  }
  RecordedSpace out;
  Parsed parsed;
  try {
    parsed = parse_with_order(text);
  } catch (const nlohmann::json::exception& e) {
    auto repaired = repair_kernel_tuner_cache(text);
    if (!repaired) {
      fail(ErrorCode::InvalidArgument, file,
           std::string("is not JSON, nor a Kernel Tuner cache cut off mid-write (") + e.what() +
               ")");
    }
    parsed = std::move(*repaired);
    out.truncated = true;
  }
  if (!parsed.doc.is_object()) {
    fail(ErrorCode::InvalidArgument, file, "is JSON but not an object");
  }
  try {
    if (parsed.doc.contains("cache")) {
      read_kernel_tuner(parsed, file, out);
    } else if (parsed.doc.contains("results")) {
      read_t4(parsed, file, out);
    } else {
      fail(ErrorCode::InvalidArgument, file,
           "is neither a Kernel Tuner cache (no 'cache' field) nor a T4 file (no 'results' field)");
    }
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::InvalidArgument, file, std::string("has an unexpected structure: ") + e.what());
  } catch (const Error& e) {
    // A value the file holds that attune cannot represent (an integer beyond int64, a list).
    if (std::string_view(e.what()).starts_with("recorded space ")) throw;
    fail(e.code(), file, e.what());
  }
  return out;
}

}  // namespace attune
