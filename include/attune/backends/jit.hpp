#pragma once
/// \file
/// The C++ JIT backend: compiles a spec's C++ kernel once per configuration with the system
/// compiler into a shared object (cached on disk by a hash of source, compiler, flags and -D
/// values), and runs it in an isolated worker process. A configuration that segfaults, aborts,
/// exhausts the worker's memory limit or runs past its timeout is a recorded failure
/// (runtime_failed or timeout); the worker is replaced and the tuning run goes on.
///
/// The kernel is an ordinary C++ function taking the spec's arguments in order: buffers as
/// pointers to their element type, scalars by value, e.g.
///   extern "C" void stencil(float* out, const float* in, int nx, int ny);
/// attune compiles it together with a generated entry that unpacks the arguments, so the kernel
/// needs no attune header. The command is
///   compiler flags... -DNAME=value... -fPIC -shared -fvisibility=hidden -o X.so generated.cpp
/// where generated.cpp #includes the source by absolute path; flags default to
/// {"-O3", "-march=native"} when the spec gives none.
///
/// Verification (KernelSpec::verify), against outputs kept in the tuning process so that a
/// replaced worker loses nothing:
///  - Reference: the reference entry is compiled when the backend is made, with the -D values of
///    the space's first configuration (every parameter's first value when no configuration is
///    valid), and run once per distinct set of arguments, on the same inputs as the
///    configurations.
///  - Answer: the files are read when the backend is made, sized by the first configuration.
///  - FirstValid: the first configuration whose verification run completes with finite outputs
///    becomes the reference (one per distinct set of arguments).
///  - None: verify() runs nothing and passes.
/// Inputs are restored and outputs poisoned before every verification run. When that run crashes
/// or hangs there is no output to judge: verify() throws KernelFailure, so the measurement
/// records what happened (runtime_failed, timeout), not verify_failed.
///
/// The cache key covers the source file's text, not headers it includes: after editing a header
/// a kernel includes, delete the cache directory.

#include <filesystem>
#include <memory>
#include <string>

#include "attune/backend.hpp"
#include "attune/kernel_spec.hpp"

namespace attune::jit {

struct JitOptions {
  /// Where compiled shared objects are kept; default $XDG_CACHE_HOME/attune/jit (or
  /// ~/.cache/attune/jit). Safe to share between processes.
  std::filesystem::path cache_dir;
  /// The worker executable (attune-jit-worker). Empty: $ATTUNE_JIT_WORKER, then the directory of
  /// the running executable, then the build tree's copy, then the installed one.
  std::filesystem::path worker;
  /// Longest a compile may take before it is killed and the configuration is compile_failed.
  double compile_timeout_s = 120.0;
};

/// Makes the backend for a `cpp` spec. Throws Error for what no configuration could fix: a spec
/// for another backend, a compiler that does not run, a worker that is missing or does not start
/// (it is started here, once, to find out), a reference that does not compile, answer files that
/// cannot be read. Each call of a configuration may take spec.tuning.timeout_s, plus a second
/// of margin, before its worker is killed. spec.memory_limit_bytes bounds the worker's address
/// space, which also holds its copies of the arguments (two of each input, three of each output).
///
/// Thread-safe prepare(): compiles run on the caller's thread, so the tuner's pipeline may prepare
/// several configurations at once. run() and verify() talk to the one worker process and are
/// called from the measuring thread only.
std::unique_ptr<Backend> make_jit_backend(const KernelSpec& spec, JitOptions options = {});

}  // namespace attune::jit
