// A kernel that fails in a different way for each FAULT value that is not a multiple of 10, for
// the JIT backend's tests: every failure must be recorded with its status while the
// configurations after it (FAULT = 0, 10, 20, ...: out = 2 * in) still run and verify.

#include <stdio.h>
#include <stdlib.h>

#include <new>
#include <stdexcept>

extern "C" void attune_test_missing_function();

static char* volatile kept;

extern "C" void faults(float* out, const float* in, int n) {
#if FAULT == 1
  volatile int* volatile nowhere = nullptr;  // the compiler cannot see it is null
  *nowhere = n;                              // SIGSEGV
#elif FAULT == 2
  abort();  // SIGABRT
#elif FAULT == 3
  for (volatile int spin = 0;; spin = spin + 1) {  // hangs
  }
#elif FAULT == 4
  for (;;) kept = new char[32 << 20];  // leaks until the memory limit: std::bad_alloc
#elif FAULT == 5
  attune_test_missing_function();  // undefined: the object does not load
#elif FAULT == 6
  throw std::runtime_error("the kernel refuses this input");
#elif FAULT == 7
  exit(3);
#elif FAULT == 8
  fputs("faults: giving up on this input\n", stderr);
  abort();
#endif
  for (int i = 0; i < n; ++i) out[i] = 2.0f * in[i];
}
