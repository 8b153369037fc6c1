// SGEMM for OpenCL with CLBlast-style tuning parameters, tuned by opencl_sgemm.toml.
//
// Computes C = alpha * A * B in single precision. Layouts, as in CLBlast's xgemm kernel, keep k the
// slowest dimension of both inputs so that loads along m and n are contiguous:
//   A: M x K, element (m, k) at a[k * M + m]   (column-major)
//   B: K x N, element (k, n) at b[k * N + n]   (row-major)
//   C: M x N, element (m, n) at c[n * M + m]   (column-major)
// The kernel has no bounds checks: M, N and K must be multiples of MWG, NWG and KWG, which the
// spec's restrictions guarantee for the problem sizes it is tuned for.
//
// Parameters (each arrives as -DNAME=value):
//   MWG, NWG, KWG  the tile of C (MWG x NWG) a work-group computes, and the depth of the k tile
//   MDIMC, NDIMC   the work-group (MDIMC x NDIMC work-items); each computes MWG/MDIMC x NWG/NDIMC
//   KWI            unroll factor of the innermost k loop (divides KWG)
//   VWM, VWN       vector width of loads and stores along m and along n (1, 2, 4 or 8)
//   STRM, STRN     0: a work-item's vectors are adjacent; 1: strided by MDIMC (NDIMC), so that
//                  neighbouring work-items touch neighbouring memory
//   SA, SB         1: stage the A (B) tile in local memory, shared by the work-group

#define MWI (MWG / MDIMC)  // elements of C per work-item along m
#define NWI (NWG / NDIMC)  // and along n
#define MVI (MWI / VWM)    // vectors of A and C per work-item
#define NVI (NWI / VWN)    // vectors of B per work-item

#if VWM == 1
typedef float floatM;
#define LOADM(index, p) ((p)[index])
#define STOREM(value, index, p) ((p)[index] = (value))
#elif VWM == 2
typedef float2 floatM;
#define LOADM(index, p) vload2(index, p)
#define STOREM(value, index, p) vstore2(value, index, p)
#elif VWM == 4
typedef float4 floatM;
#define LOADM(index, p) vload4(index, p)
#define STOREM(value, index, p) vstore4(value, index, p)
#elif VWM == 8
typedef float8 floatM;
#define LOADM(index, p) vload8(index, p)
#define STOREM(value, index, p) vstore8(value, index, p)
#endif

#if VWN == 1
typedef float floatN;
#define LOADN(index, p) ((p)[index])
#define STOREN(value, index, p) ((p)[index] = (value))
#elif VWN == 2
typedef float2 floatN;
#define LOADN(index, p) vload2(index, p)
#define STOREN(value, index, p) vstore2(value, index, p)
#elif VWN == 4
typedef float4 floatN;
#define LOADN(index, p) vload4(index, p)
#define STOREN(value, index, p) vstore4(value, index, p)
#elif VWN == 8
typedef float8 floatN;
#define LOADN(index, p) vload8(index, p)
#define STOREN(value, index, p) vstore8(value, index, p)
#endif

// Position (in vectors, within the work-group's tile) of a work-item's i-th vector.
#if STRM == 0
#define MVEC(i) (tid_m * MVI + (i))
#else
#define MVEC(i) ((i) * MDIMC + tid_m)
#endif
#if STRN == 0
#define NVEC(i) (tid_n * NVI + (i))
#else
#define NVEC(i) ((i) * NDIMC + tid_n)
#endif

__kernel __attribute__((reqd_work_group_size(MDIMC, NDIMC, 1)))
void sgemm(const int M, const int N, const int K, const float alpha,
           const __global float* restrict a, const __global float* restrict b,
           __global float* restrict c) {
  const int tid_m = get_local_id(0);
  const int tid_n = get_local_id(1);
  const int tile_m = get_group_id(0) * MWG;
  const int tile_n = get_group_id(1) * NWG;

  floatM acc[NWI][MVI];
  for (int ni = 0; ni < NWI; ++ni) {
    for (int mi = 0; mi < MVI; ++mi) acc[ni][mi] = (floatM)0.0f;
  }

#if SA
  __local float alm[KWG * MWG];
#endif
#if SB
  __local float blm[KWG * NWG];
#endif
#if SA || SB
  const int tid = tid_n * MDIMC + tid_m;
#endif

  for (int k0 = 0; k0 < K; k0 += KWG) {
#if SA
    // The KWG x MWG tile of A, in vectors along m, spread over all work-items of the group.
    for (int i = tid; i < KWG * (MWG / VWM); i += MDIMC * NDIMC) {
      const int kk = i / (MWG / VWM);
      const int mv = i % (MWG / VWM);
      STOREM(LOADM(((k0 + kk) * M + tile_m) / VWM + mv, a), i, alm);
    }
#endif
#if SB
    for (int i = tid; i < KWG * (NWG / VWN); i += MDIMC * NDIMC) {
      const int kk = i / (NWG / VWN);
      const int nv = i % (NWG / VWN);
      STOREN(LOADN(((k0 + kk) * N + tile_n) / VWN + nv, b), i, blm);
    }
#endif
#if SA || SB
    barrier(CLK_LOCAL_MEM_FENCE);
#endif

    for (int kw = 0; kw < KWG; kw += KWI) {
#pragma unroll
      for (int ki = 0; ki < KWI; ++ki) {
        const int kk = kw + ki;
        floatM apm[MVI];
        for (int mi = 0; mi < MVI; ++mi) {
#if SA
          apm[mi] = LOADM(kk * (MWG / VWM) + MVEC(mi), alm);
#else
          apm[mi] = LOADM(((k0 + kk) * M + tile_m) / VWM + MVEC(mi), a);
#endif
        }
        float bpm[NWI];
        for (int nv = 0; nv < NVI; ++nv) {
#if SB
          const floatN v = LOADN(kk * (NWG / VWN) + NVEC(nv), blm);
#else
          const floatN v = LOADN(((k0 + kk) * N + tile_n) / VWN + NVEC(nv), b);
#endif
          STOREN(v, nv, bpm);
        }
        for (int ni = 0; ni < NWI; ++ni) {
          for (int mi = 0; mi < MVI; ++mi) acc[ni][mi] += apm[mi] * bpm[ni];
        }
      }
    }
#if SA || SB
    barrier(CLK_LOCAL_MEM_FENCE);
#endif
  }

  // bpm[nv * VWN + j] held column NVEC(nv) * VWN + j of the tile; acc follows the same order.
  for (int nv = 0; nv < NVI; ++nv) {
    for (int j = 0; j < VWN; ++j) {
      const int n = tile_n + NVEC(nv) * VWN + j;
      for (int mi = 0; mi < MVI; ++mi) {
        STOREM(alpha * acc[nv * VWN + j][mi], (n * M + tile_m) / VWM + MVEC(mi), c);
      }
    }
  }
}

// The reference: one dot product per element of C, in the same layouts. It loops over C with the
// launch's whole grid, so it is correct under whatever geometry it is launched with (attune runs
// it with the tuned kernel's geometry at the default configuration).
__kernel void sgemm_reference(const int M, const int N, const int K, const float alpha,
                              const __global float* a, const __global float* b,
                              __global float* c) {
  for (int n = get_global_id(1); n < N; n += get_global_size(1)) {
    for (int m = get_global_id(0); m < M; m += get_global_size(0)) {
      float sum = 0.0f;
      for (int k = 0; k < K; ++k) sum += a[k * M + m] * b[k * N + n];
      c[n * M + m] = alpha * sum;
    }
  }
}
