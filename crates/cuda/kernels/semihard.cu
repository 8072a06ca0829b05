// Batch-semihard negatives (FaceNet; TensorFlow Addons' TripletSemiHardLoss), fused into the
// distance tile: for each positive p of an anchor, the nearest negative farther than p
// (distance, then lower index), and failing that the anchor's farthest negative (lower index
// on ties). No distance matrix is written.
//
// A negative at distance d serves exactly the positives closer than d, a prefix of the
// anchor's positives sorted by distance. So: (1) tk_semihard_positives computes each
// (anchor, positive) distance with the tile's own arithmetic (the same bits the tile will
// see), and the host sorts each anchor's; (2) tk_semihard_fused walks the tiles, and each
// negative, in the tile's epilogue, lowers the bucket at the end of its prefix (an atomic
// minimum of its (distance, index) key) and the thread's running farthest; (3) the host takes
// a suffix minimum over each anchor's buckets, and a positive's negative is the bucket of its
// rank (or the farthest). The state lives in global memory, so column chunks merge.
#include "common.cuh"

// d(a_i, b_j) for each listed pair, one thread a pair, with tk_dot_tile's arithmetic: FP32,
// one fmaf a coordinate in order, the padding to a multiple of TK_STEP included (it can turn a
// −0 sum into +0); 3xTF32, the scalar form of its steps (the emulated tile's bits, within FP32
// rounding of a tensor core's); then tk_distance. `pair_a` indexes `a` (this launch's anchors), `pair_b`
// indexes `b` (this launch's candidates).
extern "C" __global__ void tk_semihard_positives(const float* a, const float* a_norms,
                                                 const float* b, const float* b_norms, int dim,
                                                 int metric, const int* pair_a,
                                                 const int* pair_b, const int* pair_slot,
                                                 int pairs, float* out, int math) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= pairs) return;
  const int i = pair_a[t], j = pair_b[t];
  const float* ar = a + (size_t)i * dim;
  const float* br = b + (size_t)j * dim;
  float acc = 0.0f;
  const int padded = (dim + TK_STEP - 1) / TK_STEP * TK_STEP;
  if (math == TK_TF32X3) {
    for (int k0 = 0; k0 < padded; k0 += TK_STEP) {
      float x[TK_STEP], y[TK_STEP];
      for (int kk = 0; kk < TK_STEP; kk++) {
        x[kk] = k0 + kk < dim ? ar[k0 + kk] : 0.0f;
        y[kk] = k0 + kk < dim ? br[k0 + kk] : 0.0f;
      }
      acc = tk_tf32x3_step(x, 1, y, 1, acc);
    }
  } else {
    for (int k = 0; k < padded; k++) {
      const float x = k < dim ? ar[k] : 0.0f, y = k < dim ? br[k] : 0.0f;
      acc = fmaf(x, y, acc);
    }
  }
  out[pair_slot[t]] = tk_distance(acc, ar, br, dim, a_norms[i], b_norms[j], false, metric);
}

// `a` holds this launch's anchors and `b` a chunk of candidates (global index col0 + j). The
// grid is 2-D so that it fills the GPU: blockIdx.x is a tile of 128 anchors, blockIdx.y a span
// of `span` candidates (a multiple of 128, so tiles fall where they would in one block).
// `a_class` is an anchor's dense class (−1: it yields nothing), `b_class` a candidate's. Anchor i's positives, sorted
// by distance, are sorted[start[i] .. start[i] + count[i]], and its buckets the u64s at the
// same offsets (bucket c − 1 takes the negatives that c positives are closer than; ~0: none).
// `far` is each anchor's farthest negative so far: the key (distance, ~index), 0 for none.
extern "C" __global__ void __launch_bounds__(TK_THREADS, 1)
    tk_semihard_fused(const float* a, const float* a_norms,
                                             const int* a_class, int a_rows, const float* b,
                                             const float* b_norms, const int* b_class,
                                             int b_rows, int dim, int col0, int metric,
                                             const float* sorted, const int* start,
                                             const int* count, int span, u64* buckets,
                                             u64* far, int math) {
  __shared__ TkTiles s;
  __shared__ u64 red[TK_TILE][17];
  const int r0 = blockIdx.x * TK_TILE;
  int cls[TK_PER], off[TK_PER], n[TK_PER];
  u64 top[TK_PER];
  #pragma unroll
  for (int r = 0; r < TK_PER; r++) {
    const int i = r0 + tk_acc_row(math, r);
    cls[r] = i < a_rows ? a_class[i] : -1;
    off[r] = cls[r] >= 0 ? start[i] : 0;
    n[r] = cls[r] >= 0 ? count[i] : 0;
    top[r] = 0ull;
  }
  const int c_begin = blockIdx.y * span;
  const int c_end = span < b_rows - c_begin ? c_begin + span : b_rows;
  for (int c0 = c_begin; c0 < c_end; c0 += TK_TILE) {
    float acc[TK_PER][TK_PER];
    tk_dot_tile(a, a_rows, b, b_rows, dim, r0, c0, math, s, acc);
    #pragma unroll
    for (int c = 0; c < TK_PER; c++) {
      const int j = c0 + tk_acc_col(math, c);
      if (j >= c_end) continue;
      const int cj = b_class[j];
      const unsigned gj = (unsigned)(col0 + j);
      #pragma unroll
      for (int r = 0; r < TK_PER; r++) {
        // Same class (the anchor itself included): never a negative.
        if (cls[r] < 0 || cj == cls[r]) continue;
        const int i = r0 + tk_acc_row(math, r);
        const float d = tk_distance<true>(acc[r][c], a + (size_t)i * dim, b + (size_t)j * dim, dim,
                                    a_norms[i], b_norms[j], false, metric);
        const u64 key = tk_sort_key(d, 0u);
        const u64 farthest = key | (u64)(0xffffffffu - gj);
        if (farthest > top[r]) top[r] = farthest;
        const int below = tk_lower_bound(sorted + off[r], n[r], d);
        if (below == 0) continue;
        u64* slot = buckets + off[r] + below - 1;
        // Buckets only fall, so a stale read can only cost an atomic, never lose one.
        if ((key | gj) < *(volatile u64*)slot) atomicMin(slot, key | gj);
      }
    }
  }
  // Each row's 16 partial farthest negatives (one a thread of its row), reduced by one
  // thread a row, then merged into the anchor's running one (other spans' blocks too).
  #pragma unroll
  for (int r = 0; r < TK_PER; r++) red[tk_acc_row(math, r)][tk_acc_slot(math)] = top[r];
  __syncthreads();
  const int row = threadIdx.x, i = r0 + row;
  if (row < TK_TILE && i < a_rows && a_class[i] >= 0) {
    u64 best = 0ull;
    for (int k = 0; k < 16; k++) best = red[row][k] > best ? red[row][k] : best;
    if (best != 0ull) atomicMax(far + i, best);
  }
}
