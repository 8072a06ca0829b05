// The distance matrix, one 64 × 64 tile a block. `a` holds this launch's rows (global index
// row0 + i) and `b` its columns (global index col0 + j); with self = 1 both come from one
// matrix, whose diagonal (equal global indices) is exactly 0. `out` is row-major, `ld_out`
// floats a row.
#include "common.cuh"

extern "C" __global__ void tk_distance_tile(const float* a, const float* a_norms, int a_rows,
                                            const float* b, const float* b_norms, int b_rows,
                                            int dim, int row0, int col0, float* out, int ld_out,
                                            int metric, int self) {
  __shared__ TkTiles s;
  const int r0 = blockIdx.y * TK_TILE, c0 = blockIdx.x * TK_TILE;
  float acc[4][4];
  tk_dot_tile(a, a_rows, b, b_rows, dim, r0, c0, s, acc);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  for (int r = 0; r < 4; r++) {
    const int i = r0 + ty * 4 + r;
    if (i >= a_rows) continue;
    for (int c = 0; c < 4; c++) {
      const int j = c0 + tx * 4 + c;
      if (j >= b_rows) continue;
      const bool diagonal = self && row0 + i == col0 + j;
      out[(size_t)i * ld_out + j] = tk_distance(acc[r][c], a + (size_t)i * dim, b + (size_t)j * dim,
                                                dim, a_norms[i], b_norms[j], diagonal, metric);
    }
  }
}
