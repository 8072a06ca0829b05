// Exact knn, selected in the distance tile's epilogue: no distance is written to memory.
//
// tk_knn_tile: a block takes 128 queries and a span of corpus columns (blockIdx.x, blockIdx.y)
// and keeps each query's k best of that span in a list of its own, (distance, index) keys in
// order, on the device across the column launches of a row chunk. After each 128 × 128 tile
// only the candidates that beat their query's k-th best so far go on: they gather in shared
// memory, TK_KNN_SLOTS (16) a query, and a warp merges them into the query's list
// (each key's place is its rank among the candidates plus a search of the list). Candidates
// that found no free slot wait in their thread's registers for the next round; rounds go on
// until none waits, so no candidate is ever dropped. Once the list is full most tiles
// send nothing on.
//
// tk_topk_merge: one block a query merges the span lists into its k best.
//
// Keys are (distance, index), so ties go to the lower index and no answer depends on the
// order in which threads or spans met.
#include "common.cuh"

#define TK_KNN_SLOTS 16
#define TK_KNN_WIDTH 1024
#define TK_KNN_MAX_K 1024
#define TK_KNN_SORT (TK_KNN_WIDTH + TK_KNN_MAX_K)
#define TK_WARPS (TK_THREADS / 32)

// A tile's gathered candidates, a query's TK_KNN_SLOTS at a time. They are gathered after the
// tile's dot products are done, so they share memory with its slices.
struct TkKnnCands {
  u64 key[TK_TILE][TK_KNN_SLOTS];
  float d[TK_TILE][TK_KNN_SLOTS];
};
union TkKnnShared {
  TkTiles tiles;
  TkKnnCands cands;
};

// Of the n new keys (in shared memory, in no order), those below `key`.
__device__ __forceinline__ int tk_count_below(const u64* new_keys, int n, u64 key) {
  int below = 0;
  for (int t = 0; t < n; t++) below += new_keys[t] < key;
  return below;
}

// Merges n ≤ 32 new keys (distinct, each below the list's last; in shared memory) into a
// query's ascending list of k keys and distances, in place; what falls past k is dropped. A
// key's place is its rank among the new keys plus the old keys below it, so a lane places
// each key with no sort. The whole warp calls it.
__device__ TK_NOINLINE void tk_warp_merge(u64* list, float* dist, int k, const u64* new_keys,
                              const float* new_d, int n) {
  const int lane = threadIdx.x & 31;
  int place = k;
  u64 key = ~0ull;
  float d = 0.0f;
  if (lane < n) {
    key = new_keys[lane];
    d = new_d[lane];
    place = tk_count_below(new_keys, n, key) + tk_lower_bound(list, k, key);
  }
  // Old keys from the least new key's place to the last real one (all-ones keys are empty
  // slots, and stay so) move right by the new keys below them. Runs of 32 go last first: a
  // run writes only at or past its own start, where every key has been read already.
  u64 least = ~0ull;
  for (int t = 0; t < n; t++) least = new_keys[t] < least ? new_keys[t] : least;
  const int first = tk_lower_bound(list, k, least);
  const int end = tk_lower_bound(list, k, ~0ull);
  __syncwarp();  // every lane has read the list before any lane writes it
  for (int p0 = (end - 1) / 32 * 32; p0 >= first / 32 * 32 && end > first; p0 -= 32) {
    const int p = p0 + lane;
    const u64 old = p < end ? list[p] : ~0ull;
    const float old_d = p < end ? dist[p] : 0.0f;
    const int below = tk_count_below(new_keys, n, old);
    __syncwarp();
    if (p < end && p + below < k) {
      list[p + below] = old;
      dist[p + below] = old_d;
    }
    __syncwarp();
  }
  if (place < k) {
    list[place] = key;
    dist[place] = d;
  }
  __syncwarp();
}

