// tripletMarginLoss: a warp a row (anchor a_i, positive p_i, negative n_i) computes the
// triplet's loss and its three gradient rows, in double, in the cpu device's order of
// operations: sums over eight interleaved lanes then the tail (core's pair::sum_pairs, each
// of the eight by a lane of its own), distances and gradients as pair::distance and
// pair::PairGrad (a lane the elements lane, lane + 32, …), the loss as term::TermRule. With
// --fmad=false no multiply-add is fused, so each value matches the cpu's but for the last bits
// of exp and log1p under a soft margin. A warp rather than a thread, so that a launch of
// 65,536 rows fills a GPU.
#include "pair.cuh"

// Adds coef · ∂d(a,b)/∂a to ga and coef · ∂d(a,b)/∂b to gb (0 where d is not differentiable),
// a lane the elements lane, lane + 32, …; the whole warp calls it.
__device__ __forceinline__ void tk_add_grad(const float* a, const float* b, int n, int metric,
                                            double d, double coef, double* ga, double* gb) {
  if (coef == 0.0) return;
  const int lane = threadIdx.x & 31;
  if (metric == TK_SQEUCLIDEAN || metric == TK_EUCLIDEAN) {
    double s;
    if (metric == TK_SQEUCLIDEAN) {
      s = 2.0 * coef;
    } else if (d > 0.0) {
      s = coef / d;
    } else {
      return;
    }
    for (int t = lane; t < n; t += 32) {
      const double g = s * ((double)a[t] - (double)b[t]);
      ga[t] += g;
      gb[t] -= g;
    }
  } else if (metric == TK_DOT) {
    for (int t = lane; t < n; t += 32) {
      ga[t] -= coef * (double)b[t];
      gb[t] -= coef * (double)a[t];
    }
  } else {
    const double na = sqrt(tk_warp_sum_pairs(a, a, n, 1)), nb = sqrt(tk_warp_sum_pairs(b, b, n, 1));
    const double ab = tk_warp_sum_pairs(a, b, n, 1);
    if (na == 0.0 || nb == 0.0) return;
    const double cosv = ab / (na * nb);
    const double inv = 1.0 / (na * nb);
    for (int t = lane; t < n; t += 32) {
      const double x = a[t], y = b[t];
      ga[t] -= coef * (y * inv - cosv * x / (na * na));
      gb[t] -= coef * (x * inv - cosv * y / (nb * nb));
    }
  }
}

__device__ __forceinline__ double tk_softplus(double x) {
  return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
__device__ __forceinline__ double tk_sigmoid(double x) {
  if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

// Rows a, p, n: `rows` × `cols` each. Writes loss[i], has_grad[i] and the gradient rows
// ga, gp, gn (rows × cols doubles each; zero where the triplet has no gradient).
extern "C" __global__ void tk_margin_terms(const float* a, const float* p, const float* n, int rows,
                                           int cols, int metric, double margin, int soft, int swap,
                                           double* loss, int* has_grad, double* ga, double* gp,
                                           double* gn) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= rows) return;  // the whole warp: a warp is one row
  const int lane = threadIdx.x & 31;
  const size_t at = (size_t)i * cols;
  const float *ra = a + at, *rp = p + at, *rn = n + at;
  double *g0 = ga + at, *g1 = gp + at, *g2 = gn + at;
  for (int t = lane; t < cols; t += 32) g0[t] = g1[t] = g2[t] = 0.0;
  const double dap = tk_warp_pair_distance(ra, rp, cols, metric);
  const double dan = tk_warp_pair_distance(ra, rn, cols, metric);
  double dn = dan;
  bool swapped = false;
  if (swap) {
    const double dpn = tk_warp_pair_distance(rp, rn, cols, metric);
    if (dpn < dan) dn = dpn, swapped = true;
  }
  const double z = dap - dn;
  const double l = soft ? tk_softplus(z) : (z + margin > 0.0 ? z + margin : 0.0);
  if (lane == 0) {
    loss[i] = l;
    has_grad[i] = l > 0.0 || soft;
  }
  const double slope = soft ? tk_sigmoid(z) : (l > 0.0 ? 1.0 : 0.0);
  if (slope == 0.0) return;
  tk_add_grad(ra, rp, cols, metric, dap, slope, g0, g1);
  if (swapped) {
    tk_add_grad(rp, rn, cols, metric, dn, -slope, g1, g2);
  } else {
    tk_add_grad(ra, rn, cols, metric, dn, -slope, g0, g2);
  }
}
