// C = A * B (row-major, M x K times K x N) in TS x TS tiles staged through __local buffers that
// the launch allocates (As, Bs: TS * TS floats each). Edges are guarded, so any M, N, K work.
__kernel void sgemm(const int M, const int N, const int K, __global const float* A,
                    __global const float* B, __global float* C, __local float* As,
                    __local float* Bs) {
  const int r = get_local_id(0);
  const int c = get_local_id(1);
  const int row = get_group_id(0) * TS + r;
  const int col = get_group_id(1) * TS + c;
  float acc = 0.0f;
  for (int t = 0; t < K; t += TS) {
    As[r * TS + c] = (row < M && t + c < K) ? A[row * K + t + c] : 0.0f;
    Bs[r * TS + c] = (t + r < K && col < N) ? B[(t + r) * N + col] : 0.0f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k = 0; k < TS; ++k) acc += As[r * TS + k] * Bs[k * TS + c];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

// The reference: one work-item per element of C, no tiles.
__kernel void sgemm_reference(const int M, const int N, const int K, __global const float* A,
                              __global const float* B, __global float* C, __local float* As,
                              __local float* Bs) {
  const int row = get_global_id(0);
  const int col = get_global_id(1);
  if (row >= M || col >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; ++k) acc += A[row * K + k] * B[k * N + col];
  C[row * N + col] = acc;
}
