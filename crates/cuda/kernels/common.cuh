// What every kernel shares: the 128 × 128 tile of dot products (shared-memory tiles filled by
// cp.async two steps deep, an 8 × 8 register block per thread, by FP32 fused multiply-adds or
// 3xTF32 tensor-core products), the distance epilogue with the cpu device's rounding rules,
// and the (distance, index) order in which ties go to the lower index.
#pragma once

#if !defined(__CUDACC__) && !defined(__CUDACC_RTC__)
#include "shim.h"
#endif

typedef unsigned long long u64;

// Out of line on both compilers (defining __noinline__ for the host would break the C++
// library's own uses of the attribute).
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define TK_NOINLINE __noinline__
#else
#define TK_NOINLINE __attribute__((noinline))
#endif

// Tile geometry: a block of 256 threads (16 × 16) computes 128 rows × 128 columns, 8 × 8 a
// thread, stepping through the embedding 8 columns at a time.
#define TK_TILE 128
#define TK_STEP 8
#define TK_THREADS 256
#define TK_PER 8

// The arithmetic of the tile's dot products, as `src/math.rs` passes it: FP32 fused
// multiply-adds in the cpu's order (its bits), or 3xTF32 tensor-core products.
#define TK_FP32 0
#define TK_TF32X3 1

// Metric codes, as `src/kernels.rs` passes them.
#define TK_EUCLIDEAN 0
#define TK_SQEUCLIDEAN 1
#define TK_COSINE 2
#define TK_DOT 3

#define TK_FLT_MAX 3.40282347e+38f
// Below this fraction of ‖a‖² + ‖b‖² (or this cosine distance) the GEMM form has lost its
// digits to cancellation; below this scale the norms are subnormal: recompute exactly.
#define TK_RECOMPUTE_BELOW (1.0f / 256.0f)
#define TK_SMALLEST_EXACT_SCALE 1e-30f

__device__ __forceinline__ float tk_inf() { return __int_as_float(0x7f800000); }

