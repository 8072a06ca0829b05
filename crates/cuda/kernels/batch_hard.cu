// Batch-hard mining, fused: per anchor the farthest positive and the nearest negative, folded
// in the epilogue of each 64 × 64 tile, so no distance is ever written to memory. `a` holds
// this launch's anchors (global index row0 + i), `b` a chunk of candidates (global index
// col0 + j); a block owns 64 anchors and walks every candidate of the chunk. The per-anchor
// state (distance and global index of each extreme, index −1 for none) is read and written
// back, so column chunks merge into one answer. Ties go to the lower index.
#include "common.cuh"

// Whether (d, j) beats the best (bd, bj) so far: farther (positives) or nearer (negatives),
// then the lower index.
__device__ __forceinline__ bool tk_farther(float d, int j, float bd, int bj) {
  return bj < 0 || d > bd || (d == bd && j < bj);
}
__device__ __forceinline__ bool tk_nearer(float d, int j, float bd, int bj) {
  return bj < 0 || d < bd || (d == bd && j < bj);
}

extern "C" __global__ void tk_batch_hard(const float* a, const float* a_norms, const int* a_labels,
                                         int a_rows, const float* b, const float* b_norms,
                                         const int* b_labels, int b_rows, int dim, int row0,
                                         int col0, int metric, int self, float* pos_d,
                                         int* pos_i, float* neg_d, int* neg_i) {
  __shared__ TkTiles s;
  __shared__ float red_d[TK_TILE][17];
  __shared__ int red_i[TK_TILE][17];
  const int r0 = blockIdx.x * TK_TILE;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  float pd[4], nd[4];
  int pi[4], ni[4], la[4];
  for (int r = 0; r < 4; r++) {
    const int i = r0 + ty * 4 + r;
    pd[r] = 0.0f;
    nd[r] = 0.0f;
    pi[r] = -1;
    ni[r] = -1;
    la[r] = i < a_rows ? a_labels[i] : 0;
  }
  for (int c0 = 0; c0 < b_rows; c0 += TK_TILE) {
    float acc[4][4];
    tk_dot_tile(a, a_rows, b, b_rows, dim, r0, c0, s, acc);
    for (int c = 0; c < 4; c++) {
      const int j = c0 + tx * 4 + c;
      if (j >= b_rows) continue;
      const int lj = b_labels[j], gj = col0 + j;
      for (int r = 0; r < 4; r++) {
        const int i = r0 + ty * 4 + r;
        if (i >= a_rows) continue;
        const bool same = lj == la[r];
        // A row is never its own positive.
        if (same && self && row0 + i == gj) continue;
        const float d = tk_distance(acc[r][c], a + (size_t)i * dim, b + (size_t)j * dim, dim,
                                    a_norms[i], b_norms[j], false, metric);
        if (same) {
          if (tk_farther(d, gj, pd[r], pi[r])) pd[r] = d, pi[r] = gj;
        } else if (tk_nearer(d, gj, nd[r], ni[r])) {
          nd[r] = d, ni[r] = gj;
        }
      }
    }
  }
  // Each row's 16 partial answers (one a thread of its row), reduced by one thread a row.
  for (int pass = 0; pass < 2; pass++) {
    for (int r = 0; r < 4; r++) {
      red_d[ty * 4 + r][tx] = pass == 0 ? pd[r] : nd[r];
      red_i[ty * 4 + r][tx] = pass == 0 ? pi[r] : ni[r];
    }
    __syncthreads();
    const int row = threadIdx.x, i = r0 + row;
    if (row < TK_TILE && i < a_rows) {
      float* out_d = pass == 0 ? pos_d : neg_d;
      int* out_i = pass == 0 ? pos_i : neg_i;
      float bd = out_d[i];
      int bj = out_i[i];
      for (int k = 0; k < 16; k++) {
        const float d = red_d[row][k];
        const int j = red_i[row][k];
        if (j < 0) continue;
        if (pass == 0 ? tk_farther(d, j, bd, bj) : tk_nearer(d, j, bd, bj)) bd = d, bj = j;
      }
      out_d[i] = bd;
      out_i[i] = bj;
    }
    __syncthreads();
  }
}
