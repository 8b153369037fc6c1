// out = a * x + y, unrolled UNROLL times, for the JIT backend's tests. The UNROLL == 8 variant
// carries a planted bug: it forgets the elements after the last full group of eight, so on an
// n that is not a multiple of 8 verification must fail.

#ifndef UNROLL
#define UNROLL 1
#endif

extern "C" void saxpy(float* out, const float* x, const float* y, float a, int n) {
  int i = 0;
  for (; i + UNROLL <= n; i += UNROLL) {
    for (int u = 0; u < UNROLL; ++u) out[i + u] = a * x[i + u] + y[i + u];
  }
#if UNROLL != 8
  for (; i < n; ++i) out[i] = a * x[i] + y[i];
#endif
}

extern "C" void saxpy_reference(float* out, const float* x, const float* y, float a, int n) {
  for (int i = 0; i < n; ++i) out[i] = a * x[i] + y[i];
}
