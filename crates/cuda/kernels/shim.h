// CUDA's built-ins for the host C++ compiler, so that the kernels of this folder also run on
// the CPU (the emulator of `src/emulator.rs`). Each block runs on one OS thread; its threads
// are fibers that switch only at barriers (__syncthreads, warp shuffles). Shared memory is
// thread-local static storage, so blocks running at once on different OS threads do not
// share it, while the fibers of one block do.
//
// Under NVRTC or nvcc this header is never included: kernels include "common.cuh", which
// includes this file only when __CUDACC__ is not defined.
#pragma once

#include <math.h>
#include <cstdint>
#include <cstring>

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) float4 {
  float x, y, z, w;
};

namespace tk_emu {

// The fiber now running: its thread index, and its block's geometry.
struct Here {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
extern thread_local Here here;

// Park this fiber until every live thread of the block (warp = false) or of its warp
// (warp = true) arrives.
void barrier(bool warp);

// Lane exchange for the warp shuffles: every live lane publishes `v`, then reads lane `src`'s.
uint64_t exchange(uint64_t v, int src_lane);

}  // namespace tk_emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(...)
// One block at a time per OS thread: static thread-local storage is its shared memory.
#define __shared__ static thread_local

#define threadIdx (tk_emu::here.thread_idx)
#define blockIdx (tk_emu::here.block_idx)
#define blockDim (tk_emu::here.block_dim)
#define gridDim (tk_emu::here.grid_dim)
#define warpSize 32

inline void __syncthreads() { tk_emu::barrier(false); }
inline void __syncwarp(unsigned = 0xffffffffu) { tk_emu::barrier(true); }

template <typename T>
inline T tk_shfl(T v, int src_lane) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = tk_emu::exchange(bits, src_lane);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
inline int tk_lane() {
  return int((threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y) & 31u);
}
template <typename T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
  int lane = tk_lane();
  return tk_shfl(v, (lane & ~(width - 1)) + (src & (width - 1)));
}
template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  int lane = tk_lane();
  int base = lane & ~(width - 1);
  int src = lane + int(delta);
  return tk_shfl(v, src < base + width ? src : lane);
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  int lane = tk_lane();
  int base = lane & ~(width - 1);
  int src = lane ^ mask;
  return tk_shfl(v, src < base + width ? src : lane);
}

// Atomics: blocks run on several OS threads at once.
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* p, float v) {
  float old, want;
  __atomic_load(p, &old, __ATOMIC_RELAXED);
  do {
    want = old + v;
  } while (!__atomic_compare_exchange(p, &old, &want, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  return old;
}
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline unsigned long long atomicMax(unsigned long long* p, unsigned long long v) {
  unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}

// cp.async, run at once: the copy lands before the call returns, so waiting is a no-op.
inline void tk_copy_async4(float* dst, const float* src, bool valid) { *dst = valid ? *src : 0.0f; }
inline void tk_copies_commit() {}
template <int N>
inline void tk_copies_wait() {}

// Device maths with the CUDA names the kernels use.
inline float __fmaf_rn(float a, float b, float c) { return std::fmaf(a, b, c); }
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline unsigned __float_as_uint(float f) {
  unsigned i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __uint_as_float(unsigned i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
