// ladderLoss with D(queries, candidates) left on the device (tk_distance_tile): one thread a
// query row walks its rungs and writes its row of the backward pass's coefficients and its
// loss. s = −d is the similarity up to a constant, which cancels in every difference; d is
// read as the cpu reads it (tk_exact_distance2). Each step is the cpu's
// (crates/core/src/losses/ladder.rs), in the same order.
#include "pair.cuh"

// Query i over the rungs l: the candidates whose relevance is ≥ thresholds[l] are above, the
// rest below. With `hardest`, the pair (min_above s, max_below s), ties to the lower index;
// else every (above, below) pair, each weighted by 1/(above · below). A pair with hinge
// h = margins[l] − s(p) + s(n) > 0 adds w·h to the loss and moves coef[i][p] by −w and
// coef[i][n] by +w, w = weights[l]/nq: coef is ∂L/∂s, which is the GEMM form's coefficient.
extern "C" __global__ void tk_ladder_rows(const float* d, const float* q, const float* c,
                                          const float* relevance, int nq, int nc, int dim,
                                          int metric, const double* thresholds,
                                          const double* margins, const double* weights,
                                          int rungs, int hardest, double* coef, double* loss) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= nq) return;
  double* gi = coef + (size_t)i * nc;
  const float* rel = relevance + (size_t)i * nc;
  for (int j = 0; j < nc; j++) gi[j] = 0.0;
  const double per_query = 1.0 / (double)nq;
  double total = 0.0;
  for (int l = 0; l < rungs; l++) {
    const double theta = thresholds[l], alpha = margins[l], w = weights[l] * per_query;
    int above = 0, below = 0, p = -1, n = -1;
    double sp = 0.0, sn = 0.0;
    for (int j = 0; j < nc; j++) {
      const double s = -tk_exact_distance2(d, q, c, nc, dim, i, j, metric);
      if ((double)rel[j] >= theta) {
        if (p < 0 || s < sp) p = j, sp = s;
        above++;
      } else {
        if (n < 0 || s > sn) n = j, sn = s;
        below++;
      }
    }
    if (above == 0 || below == 0) continue;
    if (hardest) {
      const double h = alpha - sp + sn;
      if (h > 0.0) {
        total += w * h;
        gi[p] -= w;
        gi[n] += w;
      }
      continue;
    }
    const double wp = w / ((double)above * (double)below);
    for (int a = 0; a < nc; a++) {
      if (!((double)rel[a] >= theta)) continue;
      const double sa = -tk_exact_distance2(d, q, c, nc, dim, i, a, metric);
      for (int b = 0; b < nc; b++) {
        if ((double)rel[b] >= theta) continue;
        const double h = alpha - sa + -tk_exact_distance2(d, q, c, nc, dim, i, b, metric);
        if (h > 0.0) {
          total += wp * h;
          gi[a] -= wp;
          gi[b] += wp;
        }
      }
    }
  }
  loss[i] = total;
}
