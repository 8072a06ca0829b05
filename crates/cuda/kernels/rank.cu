// multipleNegativesRankingLoss's passes with D(queries, candidates) left on the device
// (tk_distance_tile): per query row, a warp a row, its softmax's shift and sum and its loss
// (the lanes' sums meet by a fixed tree, so they may differ from the cpu's in the last bits);
// then the coefficients of the backward pass's GEMM form, one thread an element, for
// tk_coef_gemm. s = −d is the similarity up to a constant (1 − d for cosine), which cancels;
// d is read as the cpu reads it (tk_exact_distance2). Each step is the cpu's
// (crates/core/src/losses/ranking.rs), the sums but in their order.
#include "pair.cuh"

__device__ __forceinline__ double tk_rank_sim(const float* d, const float* q, const float* c,
                                              int n, int dim, int i, int j, int metric) {
  return -tk_exact_distance2(d, q, c, n, dim, i, j, metric);
}

// Query i against its n candidates: shift[i] = the similarity of the largest scaled term (the
// smallest for a negative scale), z[i] = Σ_j exp(scale · (s_ij − shift[i])), and loss[i] =
// weight · (scale · (shift[i] − s_ii) + log z[i]): candidate i is the query's positive.
extern "C" __global__ void tk_rank_rows(const float* d, const float* q, const float* c, int m,
                                        int n, int dim, int metric, double scale, double weight,
                                        double* shift, double* z, double* loss) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= m) return;  // the whole warp: a warp is one row
  const int lane = threadIdx.x & 31;
  const double sign = scale >= 0.0 ? 1.0 : -1.0;
  // The largest scaled term: the largest s, or the smallest for a negative scale.
  double best = -tk_inf();
  for (int j = lane; j < n; j += 32) {
    const double s = sign * tk_rank_sim(d, q, c, n, dim, i, j, metric);
    best = s > best ? s : best;
  }
  best = sign * tk_warp_max(best);
  double sum = 0.0;
  for (int j = lane; j < n; j += 32)
    sum += exp(scale * (tk_rank_sim(d, q, c, n, dim, i, j, metric) - best));
  sum = tk_warp_sum(sum);
  if (lane != 0) return;
  shift[i] = best, z[i] = sum;
  loss[i] = weight * (scale * (best - tk_rank_sim(d, q, c, n, dim, i, i, metric)) + log(sum));
}

// C_ij = weight · (softmax_ij − [j = i]): ∂L/∂d over the scale is −weight · (softmax − target),
// and the GEMM form of a cosine or dot distance's backward takes its negation.
extern "C" __global__ void tk_rank_coef(const float* d, const float* q, const float* c, int m,
                                        int n, int dim, int metric, double scale, double weight,
                                        const double* shift, const double* z, double* coef) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= (long long)m * n) return;
  const int i = (int)(e / n), j = (int)(e % n);
  const double s = tk_rank_sim(d, q, c, n, dim, i, j, metric);
  const double p = exp(scale * (s - shift[i])) / z[i] - (j == i ? 1.0 : 0.0);
  const double g = -weight * p;
  coef[e] = -g;
}
