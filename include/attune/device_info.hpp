#pragma once
/// \file
/// What code runs on: a name, the features that decide which kernels apply, the parallelism, and a
/// stable fingerprint so that results measured on one machine are recognised on another of the
/// same kind and never confused with a different one.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace attune {

struct DeviceInfo {
  std::string kind;                   ///< "cpu" (later "opencl", "cuda")
  std::string name;                   ///< e.g. the CPU brand string
  std::string architecture;           ///< vendor and family, e.g. "AuthenticAMD family 25"
  std::vector<std::string> features;  ///< ISA features relevant to kernels, sorted
  int cores = 1;                      ///< logical CPUs this process may use

  bool has_feature(const std::string& feature) const;
  /// 16 hex digits: a hash of kind, name, features and cores with a domain tag. Stable across
  /// runs and builds of the same attune version on the same hardware.
  std::string fingerprint() const;
  nlohmann::json to_json() const;

  /// The CPU this process runs on, read through CPUID and the process's CPU affinity.
  static DeviceInfo host_cpu();
};

}  // namespace attune
