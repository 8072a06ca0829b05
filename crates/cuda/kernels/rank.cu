// multipleNegativesRankingLoss's passes with D(queries, candidates) left on the device
// (tk_distance_tile): per query row, one thread a row, its softmax's shift and sum and its
// loss; then the coefficients of the backward pass's GEMM form, one thread an element, for
// tk_coef_gemm. s = −d is the similarity up to a constant (1 − d for cosine), which cancels;
// d is read as the cpu reads it (tk_exact_distance2). Each step is the cpu's
// (crates/core/src/losses/ranking.rs), in the same order.
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
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= m) return;
  double best = tk_rank_sim(d, q, c, n, dim, i, 0, metric);
  for (int j = 1; j < n; j++) {
    const double s = tk_rank_sim(d, q, c, n, dim, i, j, metric);
    if (scale >= 0.0 ? s > best : s < best) best = s;
  }
  double sum = 0.0;
  for (int j = 0; j < n; j++) sum += exp(scale * (tk_rank_sim(d, q, c, n, dim, i, j, metric) - best));
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
