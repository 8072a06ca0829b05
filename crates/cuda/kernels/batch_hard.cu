// Batch-hard mining, fused: per anchor the farthest positive and the nearest negative, folded
// in the epilogue of each 128 × 128 tile, so no distance is ever written to memory. `a` holds
// this launch's anchors (global index row0 + i), `b` a chunk of candidates (global index
// col0 + j). The grid is 2-D so that it fills the GPU: blockIdx.x is a tile of 128 anchors,
// blockIdx.y a span of `span` candidates (a multiple of 128, so tiles fall where they would
// in one block). Blocks of one anchor tile merge by 64-bit atomics on packed keys, and so do
// column chunks: the nearest negative is the least (distance, index) and the farthest
// positive the greatest (distance, −index), so ties go to the lower index as before.
#include "common.cuh"

// A distance as an unsigned key in the same order (−0 as +0: they compare equal).
__device__ __forceinline__ unsigned int tk_ordered(float d) {
  const unsigned int u = __float_as_uint(d + 0.0f);
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

// Whether (d, j) beats the best (bd, bj) so far: farther (positives) or nearer (negatives),
// then the lower index.
__device__ __forceinline__ bool tk_farther(float d, int j, float bd, int bj) {
  return bj < 0 || d > bd || (d == bd && j < bj);
}
__device__ __forceinline__ bool tk_nearer(float d, int j, float bd, int bj) {
  return bj < 0 || d < bd || (d == bd && j < bj);
}

// pos_key: per anchor, 0 for none, else (ordered distance << 32) | (0xffffffff − index);
// neg_key: all ones for none, else (ordered distance << 32) | index.
extern "C" __global__ void __launch_bounds__(TK_THREADS, 1)
    tk_batch_hard(const float* a, const float* a_norms, const int* a_labels,
                                         int a_rows, const float* b, const float* b_norms,
                                         const int* b_labels, int b_rows, int dim, int row0,
                                         int col0, int metric, int self, int span,
                                         unsigned long long* pos_key,
                                         unsigned long long* neg_key, int math) {
  __shared__ TkTiles s;
  __shared__ float red_d[TK_TILE][17];
  __shared__ int red_i[TK_TILE][17];
  const int r0 = blockIdx.x * TK_TILE;
  const int slot = tk_acc_slot(math);
  float pd[TK_PER], nd[TK_PER];
  int pi[TK_PER], ni[TK_PER], la[TK_PER];
  #pragma unroll
  for (int r = 0; r < TK_PER; r++) {
    const int i = r0 + tk_acc_row(math, r);
    pd[r] = 0.0f;
    nd[r] = 0.0f;
    pi[r] = -1;
    ni[r] = -1;
    la[r] = i < a_rows ? a_labels[i] : 0;
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
      const int lj = b_labels[j], gj = col0 + j;
      #pragma unroll
      for (int r = 0; r < TK_PER; r++) {
        const int i = r0 + tk_acc_row(math, r);
        if (i >= a_rows) continue;
        const bool same = lj == la[r];
        // A row is never its own positive.
        if (same && self && row0 + i == gj) continue;
        const float d = tk_distance<true>(acc[r][c], a + (size_t)i * dim, b + (size_t)j * dim, dim,
                                    a_norms[i], b_norms[j], false, metric);
        if (same) {
          if (tk_farther(d, gj, pd[r], pi[r])) pd[r] = d, pi[r] = gj;
        } else if (tk_nearer(d, gj, nd[r], ni[r])) {
          nd[r] = d, ni[r] = gj;
        }
      }
    }
  }
  // Each row's 16 partial answers (one a thread of its row), reduced by one thread a row,
  // then merged into the anchor's key.
  for (int pass = 0; pass < 2; pass++) {
    #pragma unroll
    for (int r = 0; r < TK_PER; r++) {
      red_d[tk_acc_row(math, r)][slot] = pass == 0 ? pd[r] : nd[r];
      red_i[tk_acc_row(math, r)][slot] = pass == 0 ? pi[r] : ni[r];
    }
    __syncthreads();
    const int row = threadIdx.x, i = r0 + row;
    if (row < TK_TILE && i < a_rows) {
      float bd = 0.0f;
      int bj = -1;
      for (int k = 0; k < 16; k++) {
        const float d = red_d[row][k];
        const int j = red_i[row][k];
        if (j < 0) continue;
        if (pass == 0 ? tk_farther(d, j, bd, bj) : tk_nearer(d, j, bd, bj)) bd = d, bj = j;
      }
      if (bj >= 0) {
        const unsigned long long hi = (unsigned long long)tk_ordered(bd) << 32;
        if (pass == 0) {
          atomicMax(pos_key + i, hi | (0xffffffffu - (unsigned int)bj));
        } else {
          atomicMin(neg_key + i, hi | (unsigned int)bj);
        }
      }
    }
    __syncthreads();
  }
}
