// contrastiveLoss: from the batch's distance matrix D (tk_distance_tile), per row the losses of
// its positive pairs, max(0, d − pos_margin), and of its negative pairs, max(0, neg_margin − d),
// a warp a row: each lane sums the columns lane, lane + 32, …, and the lanes' sums meet by a
// fixed tree (the cpu sums in column order, so the sums may differ in the last bits); then the
// gradient through D in closed form, one thread an element of the result. D is read as
// tk_exact_distance reads it.
#include "pair.cuh"

// Row i's sums: stats[6i..6i+6] = positive count, active, sum; negative count, active, sum.
extern "C" __global__ void tk_contrastive_rows(const float* x, const float* d, const int* labels,
                                               int n, int dim, int metric, double pos_margin,
                                               double neg_margin, double* stats) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= n) return;  // the whole warp: a warp is one row
  const int lane = threadIdx.x & 31;
  double pc = 0.0, pa = 0.0, ps = 0.0, nc = 0.0, na = 0.0, ns = 0.0;
  for (int j = lane; j < n; j += 32) {
    if (j == i) continue;
    const double dv = tk_exact_distance(d, x, n, dim, i, j, metric);
    if (labels[j] == labels[i]) {
      const double l = dv - pos_margin > 0.0 ? dv - pos_margin : 0.0;
      pc += 1.0;
      pa += l > 0.0;
      ps += l;
    } else {
      const double l = neg_margin - dv > 0.0 ? neg_margin - dv : 0.0;
      nc += 1.0;
      na += l > 0.0;
      ns += l;
    }
  }
  pc = tk_warp_sum(pc), pa = tk_warp_sum(pa), ps = tk_warp_sum(ps);
  nc = tk_warp_sum(nc), na = tk_warp_sum(na), ns = tk_warp_sum(ns);
  if (lane != 0) return;
  double* s = stats + (size_t)6 * i;
  s[0] = pc, s[1] = pa, s[2] = ps, s[3] = nc, s[4] = na, s[5] = ns;
}

// ∂loss/∂d of pair (i, j), times the side's reduction scale: +sp for an active positive pair,
// −sn for an active negative one, 0 otherwise; then C_ij, the coefficient of the GEMM form.
__device__ __forceinline__ double tk_contrastive_coef(const float* x, const float* d,
                                                      const int* labels, int n, int dim, int i,
                                                      int j, double pm, double nm, double sp,
                                                      double sn, int metric) {
  if (i == j) return 0.0;
  const double dv = tk_exact_distance(d, x, n, dim, i, j, metric);
  double g;
  if (labels[i] == labels[j]) {
    g = dv - pm > 0.0 ? sp : 0.0;
  } else {
    g = nm - dv > 0.0 ? -sn : 0.0;
  }
  if (metric == TK_DOT || metric == TK_COSINE) return -g;
  if (metric == TK_SQEUCLIDEAN) return -2.0 * g;
  return dv > 0.0 ? -g / dv : 0.0;
}

// grad[i][t] for the rows x (prepared: unit rows for cosine or normalize), as the cpu's
// pairwise backward through D(x, x): Σ_j (C_ij + C_ji) x_j − (Σ_j C_ij + C_ji) x_i, the
// second term for the euclidean family only.
extern "C" __global__ void tk_contrastive_grad(const float* x, const float* d, const int* labels,
                                               int n, int dim, int metric, double pm, double nm,
                                               double sp, double sn, double* grad) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= (long long)n * dim) return;
  const int i = (int)(e / dim), t = (int)(e % dim);
  double acc = 0.0, rows = 0.0;
  for (int j = 0; j < n; j++) {
    const double c = tk_contrastive_coef(x, d, labels, n, dim, i, j, pm, nm, sp, sn, metric) +
                     tk_contrastive_coef(x, d, labels, n, dim, j, i, pm, nm, sp, sn, metric);
    acc += c * (double)x[(size_t)j * dim + t];
    rows += c;
  }
  if (metric == TK_EUCLIDEAN || metric == TK_SQEUCLIDEAN) acc -= rows * (double)x[(size_t)i * dim + t];
  grad[e] = acc;
}