// `a`: this launch's queries (global index row0 + i); `b`: a chunk of the corpus (global index
// col0 + j). Block (x, y) folds columns y·span .. (y + 1)·span of its 128 queries into lists
// `list_keys`/`list_d` + y·a_rows·k (k slots a query; all-ones keys are empty slots).
extern "C" __global__ void __launch_bounds__(TK_THREADS, 1)
    tk_knn_tile(const float* a, const float* a_norms, int a_rows, const float* b,
                const float* b_norms, int b_rows, int dim, int row0, int col0, int metric,
                int exclude_self, int span, int k, u64* list_keys, float* list_d, int math) {
  __shared__ TkKnnShared s;
  __shared__ u64 bar[TK_TILE];  // each query's k-th key so far: what a candidate must beat
  __shared__ int count[TK_TILE];
  __shared__ int more[2];
  const int t = threadIdx.x, lane = t & 31, warp = t / 32;
  const int r0 = blockIdx.x * TK_TILE;
  u64* keys = list_keys + (size_t)blockIdx.y * a_rows * k;
  float* dists = list_d + (size_t)blockIdx.y * a_rows * k;
  if (t < TK_TILE) {
    bar[t] = r0 + t < a_rows ? keys[(size_t)(r0 + t) * k + k - 1] : 0;
    count[t] = 0;
  }
  if (t < 2) more[t] = 0;
  __syncthreads();
  const int c_begin = blockIdx.y * span;
  const int c_end = span < b_rows - c_begin ? c_begin + span : b_rows;
  for (int c0 = c_begin; c0 < c_end; c0 += TK_TILE) {
    float acc[TK_PER][TK_PER];
    tk_dot_tile(a, a_rows, b, b_rows, dim, r0, c0, math, s.tiles, acc);
    // The tile's distances, in place; `waiting` marks those still to offer.
    u64 waiting = 0;
    #pragma unroll
    for (int r = 0; r < TK_PER; r++) {
      const int i = r0 + tk_acc_row(math, r);
      if (i >= a_rows) continue;
      #pragma unroll
      for (int c = 0; c < TK_PER; c++) {
        const int j = c0 + tk_acc_col(math, c);
        if (j >= c_end || (exclude_self && row0 + i == col0 + j)) continue;
        acc[r][c] = tk_distance<true>(acc[r][c], a + (size_t)i * dim, b + (size_t)j * dim, dim,
                                      a_norms[i], b_norms[j], false, metric);
        waiting |= 1ull << (r * TK_PER + c);
      }
    }
    for (int round = 0;; round++) {
      bool left = false;
      #pragma unroll
      for (int r = 0; r < TK_PER; r++) {
        const int q = tk_acc_row(math, r);
        #pragma unroll
        for (int c = 0; c < TK_PER; c++) {
          const u64 bit = 1ull << (r * TK_PER + c);
          if (!(waiting & bit)) continue;
          const u64 key = tk_sort_key(acc[r][c], (unsigned)(col0 + c0 + tk_acc_col(math, c)));
          if (key < bar[q]) {
            const int slot = atomicAdd(&count[q], 1);
            if (slot >= TK_KNN_SLOTS) {
              left = true;  // the slots are taken: offered again next round
              continue;
            }
            s.cands.key[q][slot] = key;
            s.cands.d[q][slot] = acc[r][c];
          }
          waiting &= ~bit;
        }
      }
      if (left) more[round & 1] = 1;
      __syncthreads();
      for (int q = warp; q < TK_TILE; q += TK_WARPS) {
        const int n = count[q];
        if (n == 0) continue;
        const size_t at = (size_t)(r0 + q) * k;
        tk_warp_merge(keys + at, dists + at, k, s.cands.key[q], s.cands.d[q],
                      n < TK_KNN_SLOTS ? n : TK_KNN_SLOTS);
        if (lane == 0) {
          bar[q] = keys[at + k - 1];
          count[q] = 0;
        }
      }
      // The other round's flag is clear for the next round: this round's was read by all
      // only after the barrier below, and the last round's before the one above.
      if (t == 0) more[(round + 1) & 1] = 0;
      __syncthreads();
      if (!more[round & 1]) break;
    }
  }
}

// Each query's k best of its `lists` span lists (list s of query i at (s·rows + i)·k), into
// `top_keys`/`top_d` (k a query, all ones when the block starts): the candidates that beat
// the query's k-th best so far are gathered TK_KNN_WIDTH at a time, sorted together with the
// k (bitonic, in shared memory), and the first k kept.
extern "C" __global__ void tk_topk_merge(const u64* list_keys, const float* list_d, int rows,
                                         int lists, int k, u64* top_keys, float* top_d) {
  __shared__ u64 keys[TK_KNN_SORT];
  __shared__ float vals[TK_KNN_SORT];
  __shared__ int count;
  const int row = blockIdx.x;
  u64* tk = top_keys + (size_t)row * k;
  float* td = top_d + (size_t)row * k;
  const int width = lists * k;
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
      const int list = (s0 + jj) / k, slot = (s0 + jj) % k;
      const size_t at = ((size_t)list * rows + row) * k + slot;
      const u64 key = list_keys[at];
      if (key < threshold) {
        const int c = atomicAdd(&count, 1);
        keys[k + c] = key;
        vals[k + c] = list_d[at];
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
