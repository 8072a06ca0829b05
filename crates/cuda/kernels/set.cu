// Set mining (strategies 'all', 'violating', 'hard', 'semihard', 'easy'): every (anchor,
// positive, negative) whose margin m = d(a, n) − d(a, p) passes the strategy's filter, in
// anchor, then positive, then negative order. One block an (anchor, positive) pair walks the
// anchor's row of distances (written by tk_distance_tile): a first launch counts, the host
// lays the pairs' outputs end to end, a second launch writes each pair's negatives at its
// offset, each thread those of a run of columns after the runs before it. So the order needs
// no sorting and the output is exactly sized.
#include "common.cuh"

// Strategy codes, as `src/ops/set.rs` passes them.
#define TK_ALL 0
#define TK_VIOLATING 1
#define TK_HARD 2
#define TK_SEMIHARD 3
#define TK_EASY 4

__device__ __forceinline__ bool tk_keeps(int strategy, float m, float margin) {
  switch (strategy) {
    case TK_ALL: return true;
    case TK_VIOLATING: return m <= margin;
    case TK_HARD: return m <= 0.0f;
    case TK_SEMIHARD: return m > 0.0f && m <= margin;
    default: return m > margin;
  }
}

// Pair t = blockIdx.x: anchor pair_anchor[t] (a row of `dist`, `cols` wide, of class
// anchor_class[...]) and positive pair_positive[t] (a column). count = 1: writes the pair's
// count to counts[t] (the threads take the columns in turn, so a warp reads them together);
// count = 0: writes its negatives from out[offsets[t]] in column order, thread k those of the
// k-th run of columns, after the runs before it. The whole block calls it.
__device__ __forceinline__ void tk_set_pairs(const float* dist, int cols, const int* cand_class,
                                             const int* anchor_class, const int* pair_anchor,
                                             const int* pair_positive, int pairs, int strategy,
                                             float margin, bool count, long long* counts,
                                             const long long* offsets, int* out) {
  __shared__ long long part[TK_THREADS];
  const int t = blockIdx.x;
  if (t >= pairs) return;  // the whole block: a block is one pair
  const int i = pair_anchor[t], cls = anchor_class[i];
  const float* row = dist + (size_t)i * cols;
  const float dp = row[pair_positive[t]];
  const int k = threadIdx.x, threads = blockDim.x;
  const int span = (cols + threads - 1) / threads;
  const int j0 = k * span < cols ? k * span : cols, j1 = j0 + span < cols ? j0 + span : cols;
  long long n = 0;
  if (count) {
    for (int j = k; j < cols; j += threads)
      n += cand_class[j] != cls && tk_keeps(strategy, row[j] - dp, margin);
  } else {
    for (int j = j0; j < j1; j++)
      n += cand_class[j] != cls && tk_keeps(strategy, row[j] - dp, margin);
  }
  part[k] = n;
  __syncthreads();
  if (k == 0) {
    // The runs' starts (fill), or the pair's count.
    long long sum = 0;
    for (int q = 0; q < threads; q++) {
      const long long c = part[q];
      part[q] = sum;
      sum += c;
    }
    if (count) counts[t] = sum;
  }
  __syncthreads();
  if (count) return;
  long long at = offsets[t] + part[k];
  for (int j = j0; j < j1; j++)
    if (cand_class[j] != cls && tk_keeps(strategy, row[j] - dp, margin)) out[at++] = j;
}

extern "C" __global__ void tk_set_count(const float* dist, int cols, const int* cand_class,
                                        const int* anchor_class, const int* pair_anchor,
                                        const int* pair_positive, int pairs, int strategy,
                                        float margin, long long* counts) {
  tk_set_pairs(dist, cols, cand_class, anchor_class, pair_anchor, pair_positive, pairs, strategy,
               margin, true, counts, 0, 0);
}

extern "C" __global__ void tk_set_fill(const float* dist, int cols, const int* cand_class,
                                       const int* anchor_class, const int* pair_anchor,
                                       const int* pair_positive, int pairs, int strategy,
                                       float margin, const long long* offsets, int* out) {
  tk_set_pairs(dist, cols, cand_class, anchor_class, pair_anchor, pair_positive, pairs, strategy,
               margin, false, 0, offsets, out);
}

// Sampled set mining (docs/SEMANTICS.md, "Sampled mining"): the key of triplet (a, p, n) is
// SplitMix64 chained over (seed, a, p, n) in global indices, as crates/core's miners/sample.rs
// defines it. One block a pair walks its negatives as above, its threads taking the candidates
// in turn, and appends those whose key is at most `bound` at slot atomicAdd(found, 1) while
// slots remain; the host keeps the count smallest (slots' order does not matter) and, when
// `found` passes `capacity`, runs the pairs again under a tighter bound.
__device__ __forceinline__ unsigned long long tk_mix(unsigned long long z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

__device__ __forceinline__ unsigned long long tk_step(unsigned long long x) {
  return tk_mix(x + 0x9E3779B97F4A7C15ull);
}

// Pairs first_pair .. first_pair + pairs; anchor_base and cand_base turn a chunk's anchor row
// and a candidate column into global indices.
extern "C" __global__ void tk_set_sample(const float* dist, int cols, const int* cand_class,
                                         const int* anchor_class, const int* pair_anchor,
                                         const int* pair_positive, int first_pair, int pairs,
                                         int strategy, float margin, unsigned long long seed,
                                         unsigned long long anchor_base,
                                         unsigned long long cand_base, unsigned long long bound,
                                         int capacity, unsigned long long* found,
                                         unsigned long long* out_key, int* out_pair,
                                         int* out_negative) {
  const int t = first_pair + blockIdx.x;
  if (t >= first_pair + pairs) return;  // the whole block: a block is one pair
  const int i = pair_anchor[t], p = pair_positive[t], cls = anchor_class[i];
  const float* row = dist + (size_t)i * cols;
  const float dp = row[p];
  const unsigned long long pair =
      tk_step(tk_step(tk_step(seed) ^ (anchor_base + i)) ^ (cand_base + p));
  for (int j = threadIdx.x; j < cols; j += blockDim.x) {
    if (cand_class[j] == cls || !tk_keeps(strategy, row[j] - dp, margin)) continue;
    const unsigned long long key = tk_step(pair ^ (cand_base + j));
    if (key > bound) continue;
    const unsigned long long slot = atomicAdd(found, 1ull);
    if (slot < (unsigned long long)capacity) {
      out_key[slot] = key;
      out_pair[slot] = t;
      out_negative[slot] = j;
    }
  }
}
