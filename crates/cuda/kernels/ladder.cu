// ladderLoss with D(queries, candidates) left on the device (tk_distance_tile): a warp a query
// row walks its rungs and writes its row of the backward pass's coefficients and its loss.
// s = −d is the similarity up to a constant, which cancels in every difference; d is read as
// the cpu reads it (tk_exact_distance2). Each step is the cpu's
// (crates/core/src/losses/ladder.rs): the lanes take the columns lane, lane + 32, …; each
// coefficient gets the cpu's additions (all of one rung are the same value, so their order
// does not change the bits), and the all-pairs loss meets by a fixed tree of the lanes' sums
// (within rounding of the cpu's sum in pair order; the hardest pair's is the cpu's).
#include "pair.cuh"

// The better of (s, j) and lane `o` lanes down's: the least s (`least`) or the greatest, ties
// to the lower index; j < 0 is none. The whole warp calls it.
__device__ __forceinline__ void tk_warp_best(double& s, int& j, bool least) {
  for (int o = 16; o > 0; o >>= 1) {
    const double os = __shfl_down_sync(0xffffffffu, s, o);
    const int oj = __shfl_down_sync(0xffffffffu, j, o);
    const bool better = oj >= 0 && (j < 0 || (least ? os < s : os > s) || (os == s && oj < j));
    if (better) s = os, j = oj;
  }
  s = __shfl_sync(0xffffffffu, s, 0);
  j = __shfl_sync(0xffffffffu, j, 0);
}

// Query i over the rungs l: the candidates whose relevance is ≥ thresholds[l] are above, the
// rest below. With `hardest`, the pair (min_above s, max_below s), ties to the lower index;
// else every (above, below) pair, each weighted by 1/(above · below). A pair with hinge
// h = margins[l] − s(p) + s(n) > 0 adds w·h to the loss and moves coef[i][p] by −w and
// coef[i][n] by +w, w = weights[l]/nq: coef is ∂L/∂s, which is the GEMM form's coefficient.
// Launched over nq × 32 threads.
extern "C" __global__ void tk_ladder_rows(const float* d, const float* q, const float* c,
                                          const float* relevance, int nq, int nc, int dim,
                                          int metric, const double* thresholds,
                                          const double* margins, const double* weights,
                                          int rungs, int hardest, double* coef, double* loss) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= nq) return;  // the whole warp: a warp is one query
  const int lane = threadIdx.x & 31;
  double* gi = coef + (size_t)i * nc;
  const float* rel = relevance + (size_t)i * nc;
  for (int j = lane; j < nc; j += 32) gi[j] = 0.0;
  const double per_query = 1.0 / (double)nq;
  double total = 0.0;  // lane 0's
  for (int l = 0; l < rungs; l++) {
    const double theta = thresholds[l], alpha = margins[l], w = weights[l] * per_query;
    double counts[2] = {0.0, 0.0};  // above, below
    int p = -1, n = -1;
    double sp = 0.0, sn = 0.0;
    for (int j = lane; j < nc; j += 32) {
      const double s = -tk_exact_distance2(d, q, c, nc, dim, i, j, metric);
      if ((double)rel[j] >= theta) {
        if (p < 0 || s < sp) p = j, sp = s;
        counts[0] += 1.0;
      } else {
        if (n < 0 || s > sn) n = j, sn = s;
        counts[1] += 1.0;
      }
    }
    const double above = tk_warp_sum(counts[0]), below = tk_warp_sum(counts[1]);
    tk_warp_best(sp, p, true);
    tk_warp_best(sn, n, false);
    if (above == 0.0 || below == 0.0) continue;
    if (hardest) {
      const double h = alpha - sp + sn;
      if (h > 0.0 && lane == 0) {
        total += w * h;
        gi[p] -= w;
        gi[n] += w;
      }
      __syncwarp();
      continue;
    }
    const double wp = w / (above * below);
    // Each lane's columns: as an above one, its violated pairs with every below one (their
    // losses, and −wp each); as a below one, the above ones it is violated by (+wp each).
    double part = 0.0;
    for (int j = lane; j < nc; j += 32) {
      const bool is_above = (double)rel[j] >= theta;
      const double sj = -tk_exact_distance2(d, q, c, nc, dim, i, j, metric);
      int times = 0;
      for (int o = 0; o < nc; o++) {
        if (((double)rel[o] >= theta) == is_above) continue;
        const double so = -tk_exact_distance2(d, q, c, nc, dim, i, o, metric);
        const double h = is_above ? alpha - sj + so : alpha - so + sj;
        if (h > 0.0) {
          times++;
          if (is_above) part += wp * h;
        }
      }
      for (int t = 0; t < times; t++) gi[j] += is_above ? -wp : wp;
    }
    part = tk_warp_sum(part);
    if (lane == 0) total += part;
  }
  if (lane == 0) loss[i] = total;
}
