// Loads the peer SGEMM libraries of `attune bench gemm` at run time. dlopen keeps them out of the
// library's and the CLI's link line, so attune never depends on them; a missing one is a column
// marked missing with the package to install.
//
// OpenBLAS chooses its kernels once, in its load-time constructor, from the CPU or from the
// OPENBLAS_CORETYPE environment variable. To measure its default choice and its AVX-512
// (SkylakeX) kernels in one process, the second copy is loaded with dlmopen(LM_ID_NEWLM) into a
// fresh link-map namespace, after setting OPENBLAS_CORETYPE: the namespace gets its own copy of
// OpenBLAS and its globals, and the constructor reads the variable again. (A plain dlopen of the
// same file would return the copy already loaded.) The variable is restored afterwards.

#include "bench_peers.hpp"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

namespace attune::cli {
namespace {

constexpr const char* kOpenBlasFile = "libopenblas.so.0";
constexpr const char* kOneDnnFile = "libdnnl.so.2";
constexpr int kCblasRowMajor = 101;
constexpr int kCblasNoTrans = 111;

using CblasSgemm = void (*)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                            const float* a, int lda, const float* b, int ldb, float beta, float* c,
                            int ldc);
using OpenBlasSetThreads = void (*)(int threads);
using OpenBlasCoreName = char* (*)();
using OpenBlasConfig = char* (*)();
using DnnlSgemm = int (*)(char trans_a, char trans_b, std::int64_t m, std::int64_t n,
                          std::int64_t k, float alpha, const float* a, std::int64_t lda,
                          const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);
struct DnnlVersion {
  int major;
  int minor;
  int patch;
  const char* hash;
  unsigned cpu_runtime;
  unsigned gpu_runtime;
};
using DnnlVersionFn = const DnnlVersion* (*)();
using OmpSetThreads = void (*)(int threads);

std::string dl_error() {
  const char* e = dlerror();
  return e != nullptr ? e : "unknown dlopen error";
}

// Sets or clears an environment variable for the lifetime of the object, then restores it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class Peer : public PeerGemm {
 public:
  const std::string& name() const override { return name_; }
  bool available() const override { return handle_ != nullptr; }
  const std::string& reason() const override { return reason_; }
  const std::string& description() const override { return description_; }

 protected:
  explicit Peer(std::string name) : name_(std::move(name)) {}
  // The handles stay open until exit: closing a library whose threads may still be parked is
  // not safe, and the process ends right after the benchmark anyway.
  void* handle_ = nullptr;
  std::string name_;
  std::string reason_;
  std::string description_;
};

class OpenBlas final : public Peer {
 public:
  // core_type: nullptr loads OpenBLAS as a user gets it (with OPENBLAS_CORETYPE cleared, so that
  // the column means the library's own choice); otherwise a core name in a fresh namespace.
  OpenBlas(std::string name, const char* core_type) : Peer(std::move(name)) {
    {
      ScopedEnv env("OPENBLAS_CORETYPE", core_type);
      handle_ = core_type == nullptr ? dlopen(kOpenBlasFile, RTLD_NOW | RTLD_LOCAL)
                                     : dlmopen(LM_ID_NEWLM, kOpenBlasFile, RTLD_NOW | RTLD_LOCAL);
    }
    if (handle_ == nullptr) {
      reason_ = dl_error() + " (install the Debian package libopenblas0-pthread)";
      return;
    }
    sgemm_ = reinterpret_cast<CblasSgemm>(dlsym(handle_, "cblas_sgemm"));
    set_threads_ = reinterpret_cast<OpenBlasSetThreads>(dlsym(handle_, "openblas_set_num_threads"));
    auto core = reinterpret_cast<OpenBlasCoreName>(dlsym(handle_, "openblas_get_corename"));
    auto config = reinterpret_cast<OpenBlasConfig>(dlsym(handle_, "openblas_get_config"));
    if (sgemm_ == nullptr || set_threads_ == nullptr) {
      reason_ = std::string(kOpenBlasFile) + " lacks cblas_sgemm or openblas_set_num_threads";
      handle_ = nullptr;
      return;
    }
    description_ = std::string(kOpenBlasFile) + ", kernels " + (core ? core() : "?") + " (" +
                   (config ? config() : "?") + ")";
    if (core_type != nullptr && core && std::string(core()) != core_type) {
      reason_ =
          std::string("OPENBLAS_CORETYPE=") + core_type + " was not honoured (got " + core() + ")";
      handle_ = nullptr;
    }
  }

  void set_threads(int threads) override { set_threads_(threads); }
  void sgemm(const cpu::GemmProblem& p, const float* a, const float* b, float* c) const override {
    sgemm_(kCblasRowMajor, kCblasNoTrans, kCblasNoTrans, p.m, p.n, p.k, p.alpha, a, p.k, b, p.n,
           p.beta, c, p.n);
  }

 private:
  CblasSgemm sgemm_ = nullptr;
  OpenBlasSetThreads set_threads_ = nullptr;
};

class OneDnn final : public Peer {
 public:
  OneDnn() : Peer("onednn") {
    handle_ = dlopen(kOneDnnFile, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      reason_ = dl_error() + " (install the Debian package libdnnl2)";
      return;
    }
    sgemm_ = reinterpret_cast<DnnlSgemm>(dlsym(handle_, "dnnl_sgemm"));
    // Debian's oneDNN runs on OpenMP (libgomp, the runtime attune uses too); its thread count is
    // OpenMP's, found through the library's own dependencies.
    set_threads_ = reinterpret_cast<OmpSetThreads>(dlsym(handle_, "omp_set_num_threads"));
    auto version = reinterpret_cast<DnnlVersionFn>(dlsym(handle_, "dnnl_version"));
    if (sgemm_ == nullptr || set_threads_ == nullptr) {
      reason_ = std::string(kOneDnnFile) + " lacks dnnl_sgemm, or does not run on OpenMP";
      handle_ = nullptr;
      return;
    }
    description_ = kOneDnnFile;
    if (version != nullptr) {
      const DnnlVersion* v = version();
      description_ += " " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                      std::to_string(v->patch);
    }
  }

  void set_threads(int threads) override { set_threads_(threads); }
  void sgemm(const cpu::GemmProblem& p, const float* a, const float* b, float* c) const override {
    // A non-zero status leaves C poisoned or stale, which the verification reports.
    sgemm_('N', 'N', p.m, p.n, p.k, p.alpha, a, p.k, b, p.n, p.beta, c, p.n);
  }

 private:
  DnnlSgemm sgemm_ = nullptr;
  OmpSetThreads set_threads_ = nullptr;
};

}  // namespace

std::vector<std::unique_ptr<PeerGemm>> load_peer_gemms() {
  std::vector<std::unique_ptr<PeerGemm>> peers;
  peers.push_back(std::make_unique<OpenBlas>("openblas", nullptr));
  peers.push_back(std::make_unique<OpenBlas>("openblas_skylakex", "SkylakeX"));
  peers.push_back(std::make_unique<OneDnn>());
  return peers;
}

}  // namespace attune::cli
