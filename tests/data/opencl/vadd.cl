// Vector addition with a tunable work-group size (the launch's local size). VARIANT plants
// failures: 1 subtracts instead of adding (a wrong answer), 2 does not compile, 3 writes far
// outside its buffer (a crash on a CPU device), 4 never ends.
__kernel void vadd(__global const float* a, __global const float* b, __global float* c,
                   const int n) {
  const int i = get_global_id(0);
  if (i >= n) return;
#if VARIANT == 1
  c[i] = a[i] - b[i];
#elif VARIANT == 2
  c[i] = a[i] + ;
#elif VARIANT == 3
  c[(long)i + (1L << 40)] = a[i];
#elif VARIANT == 4
  volatile __global const float* spin = a;
  while (spin[i] == spin[i]) {
  }
#else
  c[i] = a[i] + b[i];
#endif
}

// The reference: one work-item per element, whatever the launch.
__kernel void vadd_reference(__global const float* a, __global const float* b, __global float* c,
                             const int n) {
  for (int i = get_global_id(0); i < n; i += get_global_size(0)) c[i] = a[i] + b[i];
}

// Runs only with work-groups of 16.
__kernel __attribute__((reqd_work_group_size(16, 1, 1))) void vadd16(
    __global const float* a, __global const float* b, __global float* c, const int n) {
  const int i = get_global_id(0);
  if (i < n) c[i] = a[i] + b[i];
}