#if defined(__CUDA_ARCH__)
// cp.async: a 4-byte copy from global to shared memory that the thread does not wait for,
// zeros when `valid` is false (no byte is read then). tk_copies_commit closes a group of them;
// tk_copies_wait<N> waits until at most N groups are in flight. (The emulator's shim.h copies
// at once.)
__device__ __forceinline__ void tk_copy_async4(float* dst, const float* src, bool valid) {
  const unsigned at = (unsigned)__cvta_generic_to_shared(dst);
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(at), "l"(src),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void tk_copies_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void tk_copies_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
#endif

// The shared tiles of one block: two stages (one filling while the other is read) of an
// 8-deep slice of 128 rows of each side, k-major. A slice row is 136 floats (≡ 8 mod 32
// banks), so that four k of eight rows fall in 32 different banks (the fill's stores, the
// m16n8k8 fragments' loads) and float4 reads stay 16-byte aligned. `kernels.cpp` checks each
// access pattern against this (tk_emu_bank_ways).
#define TK_ROW (TK_TILE + 8)
struct alignas(16) TkTiles {
  float a[2][TK_STEP][TK_ROW];
  float b[2][TK_STEP][TK_ROW];
};

// The slot of a stage that thread t's q-th copy fills: slice k tk_fill_k(t) of tile row
// tk_fill_row(t, q). A warp takes four k of eight rows (its global reads: eight 16-byte runs).
__host__ __device__ __forceinline__ int tk_fill_k(int t) { return (t & 3) + 4 * ((t >> 5) & 1); }
__host__ __device__ __forceinline__ int tk_fill_row(int t, int q) {
  return ((t & 31) >> 2) + 8 * (t >> 6) + 32 * q;
}

// The m16n8k8 TF32 fragments of mma.sync, as the PTX ISA lays them out: lane's value v of A
// (v = 0..3) is row tk_frag_a_row, k tk_frag_a_k of the 16 × 8 fragment; its value v of B
// (v = 0..1) is column lane / 4, k tk_frag_b_k of the 8 × 8 one.
__host__ __device__ __forceinline__ int tk_frag_a_row(int lane, int v) {
  return (lane >> 2) + (v & 1) * 8;
}
__host__ __device__ __forceinline__ int tk_frag_a_k(int lane, int v) {
  return (lane & 3) + (v >> 1) * 4;
}
__host__ __device__ __forceinline__ int tk_frag_b_col(int lane) { return lane >> 2; }
__host__ __device__ __forceinline__ int tk_frag_b_k(int lane, int v) { return (lane & 3) + v * 4; }

// The tile row (or column) of a thread's r-th row (column), for its row (column) t16 of the
// 16 × 16 threads: two groups of four, 64 apart, so that a warp's float4 reads of shared
// memory are conflict-free.
__host__ __device__ __forceinline__ int tk_tile_row(int t16, int r) {
  return (r < 4 ? 0 : 60) + t16 * 4 + r;
}

// Which outputs of the tile a thread holds: its r-th row and c-th column, and which of the 16
// threads that hold its rows it is (for per-row reductions). FP32: rows of a 16 × 16 grid of
// threads (tk_tile_row). 3xTF32: the m16n8 accumulators of mma.sync, a warp 64 rows × 32
// columns (warps 2 × 4), a thread rows g and g + 8 and columns 2t and 2t + 1 of each
// (g = lane / 4, t = lane % 4).
__device__ __forceinline__ int tk_acc_row(int math, int r) {
  const int t = threadIdx.x;
  if (math == TK_FP32) return tk_tile_row(t / 16, r);
  return ((t >> 5) & 1) * 64 + (r >> 1) * 16 + ((t & 31) >> 2) + (r & 1) * 8;
}
__device__ __forceinline__ int tk_acc_col(int math, int c) {
  const int t = threadIdx.x;
  if (math == TK_FP32) return tk_tile_row(t % 16, c);
  return (t >> 6) * 32 + (c >> 1) * 8 + (t & 3) * 2 + (c & 1);
}
__device__ __forceinline__ int tk_acc_slot(int math) {
  const int t = threadIdx.x;
  return math == TK_FP32 ? t % 16 : (t >> 6) * 4 + (t & 3);
}

// TF32 (10 bits of mantissa) nearest to x, ties away from zero, as cvt.rna.tf32.f32 rounds;
// x − tk_tf32(x) rounded again is the low part of the 3xTF32 split.
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ unsigned tk_tf32_bits(float x) {
  unsigned out;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(out) : "f"(x));
  return out;
}
__device__ __forceinline__ float tk_tf32(float x) { return __uint_as_float(tk_tf32_bits(x)); }
#else
__device__ __forceinline__ float tk_tf32(float x) {
  const unsigned bits = __float_as_uint(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) return x;  // inf and NaN as they are
  return __uint_as_float((bits + 0x1000u) & 0xffffe000u);
}
#endif

// One 3xTF32 step of k: acc += a·b over 8 values of k, as three products of TF32 parts,
// small ones first (a_lo·b_hi, a_hi·b_lo, a_hi·b_hi; a_lo·b_lo, below FP32's last bit, is
// dropped), each product's 8 terms summed into acc. The scalar form of what a tensor core
// does, for the emulator and for single pairs (bit for bit the emulated tile's sum; within
// FP32 rounding of the GPU's).
__device__ __forceinline__ float tk_tf32x3_step(const float* a, int a_stride, const float* b,
                                                int b_stride, float acc) {
  float ah[TK_STEP], al[TK_STEP], bh[TK_STEP], bl[TK_STEP];
  #pragma unroll
  for (int kk = 0; kk < TK_STEP; kk++) {
    const float x = a[kk * a_stride], y = b[kk * b_stride];
    ah[kk] = tk_tf32(x);
    al[kk] = tk_tf32(x - ah[kk]);
    bh[kk] = tk_tf32(y);
    bl[kk] = tk_tf32(y - bh[kk]);
  }
  #pragma unroll
  for (int kk = 0; kk < TK_STEP; kk++) acc = fmaf(al[kk], bh[kk], acc);
  #pragma unroll
  for (int kk = 0; kk < TK_STEP; kk++) acc = fmaf(ah[kk], bl[kk], acc);
  #pragma unroll
  for (int kk = 0; kk < TK_STEP; kk++) acc = fmaf(ah[kk], bh[kk], acc);
  return acc;
}

