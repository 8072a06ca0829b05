// One distance between two rows in double, in the cpu device's order of operations (core's
// pair::sum_pairs and pair::distance): eight interleaved partial sums, then the tail; by one
// thread, or by a warp in the same order. Shared by the kernels that need a pair's exact
// distance (margin.cu, verification.cu, the losses' fix-ups).
#pragma once

#include "common.cuh"

#define TK_LANES 8

// Σ f(x, y) over a row pair, f = (x − y)² (kind 0) or x·y (kind 1).
__device__ __forceinline__ double tk_sum_pairs(const float* a, const float* b, int n, int kind) {
  double acc[TK_LANES];
  for (int l = 0; l < TK_LANES; l++) acc[l] = 0.0;
  const int whole = n - n % TK_LANES;
  for (int k = 0; k < whole; k += TK_LANES)
    for (int l = 0; l < TK_LANES; l++) {
      const double x = a[k + l], y = b[k + l];
      acc[l] += kind == 0 ? (x - y) * (x - y) : x * y;
    }
  double tail = -0.0;
  for (int k = whole; k < n; k++) {
    const double x = a[k], y = b[k];
    tail += kind == 0 ? (x - y) * (x - y) : x * y;
  }
  double s = -0.0;
  for (int l = 0; l < TK_LANES; l++) s += acc[l];
  return s + tail;
}

// tk_sum_pairs by a warp, the same bits in every lane: lane l < 8 sums the cpu's lane l (the
// elements l, l + 8, …, in order), every lane the tail, and the eight partial sums meet by
// shuffles in the cpu's order. The whole warp calls it.
__device__ __forceinline__ double tk_warp_sum_pairs(const float* a, const float* b, int n, int kind) {
  const int lane = threadIdx.x & 31;
  const int whole = n - n % TK_LANES;
  double acc = 0.0;
  if (lane < TK_LANES)
    for (int k = lane; k < whole; k += TK_LANES) {
      const double x = a[k], y = b[k];
      acc += kind == 0 ? (x - y) * (x - y) : x * y;
    }
  double tail = -0.0;
  for (int k = whole; k < n; k++) {
    const double x = a[k], y = b[k];
    tail += kind == 0 ? (x - y) * (x - y) : x * y;
  }
  double s = -0.0;
  for (int l = 0; l < TK_LANES; l++) s += __shfl_sync(0xffffffffu, acc, l);
  return s + tail;
}

// A pair's distance from its sums, in the cpu device's order: by one thread (kWarp false,
// tk_sum_pairs) or by a warp (tk_warp_sum_pairs), the same bits either way. Cosine's branch on
// the norms is the same in every lane, so a warp stays together through its sums.
template <bool kWarp>
__device__ __forceinline__ double tk_sum_pairs_by(const float* a, const float* b, int n, int kind) {
  return kWarp ? tk_warp_sum_pairs(a, b, n, kind) : tk_sum_pairs(a, b, n, kind);
}
template <bool kWarp>
__device__ __forceinline__ double tk_pair_distance_by(const float* a, const float* b, int n,
                                                      int metric) {
  if (metric == TK_SQEUCLIDEAN) return tk_sum_pairs_by<kWarp>(a, b, n, 0);
  if (metric == TK_EUCLIDEAN) return sqrt(tk_sum_pairs_by<kWarp>(a, b, n, 0));
  if (metric == TK_DOT) return -tk_sum_pairs_by<kWarp>(a, b, n, 1);
  const double na2 = tk_sum_pairs_by<kWarp>(a, a, n, 1);
  const double nb2 = tk_sum_pairs_by<kWarp>(b, b, n, 1);
  if (na2 == 0.0 || nb2 == 0.0) return 1.0;
  const double d = 1.0 - tk_sum_pairs_by<kWarp>(a, b, n, 1) / sqrt(na2 * nb2);
  return d < 0.0 ? 0.0 : (d > 2.0 ? 2.0 : d);
}

__device__ __forceinline__ double tk_pair_distance(const float* a, const float* b, int n,
                                                   int metric) {
  return tk_pair_distance_by<false>(a, b, n, metric);
}
// The whole warp calls it.
__device__ __forceinline__ double tk_warp_pair_distance(const float* a, const float* b, int n,
                                                        int metric) {
  return tk_pair_distance_by<true>(a, b, n, metric);
}

// Entry (i, j) of the float distance matrix d (n columns) of the rows x, in double, as a loss
// reads it (core's distance::Exact): an entry outside float's normal range (0, subnormal,
// infinite) may be a product that underflowed or overflowed on its way into float, so it is
// computed again from the two rows; cosine distances lie in [0, 2] and are read as they are.
__device__ __forceinline__ double tk_exact_distance(const float* d, const float* x, int n, int dim,
                                                    int i, int j, int metric) {
  const float v = d[(size_t)i * n + j];
  const float m = fabsf(v);
  if (metric == TK_COSINE || (m >= 1.17549435e-38f && m <= TK_FLT_MAX)) return v;
  return tk_pair_distance(x + (size_t)i * dim, x + (size_t)j * dim, dim, metric);
}

// Entry (i, j) of the float distance matrix d (n columns) of rows a against rows b, read as
// tk_exact_distance reads it.
__device__ __forceinline__ double tk_exact_distance2(const float* d, const float* a, const float* b,
                                                     int n, int dim, int i, int j, int metric) {
  const float v = d[(size_t)i * n + j];
  const float m = fabsf(v);
  if (metric == TK_COSINE || (m >= 1.17549435e-38f && m <= TK_FLT_MAX)) return v;
  return tk_pair_distance(a + (size_t)i * dim, b + (size_t)j * dim, dim, metric);
}
