// The gradient through a matrix of distances D(A, B), given its coefficients C (∂L/∂D already
// turned into the GEMM form, as core's backward::pairwise_backward makes them): one thread an
// element of out = C·R − (row sums of C) ∘ own, the second term for the euclidean family.
// C is read at strides (ldr, ldc), so the same kernel gives ∂A = C·B (ldr = n, ldc = 1) and
// ∂B = Cᵀ·A (ldr = 1, ldc = n).
#include "common.cuh"

extern "C" __global__ void tk_coef_gemm(const double* c, long long ldr, long long ldc,
                                        const float* rhs, int inner, int rows, int dim,
                                        const float* own, int squared, double* out) {
  const long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (e >= (long long)rows * dim) return;
  const int i = (int)(e / dim), t = (int)(e % dim);
  double acc = 0.0, sum = 0.0;
  for (int j = 0; j < inner; j++) {
    const double cij = c[i * ldr + j * ldc];
    acc += cij * (double)rhs[(size_t)j * dim + t];
    sum += cij;
  }
  if (squared) acc -= sum * (double)own[(size_t)i * dim + t];
  out[e] = acc;
}
