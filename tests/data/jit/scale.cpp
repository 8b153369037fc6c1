// out = 3 * in over n + PAD elements, for the JIT backend's tests. It also writes its input (as
// some kernels do), so each verification must start from freshly initialized inputs. VARIANT 1
// does not compile.

#ifndef PAD
#define PAD 0
#endif

void scale(float* out, float* in, int n) {
#if VARIANT == 1
  out[0] = undeclared_variable;
#endif
  in[0] += 1.0f;
  for (int i = 0; i < n + PAD; ++i) out[i] = 3.0f * in[i];
}