#if defined(__CUDA_ARCH__)
// d += a·b for one m16n8k8 tile, TF32 inputs, FP32 accumulators.
__device__ __forceinline__ void tk_mma(float* d, const unsigned* a, const unsigned* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
// The TF32 parts of x: hi and lo.
__device__ __forceinline__ void tk_tf32_split(float x, unsigned& hi, unsigned& lo) {
  hi = tk_tf32_bits(x);
  lo = tk_tf32_bits(x - __uint_as_float(hi));
}
#endif

// One stage's 8 values of k of this thread's 64 dot products by 3xTF32. On the GPU a warp's
// tensor cores take 4 × 4 m16n8k8 tiles three times (the fragments read from the k-major
// shared tiles); in the emulator each thread sums its own outputs in the same order.
__device__ __forceinline__ void tk_tf32x3_stage(const float (*sa)[TK_ROW], const float (*sb)[TK_ROW],
                                                float acc[TK_PER][TK_PER]) {
#if defined(__CUDA_ARCH__)
  const int lane = threadIdx.x & 31;
  const int wm = ((threadIdx.x >> 5) & 1) * 64, wn = (threadIdx.x >> 6) * 32;
  unsigned bh[4][2], bl[4][2];
  #pragma unroll
  for (int ni = 0; ni < 4; ni++)
    #pragma unroll
    for (int v = 0; v < 2; v++)
      tk_tf32_split(sb[tk_frag_b_k(lane, v)][wn + ni * 8 + tk_frag_b_col(lane)], bh[ni][v],
                    bl[ni][v]);
  #pragma unroll
  for (int mi = 0; mi < 4; mi++) {
    unsigned ah[4], al[4];
    #pragma unroll
    for (int v = 0; v < 4; v++)
      tk_tf32_split(sa[tk_frag_a_k(lane, v)][wm + mi * 16 + tk_frag_a_row(lane, v)], ah[v],
                    al[v]);
    #pragma unroll
    for (int ni = 0; ni < 4; ni++) {
      float d[4] = {acc[2 * mi][2 * ni], acc[2 * mi][2 * ni + 1], acc[2 * mi + 1][2 * ni],
                    acc[2 * mi + 1][2 * ni + 1]};
      tk_mma(d, al, bh[ni]);
      tk_mma(d, ah, bl[ni]);
      tk_mma(d, ah, bh[ni]);
      acc[2 * mi][2 * ni] = d[0];
      acc[2 * mi][2 * ni + 1] = d[1];
      acc[2 * mi + 1][2 * ni] = d[2];
      acc[2 * mi + 1][2 * ni + 1] = d[3];
    }
  }
#else
  for (int r = 0; r < TK_PER; r++) {
    const int row = tk_acc_row(TK_TF32X3, r);
    for (int c = 0; c < TK_PER; c++) {
      const int col = tk_acc_col(TK_TF32X3, c);
      acc[r][c] = tk_tf32x3_step(&sa[0][row], TK_ROW, &sb[0][col], TK_ROW, acc[r][c]);
    }
  }
#endif
}

// Queues the copies of the slice k0..k0 + 8 of the tile's rows into `tile` (a stage): a thread
// copies four rows' k0 + tk_fill_k(t); past the rows or the embedding, zeros.
__device__ __forceinline__ void tk_fill_stage(const float* x, int x_rows, int dim, int row0, int k0,
                                              float (*tile)[TK_ROW]) {
  const int t = threadIdx.x, kk = tk_fill_k(t), k = k0 + kk;
  #pragma unroll
  for (int q = 0; q < 4; q++) {
    const int row = tk_fill_row(t, q), g = row0 + row;
    const bool valid = g < x_rows && k < dim;
    tk_copy_async4(&tile[kk][row], valid ? x + (size_t)g * dim + k : x, valid);
  }
}

// This thread's 8 × 8 dot products of rows r0 + tk_acc_row(math, r) of `a` with rows
// c0 + tk_acc_col(math, c) of `b` (rows past the end read as zeros). FP32: each is one chain
// of fused multiply-adds over k = 0, 1, …, dim − 1, the cpu's order. 3xTF32: tensor-core
// products, 8 values of k a step (tk_tf32x3_stage). Every thread of the block must call it.
__device__ __forceinline__ void tk_dot_tile(const float* a, int a_rows, const float* b, int b_rows,
                                            int dim, int r0, int c0, int math, TkTiles& s,
                                            float acc[TK_PER][TK_PER]) {
  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  #pragma unroll
  for (int r = 0; r < TK_PER; r++)
    #pragma unroll
    for (int c = 0; c < TK_PER; c++) acc[r][c] = 0.0f;
  const int steps = (dim + TK_STEP - 1) / TK_STEP;
  if (steps == 0) {
    // No copy to queue (one never waited for could land after this returns); the barrier
    // every caller counts on.
    __syncthreads();
    return;
  }
  tk_fill_stage(a, a_rows, dim, r0, 0, s.a[0]);
  tk_fill_stage(b, b_rows, dim, c0, 0, s.b[0]);
  tk_copies_commit();
  for (int step = 0; step < steps; step++) {
    const int cur = step & 1;
    // The next slice fills the other stage while this one is read; the barrier that ended
    // the previous step says no thread still reads it.
    if (step + 1 < steps) {
      tk_fill_stage(a, a_rows, dim, r0, (step + 1) * TK_STEP, s.a[cur ^ 1]);
      tk_fill_stage(b, b_rows, dim, c0, (step + 1) * TK_STEP, s.b[cur ^ 1]);
    }
    tk_copies_commit();
    tk_copies_wait<1>();
    __syncthreads();
    if (math == TK_TF32X3) {
      tk_tf32x3_stage(s.a[cur], s.b[cur], acc);
      __syncthreads();
      continue;
    }
    #pragma unroll
    for (int kk = 0; kk < TK_STEP; kk++) {
      const float4 a0 = *(const float4*)&s.a[cur][kk][tk_tile_row(ty, 0)];
      const float4 a1 = *(const float4*)&s.a[cur][kk][tk_tile_row(ty, 4)];
      const float4 b0 = *(const float4*)&s.b[cur][kk][tk_tile_row(tx, 0)];
      const float4 b1 = *(const float4*)&s.b[cur][kk][tk_tile_row(tx, 4)];
      const float ar[TK_PER] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float br[TK_PER] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
      #pragma unroll
      for (int r = 0; r < TK_PER; r++)
        #pragma unroll
        for (int c = 0; c < TK_PER; c++) acc[r][c] = fmaf(ar[r], br[c], acc[r][c]);
    }
    __syncthreads();
  }
}

// Exact sums in double, for the entries the GEMM form cannot be trusted with.
__device__ __forceinline__ double tk_exact_sq_dist(const float* a, const float* b, int dim) {
  double s = 0.0;
  for (int k = 0; k < dim; k++) {
    const double t = (double)a[k] - (double)b[k];
    s += t * t;
  }
  return s;
}
__device__ __forceinline__ double tk_exact_dot(const float* a, const float* b, int dim) {
  double s = 0.0;
  for (int k = 0; k < dim; k++) s += (double)a[k] * (double)b[k];
  return s;
}
// The same, out of line, for the fused epilogues: rare there, and inlined into 64 outputs they
// would push the accumulators out to local memory.
__device__ TK_NOINLINE double tk_exact_sq_dist_outline(const float* a, const float* b, int dim) {
  return tk_exact_sq_dist(a, b, dim);
}
__device__ TK_NOINLINE double tk_exact_dot_outline(const float* a, const float* b, int dim) {
  return tk_exact_dot(a, b, dim);
}
template <bool kOutline>
__device__ __forceinline__ double tk_exact_sq_dist_as(const float* a, const float* b, int dim) {
  return kOutline ? tk_exact_sq_dist_outline(a, b, dim) : tk_exact_sq_dist(a, b, dim);
}
template <bool kOutline>
__device__ __forceinline__ double tk_exact_dot_as(const float* a, const float* b, int dim) {
  return kOutline ? tk_exact_dot_outline(a, b, dim) : tk_exact_dot(a, b, dim);
}

// d(a_i, b_j) from their dot product and squared norms, with the cpu's rules: never negative,
// exactly 0 on the diagonal of a self-distance matrix, recomputed where cancellation, overflow
// or underflow took the digits. Rows are prepared (unit rows for cosine) by the host.
// `kOutline`: the recomputations are calls (the fused epilogues), not inlined.
template <bool kOutline = false>
__device__ __forceinline__ float tk_distance(float dot, const float* a, const float* b, int dim,
                                             float na, float nb, bool diagonal, int metric) {
  if (metric == TK_DOT) {
    // Products past f32's range can meet as inf − inf: recompute those.
    return (dot - dot == 0.0f) ? -dot : (float)(-tk_exact_dot_as<kOutline>(a, b, dim));
  }
  if (metric == TK_COSINE) {
    float d = 1.0f - dot;
    if (na == 0.0f || nb == 0.0f) {
      d = 1.0f;
    } else if (diagonal) {
      d = 0.0f;
    } else if (d < TK_RECOMPUTE_BELOW) {
      // For unit rows 1 − a·b = ½‖a − b‖², which keeps its digits.
      d = (float)(0.5 * tk_exact_sq_dist_as<kOutline>(a, b, dim));
    }
    return fminf(fmaxf(d, 0.0f), 2.0f);
  }
  if (diagonal) return 0.0f;
  const float scale = na + nb;
  const float d2 = scale - 2.0f * dot;
  const bool trusted = d2 >= TK_RECOMPUTE_BELOW * scale && d2 <= TK_FLT_MAX &&
                       scale >= TK_SMALLEST_EXACT_SCALE;
  if (trusted) return metric == TK_EUCLIDEAN ? sqrtf(d2) : d2;
  const double exact = tk_exact_sq_dist_as<kOutline>(a, b, dim);
  return (float)(metric == TK_EUCLIDEAN ? sqrt(exact) : exact);
}

// A warp's sum and maximum of one value a lane, the same bits in every lane: a fixed tree of
// shuffles down to lane 0, then lane 0's result to all (a butterfly would leave each lane a
// sum in another order). The whole warp calls them.
__device__ __forceinline__ double tk_warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  return __shfl_sync(0xffffffffu, v, 0);
}
__device__ __forceinline__ double tk_warp_max(double v) {
  for (int o = 16; o > 0; o >>= 1) {
    const double w = __shfl_down_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return __shfl_sync(0xffffffffu, v, 0);
}

// How many of the ascending sorted[0..n) are below `key`: a binary search.
template <typename T>
__device__ __forceinline__ int tk_lower_bound(const T* sorted, int n, T key) {
  int lo = 0, hi = n;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (sorted[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// (distance, index) as one integer in (distance, index) order; −0 joins +0.
__device__ __forceinline__ u64 tk_sort_key(float d, unsigned i) {
  const unsigned bits = __float_as_uint(d + 0.0f);
  const unsigned ordered = (bits >> 31) ? ~bits : (bits | 0x80000000u);
  return ((u64)ordered << 32) | (u64)i;
}
