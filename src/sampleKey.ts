/**
 * The key of a triplet in sampled set mining (docs/SEMANTICS.md, "Sampled mining"): SplitMix64
 * chained over (seed, a, p, n), in global indices, as the native core computes it. A sample
 * keeps the `count` triplets of smallest (key, a, p, n); this module holds the key and the
 * bounded heap the 'js' device and the merge of samples share.
 */

const M64 = (1n << 64n) - 1n
const GAMMA = 0x9e3779b97f4a7c15n

function mix(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64
  return z ^ (z >> 31n)
}

/** One SplitMix64 step from state `x`. */
function step(x: bigint): bigint {
  return mix((x + GAMMA) & M64)
}

/** `offset + i` as the key reads a global index: exact, in unsigned 64-bit arithmetic. */
export function globalIndex(offset: number, i: number): bigint {
  return (BigInt(offset) + BigInt(i)) & M64
}

/** h(seed, a, p, ·): the part of the key every negative of (a, p) shares. */
export function pairKey(seed: number, a: bigint, p: bigint): bigint {
  return step(step(step(BigInt(seed)) ^ a) ^ p)
}

/** h(seed, a, p, n) from `pairKey(seed, a, p)`. */
export function tripletKey(pair: bigint, n: bigint): bigint {
  return step(pair ^ n)
}

/** A triplet and its key. */
export interface Keyed {
  readonly key: bigint
  readonly a: number
  readonly p: number
  readonly n: number
}

/** Whether x sorts after y by (key, a, p, n). */
function after(x: Keyed, y: Keyed): boolean {
  if (x.key !== y.key) return x.key > y.key
  if (x.a !== y.a) return x.a > y.a
  if (x.p !== y.p) return x.p > y.p
  return x.n > y.n
}

/**
 * The `count` smallest triplets by (key, a, p, n) offered so far: a max-heap of at most `count`,
 * so memory is O(count) whatever is offered.
 */
export class SmallestKeys {
  private readonly heap: Keyed[] = []

  constructor(private readonly count: number) {}

  /** Whether a triplet of this key could still be kept (a cheap test before building it). */
  admits(key: bigint): boolean {
    return this.count > 0 && (this.heap.length < this.count || key <= this.heap[0].key)
  }

  offer(t: Keyed): void {
    const h = this.heap
    if (h.length < this.count) {
      h.push(t)
      let i = h.length - 1
      while (i > 0) {
        const up = (i - 1) >> 1
        if (!after(h[i], h[up])) break
        ;[h[i], h[up]] = [h[up], h[i]]
        i = up
      }
    } else if (this.count > 0 && after(h[0], t)) {
      h[0] = t
      for (let i = 0; ;) {
        const [l, r] = [2 * i + 1, 2 * i + 2]
        let top = i
        if (l < h.length && after(h[l], h[top])) top = l
        if (r < h.length && after(h[r], h[top])) top = r
        if (top === i) break
        ;[h[i], h[top]] = [h[top], h[i]]
        i = top
      }
    }
  }

  /** The kept triplets in the set strategies' order: ascending (a, p, n). */
  sorted(): Keyed[] {
    return [...this.heap].sort((x, y) => x.a - y.a || x.p - y.p || x.n - y.n)
  }
}
