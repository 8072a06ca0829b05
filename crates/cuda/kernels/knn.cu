// Per-row top-k for knn: one block a query row merges a chunk of its distances (written by
// tk_distance_tile) into the row's k best so far, TK_KNN_WIDTH columns at a time. Only the
// candidates that beat the row's current k-th best are gathered, then the k old and the new
// are sorted together (bitonic, in shared memory) and the first k kept. Keys are
// (distance, index), so ties go to the lower index and the answer does not depend on the
// order in which threads gathered.
#include "common.cuh"

#define TK_KNN_WIDTH 1024
#define TK_KNN_MAX_K 1024
#define TK_KNN_SORT (TK_KNN_WIDTH + TK_KNN_MAX_K)

// `dist` holds this launch's rows (block i: global query index query0 + i), `width` columns
// of global index col0.. each, `ld` floats a row.
extern "C" __global__ void tk_topk_merge(const float* dist, int ld, int col0, int width, int k,
                                         int query0, int exclude_self, u64* top_keys,
                                         float* top_d) {
  __shared__ u64 keys[TK_KNN_SORT];
  __shared__ float vals[TK_KNN_SORT];
  __shared__ int count;
  const int row = blockIdx.x;
  u64* tk = top_keys + (size_t)row * k;
  float* td = top_d + (size_t)row * k;
  const long long skip = exclude_self ? (long long)query0 + row : -1;
  for (int s0 = 0; s0 < width; s0 += TK_KNN_WIDTH) {
    const int sw = width - s0 < TK_KNN_WIDTH ? width - s0 : TK_KNN_WIDTH;
    // The list as the previous slice left it (written before the barrier that ended it).
    const u64 threshold = tk[k - 1];
    if (threadIdx.x == 0) count = 0;
    for (int t = threadIdx.x; t < k; t += blockDim.x) {
      keys[t] = tk[t];
      vals[t] = td[t];
    }
    __syncthreads();
    for (int jj = threadIdx.x; jj < sw; jj += blockDim.x) {
      const int j = col0 + s0 + jj;
      if (j == skip) continue;
      const float d = dist[(size_t)row * ld + s0 + jj];
      const u64 key = tk_sort_key(d, (unsigned)j);
      if (key < threshold) {
        const int slot = atomicAdd(&count, 1);
        keys[k + slot] = key;
        vals[k + slot] = d;
      }
    }
    __syncthreads();
    const int n = k + count;
    if (n > k) {  // the same for every thread: `count` was read after the barrier
      int p = 1;
      while (p < n) p <<= 1;
      for (int t = n + threadIdx.x; t < p; t += blockDim.x) keys[t] = ~0ull;
      __syncthreads();
      for (int size = 2; size <= p; size <<= 1) {
        for (int stride = size / 2; stride > 0; stride >>= 1) {
          for (int t = threadIdx.x; t < p / 2; t += blockDim.x) {
            const int lo = 2 * t - (t & (stride - 1)), hi = lo + stride;
            const bool ascending = (lo & size) == 0;
            if ((keys[lo] > keys[hi]) == ascending) {
              const u64 kk = keys[lo];
              keys[lo] = keys[hi];
              keys[hi] = kk;
              const float v = vals[lo];
              vals[lo] = vals[hi];
              vals[hi] = v;
            }
          }
          __syncthreads();
        }
      }
      for (int t = threadIdx.x; t < k; t += blockDim.x) {
        tk[t] = keys[t];
        td[t] = vals[t];
      }
    }
    __syncthreads();
  }
}
