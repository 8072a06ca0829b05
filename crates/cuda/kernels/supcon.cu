// supConLoss with the batch's cosine distances D left on the device (tk_distance_tile): per
// anchor row, a warp a row, its softmax's shift and sum and its loss (the lanes' sums meet by
// a fixed tree, so they may differ from the cpu's in the last bits); then the
// coefficients of the backward pass's GEMM form, one thread an element, for tk_coef_gemm.
// s_ij = −d_ij/τ (the constant 1/τ of s = (1 − d)/τ cancels in every log-softmax). Each step
// is the cpu's (crates/core/src/losses/supcon.rs), the sums but in their order.
#include "common.cuh"

// For an anchor with positives[i] > 0: shift[i] = max_{j≠i} s_ij, z[i] = Σ_{j≠i} exp(s_ij −
// shift[i]) and loss[i] = −Σ_{j≠i, label j = label i} (s_ij − lse_i)/positives[i] with lse_i =
// shift[i] + log z[i]; 0 for an anchor with no positive.
extern "C" __global__ void tk_supcon_rows(const float* d, const int* labels,
                                          const unsigned* positives, int n, double tau,
                                          double* shift, double* z, double* loss) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= n) return;  // the whole warp: a warp is one row
  const int lane = threadIdx.x & 31;
  if (positives[i] == 0) {
    if (lane == 0) shift[i] = 0.0, z[i] = 1.0, loss[i] = 0.0;
    return;
  }
  const float* row = d + (size_t)i * n;
  double m = -tk_inf();
  for (int j = lane; j < n; j += 32) {
    if (j == i) continue;
    const double s = -(double)row[j] / tau;
    m = s > m ? s : m;
  }
  m = tk_warp_max(m);
  double sum = 0.0;
  for (int j = lane; j < n; j += 32) {
    if (j != i) sum += exp(-(double)row[j] / tau - m);
  }
  sum = tk_warp_sum(sum);
  const double lse = m + log(sum);
  const double per = 1.0 / (double)positives[i];
  double l = 0.0;
  for (int j = lane; j < n; j += 32) {
    if (j != i && labels[j] == labels[i]) l -= per * (-(double)row[j] / tau - lse);
  }
  l = tk_warp_sum(l);
  if (lane == 0) shift[i] = m, z[i] = sum, loss[i] = l;
}

// C_ij = −w[i] · (softmax_ij − [j ∈ P(i)]/|P(i)|) for j ≠ i, 0 on the diagonal and where
// w[i] = 0: the op's ∂L/∂d is w[i] · ∂l_i/∂s (its weights), and the GEMM form of a cosine
// distance's backward takes its negation.
extern "C" __global__ void tk_supcon_coef(const float* d, const int* labels,
                                          const unsigned* positives, int n, double tau,
                                          const double* shift, const double* z,
                                          const double* loss, const double* w, double* coef) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= (long long)n * n) return;
  const int i = (int)(e / n), j = (int)(e % n);
  if (j == i || w[i] == 0.0) {
    coef[e] = 0.0;
    return;
  }
  const double target = labels[j] == labels[i] ? 1.0 / (double)positives[i] : 0.0;
  const double g = (exp(-(double)d[e] / tau - shift[i]) / z[i] - target) * w[i];
  coef[e] = -g;
}
