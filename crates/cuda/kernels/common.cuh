// What every kernel shares: the 64 × 64 tile of dot products (shared-memory tiles, a 4 × 4
// register block per thread), the distance epilogue with the cpu device's rounding rules, and
// the (distance, index) order in which ties go to the lower index.
#pragma once

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#include "shim.h"
#endif

typedef unsigned long long u64;

// Tile geometry: a block of 256 threads (16 × 16) computes 64 rows × 64 columns, 4 × 4 a
// thread, stepping through the embedding 16 columns at a time.
#define TK_TILE 64
#define TK_STEP 16
#define TK_THREADS 256

// Metric codes, as `src/kernels.rs` passes them.
#define TK_EUCLIDEAN 0
#define TK_SQEUCLIDEAN 1
#define TK_COSINE 2
#define TK_DOT 3

#define TK_FLT_MAX 3.40282347e+38f
// Below this fraction of ‖a‖² + ‖b‖² (or this cosine distance) the GEMM form has lost its
// digits to cancellation; below this scale the norms are subnormal: recompute exactly.
#define TK_RECOMPUTE_BELOW (1.0f / 256.0f)
#define TK_SMALLEST_EXACT_SCALE 1e-30f

__device__ __forceinline__ float tk_inf() { return __int_as_float(0x7f800000); }

// The shared tiles of one block: a 16-deep slice of 64 rows of each side, k-major.
struct TkTiles {
  float a[TK_STEP][TK_TILE + 4];
  float b[TK_STEP][TK_TILE + 4];
};

// This thread's 4 × 4 dot products of rows r0 + ty·4 + r of `a` with rows c0 + tx·4 + c of
// `b` (rows past the end read as zeros). Every thread of the block must call it.
__device__ __forceinline__ void tk_dot_tile(const float* a, int a_rows, const float* b, int b_rows,
                                            int dim, int r0, int c0, TkTiles& s, float acc[4][4]) {
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++) acc[r][c] = 0.0f;
  for (int k0 = 0; k0 < dim; k0 += TK_STEP) {
    for (int q = 0; q < 4; q++) {
      const int e = t + TK_THREADS * q, row = e / TK_STEP, kk = e % TK_STEP, k = k0 + kk;
      const int ga = r0 + row, gb = c0 + row;
      s.a[kk][row] = (ga < a_rows && k < dim) ? a[(size_t)ga * dim + k] : 0.0f;
      s.b[kk][row] = (gb < b_rows && k < dim) ? b[(size_t)gb * dim + k] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < TK_STEP; kk++) {
      float ar[4], br[4];
      for (int r = 0; r < 4; r++) ar[r] = s.a[kk][ty * 4 + r];
      for (int c = 0; c < 4; c++) br[c] = s.b[kk][tx * 4 + c];
      for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) acc[r][c] = fmaf(ar[r], br[c], acc[r][c]);
    }
    __syncthreads();
  }
}

// Exact sums in double, for the entries the GEMM form cannot be trusted with.
__device__ __forceinline__ double tk_exact_sq_dist(const float* a, const float* b, int dim) {
  double s = 0.0;
  for (int k = 0; k < dim; k++) {
    const double t = (double)a[k] - (double)b[k];
    s += t * t;
  }
  return s;
}
__device__ __forceinline__ double tk_exact_dot(const float* a, const float* b, int dim) {
  double s = 0.0;
  for (int k = 0; k < dim; k++) s += (double)a[k] * (double)b[k];
  return s;
}

// d(a_i, b_j) from their dot product and squared norms, with the cpu's rules: never negative,
// exactly 0 on the diagonal of a self-distance matrix, recomputed where cancellation, overflow
// or underflow took the digits. Rows are prepared (unit rows for cosine) by the host.
__device__ __forceinline__ float tk_distance(float dot, const float* a, const float* b, int dim,
                                             float na, float nb, bool diagonal, int metric) {
  if (metric == TK_DOT) {
    // Products past f32's range can meet as inf − inf: recompute those.
    return (dot - dot == 0.0f) ? -dot : (float)(-tk_exact_dot(a, b, dim));
  }
  if (metric == TK_COSINE) {
    float d = 1.0f - dot;
    if (na == 0.0f || nb == 0.0f) {
      d = 1.0f;
    } else if (diagonal) {
      d = 0.0f;
    } else if (d < TK_RECOMPUTE_BELOW) {
      // For unit rows 1 − a·b = ½‖a − b‖², which keeps its digits.
      d = (float)(0.5 * tk_exact_sq_dist(a, b, dim));
    }
    return fminf(fmaxf(d, 0.0f), 2.0f);
  }
  if (diagonal) return 0.0f;
  const float scale = na + nb;
  const float d2 = scale - 2.0f * dot;
  const bool trusted = d2 >= TK_RECOMPUTE_BELOW * scale && d2 <= TK_FLT_MAX &&
                       scale >= TK_SMALLEST_EXACT_SCALE;
  if (trusted) return metric == TK_EUCLIDEAN ? sqrtf(d2) : d2;
  const double exact = tk_exact_sq_dist(a, b, dim);
  return (float)(metric == TK_EUCLIDEAN ? sqrt(exact) : exact);
}

// (distance, index) as one integer in (distance, index) order; −0 joins +0.
__device__ __forceinline__ u64 tk_sort_key(float d, unsigned i) {
  const unsigned bits = __float_as_uint(d + 0.0f);
  const unsigned ordered = (bits >> 31) ? ~bits : (bits | 0x80000000u);
  return ((u64)ordered << 32) | (u64)i;
}
