// OASIS steps (crates/core/src/losses/oasis.rs): W, d × d in float64, stays on the device, and
// one block takes the steps of a launch in order. Every sum runs in index order in float64,
// one thread to a sum, as the host code does; the PTX is built with --fmad=false and the
// emulator with -ffp-contract=off, so neither side fuses a multiply and an add, and both give
// the same bits.
#include "common.cuh"

// Step s of the launch uses triplet (a, p, n) = triplets[3s .. 3s + 3) of rows of x (rows of d
// floats). diff and wi are d-double scratch; loss_sum accumulates each step's hinge.
extern "C" __global__ void tk_oasis_steps(const float* x, int d, const int* triplets, int steps,
                                          double c, double* w, double* diff, double* wi,
                                          double* loss_sum) {
  __shared__ double tau;
  __shared__ int update;
  const int t = threadIdx.x, nt = blockDim.x;
  for (int s = 0; s < steps; s++) {
    const float* ra = x + (size_t)triplets[3 * s] * d;
    const float* rp = x + (size_t)triplets[3 * s + 1] * d;
    const float* rn = x + (size_t)triplets[3 * s + 2] * d;
    for (int j = t; j < d; j += nt) diff[j] = (double)rp[j] - (double)rn[j];
    __syncthreads();
    // W (p − n), a row a thread; Rust's float sum starts from −0.0.
    for (int i = t; i < d; i += nt) {
      const double* row = w + (size_t)i * d;
      double sum = -0.0;
      for (int j = 0; j < d; j++) sum += row[j] * diff[j];
      wi[i] = sum;
    }
    __syncthreads();
    if (t == 0) {
      double gap = 0.0, aa = 0.0, dd = 0.0;
      for (int i = 0; i < d; i++) {
        gap += (double)ra[i] * wi[i];
        aa += (double)ra[i] * (double)ra[i];
      }
      for (int j = 0; j < d; j++) dd += diff[j] * diff[j];
      const double loss = fmax(1.0 - gap, 0.0);
      update = loss > 0.0 && aa * dd > 0.0;
      tau = update ? fmin(c, loss / (aa * dd)) : 0.0;
      *loss_sum += loss;
    }
    __syncthreads();
    if (update) {
      for (int i = t; i < d; i += nt) {
        const double ti = tau * (double)ra[i];
        double* row = w + (size_t)i * d;
        for (int j = 0; j < d; j++) row[j] += ti * diff[j];
      }
    }
    __syncthreads();
  }
}
