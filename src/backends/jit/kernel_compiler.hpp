#pragma once
// Compiling a C++ kernel into a shared object for one configuration, with an on-disk cache keyed
// by everything that decides the object's contents.

#include <filesystem>
#include <string>
#include <vector>

#include "attune/kernel_spec.hpp"
#include "attune/measurement.hpp"

namespace attune::jit::detail {

/// The symbol every compiled configuration exports: void attune_jit_entry(void* const* args),
/// args[i] pointing at argument i (a buffer's first element, or a scalar's value).
inline constexpr const char* kEntrySymbol = "attune_jit_entry";

struct CompileResult {
  Status status = Status::Ok;  ///< Ok or CompileFailed
  std::string message;         ///< the compiler's error lines when it failed
  std::filesystem::path library;
  bool cache_hit = false;
};

class KernelCompiler {
 public:
  /// Runs `compiler --version` once: its answer is part of every cache key, so a compiler upgrade
  /// never reuses an old object. Throws Error(NotFound) when the compiler cannot be run and
  /// Error(Io) when `cache_dir` cannot be created.
  KernelCompiler(std::string compiler, std::vector<std::string> flags,
                 std::filesystem::path cache_dir, double timeout_s);

  /// Compiles `entry` of `source` (absolute) with `defines`, or finds it in the cache. Safe to
  /// call from several threads and several processes sharing the cache directory: files appear
  /// under their final name only once complete (written elsewhere, then renamed). Never throws
  /// for a kernel that does not compile; that is a result with status CompileFailed.
  CompileResult compile(const std::filesystem::path& source, const std::string& entry,
                        const std::vector<ArgumentSpec>& arguments,
                        const std::vector<std::string>& defines) const;

  /// The translation unit compiled for `entry`: the kernel's source #included by absolute path,
  /// and attune_jit_entry calling `entry` with each argument cast to its type (buffers as T*,
  /// scalars by value), so the kernel needs no attune header.
  static std::string wrapper_source(const std::filesystem::path& source, const std::string& entry,
                                    const std::vector<ArgumentSpec>& arguments);

  const std::filesystem::path& cache_dir() const noexcept { return cache_dir_; }

 private:
  std::string compiler_;
  std::string compiler_identity_;
  std::vector<std::string> flags_;
  std::filesystem::path cache_dir_;
  double timeout_s_;
};

/// The part of a compiler's log a person needs: the first error with the lines that show where,
/// and how many more errors followed. Exposed for tests.
std::string compiler_log_excerpt(const std::string& log);

}  // namespace attune::jit::detail
