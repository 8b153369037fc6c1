// Chooses the backend library for a spec. The CLI is the one place that knows every backend;
// the library's core never names one.

#include "spec_backend.hpp"

#include "attune/backends/jit.hpp"
#include "attune/error.hpp"
#ifdef ATTUNE_HAVE_OPENCL
#include "attune/backends/opencl.hpp"
#endif

namespace attune::cli {

std::unique_ptr<Backend> make_spec_backend(const KernelSpec& spec) {
  if (spec.backend == "cpp") return jit::make_jit_backend(spec);
  if (spec.backend == "opencl") {
#ifdef ATTUNE_HAVE_OPENCL
    return opencl::make_opencl_backend(spec);
#else
    throw Error(ErrorCode::Unsupported,
                spec.path.string() +
                    ": this attune was built without OpenCL: install the OpenCL headers and ICD "
                    "loader (Debian: opencl-headers ocl-icd-opencl-dev, and pocl-opencl-icd to "
                    "run on the CPU), then rebuild");
#endif
  }
  throw Error(ErrorCode::InvalidArgument,
              spec.path.string() + ": backend '" + spec.backend +
                  "' is not one attune runs: use \"cpp\" or \"opencl\"");
}

}  // namespace attune::cli
