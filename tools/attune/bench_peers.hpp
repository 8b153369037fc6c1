#pragma once
// Peer SGEMM libraries for `attune bench gemm`, loaded at run time with dlopen so that neither the
// library nor the CLI links them: OpenBLAS as the user gets it, OpenBLAS forced to its AVX-512
// (SkylakeX) kernels, and oneDNN. A peer that cannot be loaded is reported with the reason, not an
// error: the benchmark runs with whatever is installed.

#include <memory>
#include <string>
#include <vector>

#include "attune/backends/cpu_gemm.hpp"

namespace attune::cli {

/// One peer library's row-major SGEMM and its thread control.
class PeerGemm {
 public:
  virtual ~PeerGemm() = default;
  /// The column name: "openblas", "openblas_skylakex" or "onednn".
  virtual const std::string& name() const = 0;
  /// False when the library could not be loaded; reason() says why and how to fix it.
  virtual bool available() const = 0;
  /// Why the peer is missing; empty when available.
  virtual const std::string& reason() const = 0;
  /// What was loaded (library file, version or kernel family), for the report.
  virtual const std::string& description() const = 0;
  /// Makes later calls use `threads` threads. Called before each peer's measurement, since the
  /// peers share the process with attune's own OpenMP threads.
  virtual void set_threads(int threads) = 0;
  /// C = alpha * A * B + beta * C on dense row-major operands. Only when available().
  virtual void sgemm(const cpu::GemmProblem& problem, const float* a, const float* b,
                     float* c) const = 0;
};

/// Loads every peer, in the order of the table's columns. Never throws for a missing library.
std::vector<std::unique_ptr<PeerGemm>> load_peer_gemms();

}  // namespace attune::cli
