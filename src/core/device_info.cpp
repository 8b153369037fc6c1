// Describes the host CPU: brand string and vendor/family through CPUID, the ISA features kernels
// dispatch on through the compiler's CPU-support builtins, and the logical CPUs this process may
// use through its affinity mask (what a container or taskset actually grants, not the machine).

#include "attune/device_info.hpp"

#include <cpuid.h>
#include <sched.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <thread>

namespace attune {
namespace {

std::string cpu_brand() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0x80000000u, &a, &b, &c, &d) == 0 || a < 0x80000004u) return "unknown x86-64";
  std::array<unsigned, 12> words{};
  for (unsigned leaf = 0; leaf < 3; ++leaf) {
    __get_cpuid(0x80000002u + leaf, &words[leaf * 4], &words[leaf * 4 + 1], &words[leaf * 4 + 2],
                &words[leaf * 4 + 3]);
  }
  char text[49] = {};
  std::memcpy(text, words.data(), 48);
  std::string brand(text);
  const auto first = brand.find_first_not_of(' ');
  const auto last = brand.find_last_not_of(' ');
  return first == std::string::npos ? "unknown x86-64" : brand.substr(first, last - first + 1);
}

std::string cpu_architecture() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(0, &a, &b, &c, &d) == 0) return "unknown";
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  __get_cpuid(1, &a, &b, &c, &d);
  unsigned family = (a >> 8) & 0xF;
  unsigned model = (a >> 4) & 0xF;
  if (family == 0xF) family += (a >> 20) & 0xFF;
  if (family >= 6) model |= ((a >> 16) & 0xF) << 4;
  char text[96];
  std::snprintf(text, sizeof text, "%s family %u model %u", vendor, family, model);
  return text;
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> features;
  __builtin_cpu_init();
  // The features a CPU kernel can dispatch on; the list is part of the fingerprint, so extend it
  // only together with a fingerprint version change.
  if (__builtin_cpu_supports("sse4.2")) features.emplace_back("sse4.2");
  if (__builtin_cpu_supports("avx")) features.emplace_back("avx");
  if (__builtin_cpu_supports("avx2")) features.emplace_back("avx2");
  if (__builtin_cpu_supports("fma")) features.emplace_back("fma");
  if (__builtin_cpu_supports("avx512f")) features.emplace_back("avx512f");
  if (__builtin_cpu_supports("avx512bw")) features.emplace_back("avx512bw");
  if (__builtin_cpu_supports("avx512dq")) features.emplace_back("avx512dq");
  if (__builtin_cpu_supports("avx512vl")) features.emplace_back("avx512vl");
  if (__builtin_cpu_supports("avx512vnni")) features.emplace_back("avx512vnni");
  if (__builtin_cpu_supports("avx512bf16")) features.emplace_back("avx512bf16");
  std::sort(features.begin(), features.end());
  return features;
}

int usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

bool DeviceInfo::has_feature(const std::string& feature) const {
  return std::find(features.begin(), features.end(), feature) != features.end();
}

std::string DeviceInfo::fingerprint() const {
  std::string material = "attune.device.v1";
  for (const std::string* part : {&kind, &name, &architecture}) {
    material += '\0';
    material += *part;
  }
  for (const auto& f : features) {
    material += '\0';
    material += f;
  }
  material += '\0';
  material += std::to_string(cores);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(material.data(), material.size())));
  return hex;
}

nlohmann::json DeviceInfo::to_json() const {
  return {{"kind", kind},         {"name", name},   {"architecture", architecture},
          {"features", features}, {"cores", cores}, {"fingerprint", fingerprint()}};
}

DeviceInfo DeviceInfo::host_cpu() {
  DeviceInfo info;
  info.kind = "cpu";
  info.name = cpu_brand();
  info.architecture = cpu_architecture();
  info.features = cpu_features();
  info.cores = usable_cpus();
  return info;
}

}  // namespace attune
