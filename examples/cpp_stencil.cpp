// A 5-point Jacobi stencil in C++ with OpenMP, tuned by cpp_stencil.toml.
//
// Each sweep replaces every interior point of an nx x ny grid (row-major, row length nx) by the
// mean of its four neighbours; boundary points keep their values. `sweeps` sweeps run back to
// back, alternating between `out` and the scratch grid `tmp`, so that the last one writes `out`.
//
// Parameters (each arrives as -DNAME=value):
//   block_x, block_y  the cache block a thread sweeps at a time (columns x rows)
//   threads           OpenMP threads
//   unroll            unroll factor of the innermost loop
//   simd              1: promise the compiler that the innermost loop has no dependences between
//                     iterations (#pragma GCC ivdep), so it vectorizes without run-time checks

#include <cstring>

#define STENCIL_PRAGMA(x) _Pragma(#x)
#define STENCIL_UNROLL(n) STENCIL_PRAGMA(GCC unroll n)

namespace {

inline void sweep_row(float* __restrict dst, const float* __restrict src, int nx, int y, int x0,
                      int x1) {
  const float* up = src + (y - 1) * nx;
  const float* mid = src + y * nx;
  const float* down = src + (y + 1) * nx;
  float* row = dst + y * nx;
#if simd
#pragma GCC ivdep
#endif
  STENCIL_UNROLL(unroll)
  for (int x = x0; x < x1; ++x) row[x] = 0.25f * (up[x] + down[x] + mid[x - 1] + mid[x + 1]);
}

void sweep(float* __restrict dst, const float* __restrict src, int nx, int ny) {
  // Boundary rows and columns keep their values.
  std::memcpy(dst, src, sizeof(float) * nx);
  std::memcpy(dst + (ny - 1) * nx, src + (ny - 1) * nx, sizeof(float) * nx);
  const int blocks_x = (nx - 2 + block_x - 1) / block_x;
  const int blocks_y = (ny - 2 + block_y - 1) / block_y;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads)
  for (int by = 0; by < blocks_y; ++by) {
    for (int bx = 0; bx < blocks_x; ++bx) {
      const int y0 = 1 + by * block_y;
      const int y1 = y0 + block_y < ny - 1 ? y0 + block_y : ny - 1;
      const int x0 = 1 + bx * block_x;
      const int x1 = x0 + block_x < nx - 1 ? x0 + block_x : nx - 1;
      for (int y = y0; y < y1; ++y) {
        if (bx == 0) dst[y * nx] = src[y * nx];
        if (x1 == nx - 1) dst[y * nx + nx - 1] = src[y * nx + nx - 1];
        sweep_row(dst, src, nx, y, x0, x1);
      }
    }
  }
}

}  // namespace

extern "C" void stencil(float* out, const float* in, float* tmp, int nx, int ny, int sweeps) {
  const float* src = in;
  for (int s = 0; s < sweeps; ++s) {
    float* dst = (sweeps - 1 - s) % 2 == 0 ? out : tmp;
    sweep(dst, src, nx, ny);
    src = dst;
  }
}

// The reference: the same sweeps as plain loops, one thread, no blocking.
extern "C" void stencil_reference(float* out, const float* in, float* tmp, int nx, int ny,
                                  int sweeps) {
  const float* src = in;
  for (int s = 0; s < sweeps; ++s) {
    float* dst = (sweeps - 1 - s) % 2 == 0 ? out : tmp;
    for (int y = 0; y < ny; ++y) {
      for (int x = 0; x < nx; ++x) {
        const bool boundary = y == 0 || y == ny - 1 || x == 0 || x == nx - 1;
        dst[y * nx + x] = boundary ? src[y * nx + x]
                                   : 0.25f * (src[(y - 1) * nx + x] + src[(y + 1) * nx + x] +
                                              src[y * nx + x - 1] + src[y * nx + x + 1]);
      }
    }
    src = dst;
  }
}
