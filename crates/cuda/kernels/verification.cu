// verificationMetrics: a warp a pair computes d(a_i, b_i) exactly (pair.cuh), for the host to
// sort and sweep. A warp rather than a thread, so that a launch of 65,536 pairs fills a GPU.
#include "pair.cuh"

extern "C" __global__ void tk_pair_distances(const float* a, const float* b, int rows, int cols,
                                             int metric, double* out) {
  const int i = (int)(((size_t)blockIdx.x * blockDim.x + threadIdx.x) / 32);
  if (i >= rows) return;  // the whole warp: a warp is one pair
  const double d = tk_warp_pair_distance(a + (size_t)i * cols, b + (size_t)i * cols, cols, metric);
  if ((threadIdx.x & 31) == 0) out[i] = d;
}
