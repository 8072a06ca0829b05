// Batch-semihard negatives (FaceNet; TensorFlow Addons' TripletSemiHardLoss): for each
// positive p of an anchor, the nearest negative farther than p (distance, then lower index),
// and failing that the anchor's farthest negative (lower index on ties). One block an anchor,
// over the anchor's row of distances (written by tk_distance_tile). The positives come in
// groups of TK_GROUP: each thread keeps a running best for every positive of the group over its
// share of the negatives, then one thread a positive reduces the block's candidates from
// shared memory, so the row is read once a group and the block meets twice a group.
#include "common.cuh"

#define TK_GROUP 8
#define TK_WARPS (TK_THREADS / 32)

__device__ __forceinline__ u64 tk_min_u64(u64 a, u64 b) { return a < b ? a : b; }
__device__ __forceinline__ u64 tk_max_u64(u64 a, u64 b) { return a > b ? a : b; }

// The block's minimum (or maximum) of one value a thread; every thread gets it.
__device__ __forceinline__ u64 tk_block_reduce(u64 v, bool take_max, u64* scratch) {
  for (int o = 16; o > 0; o /= 2) {
    const u64 w = __shfl_down_sync(0xffffffffu, v, o);
    v = take_max ? tk_max_u64(v, w) : tk_min_u64(v, w);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  u64 r = scratch[0];
  for (int w = 1; w < TK_WARPS; w++) r = take_max ? tk_max_u64(r, scratch[w]) : tk_min_u64(r, scratch[w]);
  __syncthreads();
  return r;
}

// `dist`: this launch's anchors' rows (anchor i: global index row0 + i), `cols` wide. Labels
// are dense class ids; `members` lists each class's candidates in ascending order from
// `member_start[class]` to `member_start[class + 1]`. `out_start[i]` is where anchor i's
// negatives go, one per positive in ascending positive order (the host sized it: anchors
// without a positive or without a negative have none).
extern "C" __global__ void tk_semihard(const float* dist, int cols, const int* cand_class,
                                       const int* anchor_class, int row0, int self,
                                       const int* member_start, const int* members,
                                       const long long* out_start, int* out_negative) {
  __shared__ u64 scratch[TK_WARPS];
  __shared__ u64 group_best[TK_THREADS][TK_GROUP];
  const int i = blockIdx.x;
  const int cls = anchor_class[i];
  if (cls < 0) return;
  const float* row = dist + (size_t)i * cols;
  const int m0 = member_start[cls], m1 = member_start[cls + 1];
  const int a = row0 + i;
  // The farthest negative: keys ordered by distance, then by the lower index.
  u64 far = 0;
  bool any_negative = false;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    if (cand_class[j] == cls) continue;
    any_negative = true;
    const u64 key = tk_sort_key(row[j], 0u) | (u64)(0xffffffffu - (unsigned)j);
    far = tk_max_u64(far, key);
  }
  far = tk_block_reduce(any_negative ? far : 0ull, true, scratch);
  if (far == 0ull) return;
  const int far_index = (int)(0xffffffffu - (unsigned)(far & 0xffffffffu));
  long long next = out_start[i];
  for (int g = m0; g < m1; g += TK_GROUP) {
    int pos[TK_GROUP];
    float dp[TK_GROUP];
    u64 best[TK_GROUP];
    for (int q = 0; q < TK_GROUP; q++) {
      const int m = g + q;
      pos[q] = m < m1 ? members[m] : -1;
      if (self && pos[q] == a) pos[q] = -1;
      dp[q] = pos[q] >= 0 ? row[pos[q]] : 0.0f;
      best[q] = ~0ull;
    }
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
      if (cand_class[j] == cls) continue;
      const float d = row[j];
      const u64 key = tk_sort_key(d, (unsigned)j);
      for (int q = 0; q < TK_GROUP; q++)
        if (pos[q] >= 0 && d > dp[q] && key < best[q]) best[q] = key;
    }
    for (int q = 0; q < TK_GROUP; q++) group_best[threadIdx.x][q] = best[q];
    __syncthreads();
    const int q = threadIdx.x;
    if (q < TK_GROUP && pos[q] >= 0) {
      u64 b = ~0ull;
      for (int t = 0; t < TK_THREADS; t++) b = tk_min_u64(b, group_best[t][q]);
      int rank = 0;
      for (int r = 0; r < q; r++) rank += pos[r] >= 0;
      out_negative[next + rank] = b == ~0ull ? far_index : (int)(b & 0xffffffffu);
    }
    for (int r = 0; r < TK_GROUP; r++) next += pos[r] >= 0;
    __syncthreads();
  }
}
