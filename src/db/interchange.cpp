// Writing recorded spaces back out as Kernel Tuner cache files and T4 results files: the inverse
// of read_recorded_space. An entry that came from a file of the same format is written as that
// file had it (every field it recorded survives a round trip); anything else, attune's own
// measurements included, is written with the fields the format requires.

#include <string>

#include "attune/error.hpp"
#include "attune/tuning_database.hpp"

namespace attune {
namespace {

nlohmann::ordered_json configuration_of(const RecordedSpace& space, const RecordedEntry& e) {
  nlohmann::ordered_json config = nlohmann::ordered_json::object();
  for (std::size_t i = 0; i < space.params.size() && i < e.values.size(); ++i) {
    config[space.params[i].name] = nlohmann::ordered_json(e.values[i].to_json());
  }
  return config;
}

std::string key_of(const RecordedEntry& e) {
  std::string key;
  for (std::size_t i = 0; i < e.values.size(); ++i) {
    if (i) key += ',';
    key += e.values[i].to_string();
  }
  return key;
}

}  // namespace

nlohmann::ordered_json to_kernel_tuner_json(const RecordedSpace& space) {
  nlohmann::ordered_json j;
  j["device_name"] = space.device_name;
  j["kernel_name"] = space.kernel_name;
  j["problem_size"] = nlohmann::ordered_json(space.problem_size);
  nlohmann::ordered_json keys = nlohmann::ordered_json::array();
  nlohmann::ordered_json params = nlohmann::ordered_json::object();
  for (const Param& p : space.params) {
    keys.push_back(p.name);
    nlohmann::ordered_json values = nlohmann::ordered_json::array();
    for (const Value& v : p.values) values.push_back(nlohmann::ordered_json(v.to_json()));
    params[p.name] = values;
  }
  j["tune_params_keys"] = keys;
  j["tune_params"] = params;
  j["objective"] = space.objective.empty() ? "time" : space.objective;
  if (space.format == "kernel_tuner" && space.metadata.is_object()) {
    for (auto it = space.metadata.begin(); it != space.metadata.end(); ++it) {
      if (!j.contains(it.key()) && it.key() != "cache")
        j[it.key()] = nlohmann::ordered_json(it.value());
    }
  }
  nlohmann::ordered_json cache = nlohmann::ordered_json::object();
  for (const RecordedEntry& e : space.entries) {
    nlohmann::ordered_json entry = configuration_of(space, e);
    if (space.format == "kernel_tuner" && e.raw.is_object()) {
      for (auto it = e.raw.begin(); it != e.raw.end(); ++it) {
        if (!entry.contains(it.key())) entry[it.key()] = nlohmann::ordered_json(it.value());
      }
    }
    if (e.time_ms) {
      // The file's own number when it came from one, so the round trip is exact.
      if (!(entry.contains("time") && entry["time"].is_number())) entry["time"] = *e.time_ms;
    } else {
      entry["time"] = e.error.empty() ? std::string("RuntimeFailedConfig") : e.error;
    }
    if (!entry.contains("times") && !e.times_ms.empty()) entry["times"] = e.times_ms;
    cache[key_of(e)] = std::move(entry);
  }
  j["cache"] = std::move(cache);
  return j;
}

nlohmann::ordered_json to_t4_json(const RecordedSpace& space) {
  nlohmann::ordered_json j;
  if (space.format == "t4" && space.metadata.is_object()) {
    for (auto it = space.metadata.begin(); it != space.metadata.end(); ++it) {
      j[it.key()] = nlohmann::ordered_json(it.value());
    }
  }
  if (!j.contains("schema_version")) j["schema_version"] = "1.0.0";
  if (!j.contains("metadata")) {
    j["metadata"] = {{"device", space.device_name},
                     {"kernel_name", space.kernel_name},
                     {"problem_size", nlohmann::ordered_json(space.problem_size)}};
  }
  const std::string objective =
      space.objective.empty() || space.objective == "time" ? "time" : space.objective;
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const RecordedEntry& e : space.entries) {
    nlohmann::ordered_json r;
    if (space.format == "t4" && e.raw.is_object()) {
      r = nlohmann::ordered_json(e.raw);
      r["configuration"] = configuration_of(space, e);
      results.push_back(std::move(r));
      continue;
    }
    r["configuration"] = configuration_of(space, e);
    r["objectives"] = {objective};
    r["times"] = {{"runtimes", e.times_ms}};
    if (e.time_ms) {
      r["invalidity"] = "correct";
      r["correctness"] = 1;
      r["measurements"] = {{{"name", objective}, {"value", *e.time_ms}, {"unit", "Milliseconds"}}};
    } else {
      const Status status = status_from_kernel_tuner_error(e.error);
      r["invalidity"] = status == Status::CompileFailed ? "compile"
                        : status == Status::Invalid     ? "constraints"
                                                        : "runtime";
      r["correctness"] = 0;
      r["measurements"] = nlohmann::ordered_json::array();
    }
    results.push_back(std::move(r));
  }
  j["results"] = std::move(results);
  return j;
}

}  // namespace attune
