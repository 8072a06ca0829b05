// The distance matrix, one 128 × 128 tile a block. `a` holds this launch's rows (global index
// row0 + i) and `b` its columns (global index col0 + j); with self = 1 both come from one
// matrix, whose diagonal (equal global indices) is exactly 0. `out` is row-major, `ld_out`
// floats a row. tk_distance_tile takes FP32 dot products, tk_distance_tile_tf32 3xTF32 ones:
// two entry points, so that each path has the registers of its own (two blocks an SM).
#include "common.cuh"

template <int kMath>
__device__ __forceinline__ void tk_distance_tile_body(const float* a, const float* a_norms,
                                                      int a_rows, const float* b,
                                                      const float* b_norms, int b_rows, int dim,
                                                      int row0, int col0, float* out, int ld_out,
                                                      int metric, int self) {
  __shared__ TkTiles s;
  const int r0 = blockIdx.y * TK_TILE, c0 = blockIdx.x * TK_TILE;
  float acc[TK_PER][TK_PER];
  tk_dot_tile(a, a_rows, b, b_rows, dim, r0, c0, kMath, s, acc);
  #pragma unroll
  for (int r = 0; r < TK_PER; r++) {
    const int i = r0 + tk_acc_row(kMath, r);
    if (i >= a_rows) continue;
    #pragma unroll
    for (int c = 0; c < TK_PER; c++) {
      const int j = c0 + tk_acc_col(kMath, c);
      if (j >= b_rows) continue;
      const bool diagonal = self && row0 + i == col0 + j;
      out[(size_t)i * ld_out + j] = tk_distance(acc[r][c], a + (size_t)i * dim,
                                                b + (size_t)j * dim, dim, a_norms[i], b_norms[j],
                                                diagonal, metric);
    }
  }
}

extern "C" __global__ void __launch_bounds__(TK_THREADS, 2)
    tk_distance_tile(const float* a, const float* a_norms, int a_rows, const float* b,
                     const float* b_norms, int b_rows, int dim, int row0, int col0, float* out,
                     int ld_out, int metric, int self) {
  tk_distance_tile_body<TK_FP32>(a, a_norms, a_rows, b, b_norms, b_rows, dim, row0, col0, out,
                                 ld_out, metric, self);
}

extern "C" __global__ void __launch_bounds__(TK_THREADS, 2)
    tk_distance_tile_tf32(const float* a, const float* a_norms, int a_rows, const float* b,
                          const float* b_norms, int b_rows, int dim, int row0, int col0,
                          float* out, int ld_out, int metric, int self) {
  tk_distance_tile_body<TK_TF32X3>(a, a_norms, a_rows, b, b_norms, b_rows, dim, row0, col0, out,
                                   ld_out, metric, self);
}
