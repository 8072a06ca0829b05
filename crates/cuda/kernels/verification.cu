// verificationMetrics: one thread a pair computes d(a_i, b_i) exactly (pair.cuh), for the host
// to sort and sweep.
#include "pair.cuh"

extern "C" __global__ void tk_pair_distances(const float* a, const float* b, int rows, int cols,
                                             int metric, double* out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= rows) return;
  out[i] = tk_pair_distance(a + (size_t)i * cols, b + (size_t)i * cols, cols, metric);
}
